#!/usr/bin/python3
"""Reference results from PyTorch for tests/test_torch.cpp, written as one safetensors file.

For LeNet (2x3x32x32, float32) and ResNet-18 (2x3x64x64, float64), built with module names
identical to nnlab's so that state-dict keys match: the initial parameters and buffers, an input and labels, and
after one training-mode forward and cross-entropy backward the logits, the loss, every
parameter gradient and the updated running statistics. For single ops: inputs, random output
weights R, the output, and the input gradients of sum(output * R).
usage: torch_parity.py OUTPUT.safetensors
"""
import json, struct, sys
import torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
tensors = {}


def put(name, t):
    tensors[name] = t.detach().clone().contiguous().cpu()  # a copy: buffers change in place later


class GlobalAvgPool(nn.Module):  # nnlab's GlobalAvgPool2d: AdaptiveAvgPool2d((1, 1)) + flatten
    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class BasicBlock(nn.Module):  # torchvision's, with nnlab's attribute names
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


def resnet18():
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width in (64, 128, 256, 512):
        layers.append(nn.Sequential(BasicBlock(cin, width, 1 if width == 64 else 2), BasicBlock(width, width, 1)))
        cin = width
    return nn.Sequential(*layers, GlobalAvgPool(), nn.Linear(512, 10))


def lenet():
    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def main():
    # ResNet-18 in float64: with this input one pre-activation of the last ReLU lies 6e-6 from 0,
    # within the float32 rounding of 17 layers, so whether its gradient passes depends on each
    # implementation's order of summation (nnlab's packed GEMM, closer to the exact sums than
    # Eigen's, lands on the other side of PyTorch). float64 rounds nine orders of magnitude finer.
    for case, model, shape, dtype in (("lenet", lenet(), (2, 3, 32, 32), torch.float32),
                                      ("resnet18", resnet18(), (2, 3, 64, 64), torch.float64)):
        model = model.to(dtype)
        for name, p in model.named_parameters():
            put(f"{case}/param/{name}", p)
        for name, b in model.named_buffers():
            if not name.endswith("num_batches_tracked"):
                put(f"{case}/buffer/{name}", b)
        x, labels = torch.randn(shape).to(dtype), torch.randint(0, 10, (shape[0],), dtype=torch.int32)
        model.train()
        out = model(x)
        loss = F.cross_entropy(out, labels.long())
        loss.backward()
        put(f"{case}/input", x)
        put(f"{case}/labels", labels)
        put(f"{case}/output", out)
        put(f"{case}/loss", loss.reshape(1))
        for name, p in model.named_parameters():
            put(f"{case}/grad/{name}", p.grad)
        for name, b in model.named_buffers():
            if not name.endswith("num_batches_tracked"):
                put(f"{case}/buffer_after/{name}", b)

    ops = {
        "conv2d_dilated": ([(2, 3, 9, 9), (4, 3, 3, 3), (4,)], lambda x, w, b: F.conv2d(x, w, b, 1, 2, 2)),
        "conv2d_stride2_odd": ([(2, 2, 7, 5), (3, 2, 3, 3), (3,)], lambda x, w, b: F.conv2d(x, w, b, 2, 1)),
        "max_pool2d_k3s2p1": ([(2, 3, 7, 5)], lambda x: F.max_pool2d(x, 3, 2, 1)),
        "avg_pool2d_k3s1p1": ([(2, 3, 5, 4)], lambda x: F.avg_pool2d(x, 3, 1, 1)),
        "batch_norm2d_train": ([(3, 4, 3, 2), (4,), (4,)],
                               lambda x, w, b: F.batch_norm(x, torch.zeros(4), torch.ones(4), w, b, True, 0.1, 1e-5)),
        "log_softmax": ([(4, 7)], lambda x: F.log_softmax(x, 1)),
        "linear": ([(4, 6), (3, 6), (3,)], lambda x, w, b: F.linear(x, w, b)),
    }
    for name, (shapes, fn) in ops.items():
        inputs = [torch.randn(s, requires_grad=True) for s in shapes]
        out = fn(*inputs)
        weights = torch.rand(out.shape) + 0.5
        (out * weights).sum().backward()
        put(f"op/{name}/weights", weights)
        put(f"op/{name}/output", out)
        for i, t in enumerate(inputs):
            put(f"op/{name}/in/{i}", t)
            put(f"op/{name}/grad/{i}", t.grad)

    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.numpy().tobytes()
        dtype = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    print(f"torch_parity: {len(tensors)} tensors from PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
