"""The PyTorch twins of dagrad's model zoo (models/models.cpp), built from torch.nn with the
same layers, parameter names and initialisation, for bench/pytorch_compare.py and
bench/pytorch_train.py. Imported only by those scripts (PyTorch: apt-get install
python3-torch)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistCnn(nn.Module):
    """pytorch/examples mnist/main.py, dagrad's mnist-cnn."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class MnistVit(nn.Module):
    """dagrad's mnist-vit (models::mnist_vit): 7x7 patches embedded by a strided
    convolution, a learned position embedding N(0, 0.02^2), two post-norm encoder layers
    of width 64 with 4 heads, GELU feed-forward of 128, no dropout (dagrad's fused
    attention has none on the probabilities either), a final layer norm, mean over the
    tokens, a linear head."""

    def __init__(self, width=64, heads=4, layers=2, mlp=128, dropout=0.0, patch=7, norm_first=False):
        super().__init__()
        tokens = (28 // patch) ** 2
        self.patch_embed = nn.Conv2d(1, width, patch, patch)
        self.pos_embedding = nn.Parameter(torch.randn(1, tokens, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, mlp, dropout, activation="gelu", batch_first=True,
                                           norm_first=norm_first)
        layer.self_attn.dropout = 0.0
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embedding
        x = self.norm(self.encoder(x)).mean(1)
        return F.log_softmax(self.head(x), dim=1)


MODELS = {"mnist-cnn": MnistCnn, "mnist-vit": MnistVit}


def recipe(name, model, steps_per_epoch, epochs):
    """The optimizer and per-step learning-rate schedule of dagrad's recipe for the model
    (models::default_recipe): SGD lr 0.01 momentum 0.9 constant, or AdamW lr 5e-3 weight
    decay 0.1 with OneCycleLR (cosine, no momentum cycling, as dagrad's onecycle)."""
    if name == "mnist-vit":
        opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.1)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps_per_epoch * epochs,
                                                    cycle_momentum=False)
        return opt, sched
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), None
