#!/usr/bin/python3
"""Defines LeNet-5 in PyTorch, exactly as dagrad's built-in `lenet5` (models/models.cpp),
and exports it with torch.onnx.export (opset 13, symbolic batch) to the file the tests
import (tests/frontend/onnx/data/lenet5_pytorch.onnx). Its parameters keep PyTorch's
names (conv1.weight, ..., fc3.bias), which are dagrad's too.

    apt-get install -y python3-torch && /usr/bin/python3 scripts/export_pytorch_lenet5.py [OUT]
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/frontend/onnx/data/lenet5_pytorch.onnx"
    torch.manual_seed(0)
    model = LeNet5().eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), out, opset_version=13,
                      input_names=["images"], output_names=["log_probs"],
                      dynamic_axes={"images": {0: "batch"}, "log_probs": {0: "batch"}},
                      do_constant_folding=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
