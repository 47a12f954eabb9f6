#!/usr/bin/python3
"""Trains nnlab's MNIST MLP in PyTorch (784-128-10: Flatten, Linear, ReLU, Linear, LogSoftmax,
so that state-dict names match nnlab's models::make_mlp: "1.weight", "1.bias", "3.weight",
"3.bias") for one epoch, prints its test accuracy, and writes to one safetensors file its
weights, its log-probabilities for the 10,000 test images and, as metadata, its test accuracy:
what torch_weights.cpp loads and compares.
usage: torch_train_mlp.py OUTPUT.safetensors
MNIST comes from where nnlab looks: $NNLAB_DATA/mnist or ~/.cache/nnlab/mnist (scripts/setup).
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402


def read_idx(directory, stem, rank):
    """An IDX file of unsigned bytes under either spelling, raw or gzip-compressed."""
    for name in (f"{stem}-idx{rank}-ubyte", f"{stem}.idx{rank}-ubyte"):
        for suffix, opener in (("", open), (".gz", gzip.open)):
            path = os.path.join(directory, name + suffix)
            if os.path.exists(path):
                with opener(path, "rb") as f:
                    data = f.read()
                dims = np.frombuffer(data, ">u4", rank, 4)
                return torch.from_numpy(np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(dims).copy())
    sys.exit(f"torch_train_mlp.py: no {stem} file in {directory} (run scripts/setup)")


def images(directory, split):  # pixels / 255, as nnlab's DataLoader without normalisation
    return read_idx(directory, f"{split}-images", 3).float().div(255).unsqueeze(1)


def main():
    directory = os.path.join(os.environ.get("NNLAB_DATA") or os.path.expanduser("~/.cache/nnlab"), "mnist")
    train_x, train_y = images(directory, "train"), read_idx(directory, "train-labels", 1).long()
    test_x, test_y = images(directory, "t10k"), read_idx(directory, "t10k-labels", 1).long()

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.LogSoftmax(dim=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for batch in torch.randperm(len(train_x)).split(64):
        loss = F.nll_loss(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        log_probs = model(test_x)
    accuracy = (log_probs.argmax(1) == test_y).double().mean().item()
    tensors = dict(model.state_dict())
    tensors["test_log_probs"] = log_probs
    write_safetensors(sys.argv[1], tensors, {"test_accuracy": repr(accuracy), "torch": torch.__version__})
    print(f"PyTorch {torch.__version__}: MLP 784-128-10, one epoch of Adam: test accuracy {100 * accuracy:.2f}%")


if __name__ == "__main__":
    main()
