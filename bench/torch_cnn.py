#!/usr/bin/python3
"""PyTorch's CNN figures on this machine, for bench/cnn_vs_torch.sh.

lenet:    one epoch of the CIFAR-10 notebook's LeNet (Adam lr 1e-3, batch 64, Normalize 0.5/0.5)
          on the real binary files, training-loop seconds (data in memory as tensors).
resnet18: training images/s of ResNet-18 (torchvision topology, SGD momentum 0.9, batch 32)
          at a given image size on random inputs: pure compute, after 2 warm-up steps; and
          memory as bench/model_speed.cpp measures it: the peak resident set (VmHWM) minus the
          resident set before the model is built (torch imported), so the interpreter and
          torch's libraries count on neither side.
gemm:     GFLOP/s of torch.mm on n x n float32 matrices into a preallocated output (out=), the
          best of --steps calls after one warm-up, as bench/gemm_speed.cpp.
Prints one JSON line. Run with Debian's python3-torch and libopenblas0-openmp installed.
"""
import argparse, json, os, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F



sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))


def lenet():
    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def status_bytes(field):  # a field of /proc/self/status (VmRSS, VmHWM), in bytes
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cifar_train(d):
    raw = b"".join(open(os.path.join(d, f"data_batch_{i}.bin"), "rb").read() for i in range(1, 6))
    a = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
    x = torch.from_numpy(a[:, 1:].astype(np.float32).reshape(-1, 3, 32, 32) / 255.0)
    return (x - 0.5) / 0.5, torch.from_numpy(a[:, 0].astype(np.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["lenet", "resnet18", "gemm"])
    ap.add_argument("--size", type=int, default=1024, help="gemm: n of the n x n matrices")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--cifar", default=os.path.join(os.environ.get("NNLAB_DATA", os.path.expanduser("~/.cache/nnlab")), "cifar10"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.what == "lenet":
        x, y = cifar_train(a.cifar)
        model = lenet()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        perm = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(json.dumps({"framework": f"pytorch {torch.__version__}", "what": "lenet epoch",
                          "seconds": round(time.perf_counter() - start, 3)}))
        return
    if a.what == "gemm":
        x, w, out = torch.randn(a.size, a.size), torch.randn(a.size, a.size), torch.empty(a.size, a.size)
        torch.mm(x, w, out=out)
        best = float("inf")
        for _ in range(a.steps):
            start = time.perf_counter()
            torch.mm(x, w, out=out)
            best = min(best, time.perf_counter() - start)
        print(json.dumps({"framework": f"pytorch {torch.__version__}", "what": f"gemm {a.size}",
                          "gflops": round(2 * a.size ** 3 / best / 1e9, 1)}))
        return
    from torch_parity import resnet18  # the same topology nnlab's parity test checks
    rss_before = status_bytes("VmRSS")
    model = resnet18()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(32, 3, a.image_size, a.image_size)
    y = torch.randint(0, 10, (32,))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    step(); step()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        step()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "what": f"resnet18 {a.image_size}",
                      "images_per_second": round(32 * a.steps / seconds, 1), "cpu_seconds": round(cpu, 3),
                      "memory_bytes": status_bytes("VmHWM") - rss_before}))


if __name__ == "__main__":
    main()
