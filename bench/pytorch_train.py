#!/usr/bin/env python3
"""Trains the PyTorch twin of a dagrad model (bench/torch_models.py) with dagrad's recipe
on the same IDX files, printing the test accuracy after every epoch, to measure PyTorch
beside `dagrad train` (the accuracy bars of issue 18 compare the two).

  /usr/bin/python3 bench/pytorch_train.py --model mnist-vit --data data/mnist --epochs 10
  /usr/bin/python3 bench/pytorch_train.py --model mnist-vit --data data/fashion --epochs 3

Inputs are normalised as dagrad does (mnist: 0.1307/0.3081, fashion: 0.2860/0.3530, chosen
by the directory's name), batch 64, shuffled every epoch (PyTorch's own generator, so the
order differs from dagrad's), evaluated in batches of 1000. PyTorch is needed only here
(apt-get install python3-torch); the project's build and tests never use it.
"""
import argparse
import gzip
import os
import struct
import time

import torch
import torch.nn.functional as F

from torch_models import MODELS, recipe

NORMS = {"mnist": (0.1307, 0.3081), "fashion": (0.2860, 0.3530)}


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = [struct.unpack(">I", data[4 + 4 * i:8 + 4 * i])[0] for i in range(magic & 0xFF)]
    return torch.frombuffer(bytearray(data[4 + 4 * len(dims):]), dtype=torch.uint8).reshape(dims)


def load(directory, split, norm):
    images = read_idx(os.path.join(directory, f"{split}-images-idx3-ubyte")).float().div_(255)
    labels = read_idx(os.path.join(directory, f"{split}-labels-idx1-ubyte")).long()
    mean, std = norm
    return images.sub_(mean).div_(std).unsqueeze(1), labels


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist-vit", choices=sorted(MODELS))
    p.add_argument("--data", default="data/mnist", help="directory of MNIST-format IDX files")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    norm = NORMS["fashion" if "fashion" in os.path.basename(os.path.normpath(args.data)) else "mnist"]
    x_train, y_train = load(args.data, "train", norm)
    x_test, y_test = load(args.data, "t10k", norm)
    model = MODELS[args.model]()
    steps = (len(y_train) + args.batch - 1) // args.batch
    opt, sched = recipe(args.model, model, steps, args.epochs)
    print(f"{args.model} in PyTorch {torch.__version__}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(y_train)} train / {len(y_test)} test images, batch {args.batch}, {args.threads} threads", flush=True)
    for epoch in range(args.epochs):
        model.train()
        t0, total = time.perf_counter(), 0.0
        order = torch.randperm(len(y_train))
        for i in range(steps):
            idx = order[i * args.batch:(i + 1) * args.batch]
            opt.zero_grad()
            loss = F.nll_loss(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            total += loss.item() * len(idx)
        seconds = time.perf_counter() - t0
        model.eval()
        correct, test_loss = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(y_test), 1000):
                out = model(x_test[i:i + 1000])
                test_loss += F.nll_loss(out, y_test[i:i + 1000], reduction="sum").item()
                correct += (out.argmax(1) == y_test[i:i + 1000]).sum().item()
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {total / len(y_train):.4f}, test loss "
              f"{test_loss / len(y_test):.4f}, test accuracy {100 * correct / len(y_test):.2f}% "
              f"({correct}/{len(y_test)}), {seconds:.1f} s, {len(y_train) / seconds:.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
