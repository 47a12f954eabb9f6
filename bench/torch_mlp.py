#!/usr/bin/python3
"""PyTorch's time and accuracy on the compare_devices default recipe, for the same machine.

MLP 784-128-10, ReLU, LogSoftmax + NLL, SGD lr 0.01 (or Adam), batch 64, ToTensor() scaling only (Normalize by flags),
real MNIST read from the same IDX files nnlab uses. Prints one JSON line per epoch with the
training-loop seconds (data already in memory as tensors, as nnlab's loader holds it).
Run with Debian's python3-torch (/usr/bin/python3) and libopenblas0-openmp installed.
"""
import argparse, gzip, json, os, struct, time
import torch, torch.nn as nn, torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find(d, stem, rank):
    for sep in "-.":
        for ext in ("", ".gz"):
            p = os.path.join(d, f"{stem}{sep}idx{rank}-ubyte{ext}")
            if os.path.exists(p):
                return p
    raise SystemExit(f"{d}: no {stem} file")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.environ.get("NNLAB_DATA", os.path.expanduser("~/.cache/nnlab")), "mnist"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--norm-mean", type=float, default=0.0)
    ap.add_argument("--norm-std", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    load = lambda split: ((read_idx(find(a.data, f"{split}-images", 3)).float() / 255 - a.norm_mean) / a.norm_std,
                          read_idx(find(a.data, f"{split}-labels", 1)).long())
    (xtr, ytr), (xte, yte) = load("train"), load("t10k")
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.LogSoftmax(dim=1))
    opt = (torch.optim.SGD(model.parameters(), lr=a.lr) if a.optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=a.lr))
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(len(xtr))
        start, total, batches = time.perf_counter(), 0.0, 0
        for i in range(0, len(xtr), 64):
            idx = perm[i:i + 64]
            loss = F.nll_loss(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        seconds = time.perf_counter() - start
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": a.threads, "epoch": epoch,
                          "train_loss": round(total / batches, 4), "test_accuracy": round(acc, 4),
                          "train_seconds": round(seconds, 3)}), flush=True)


if __name__ == "__main__":
    main()
