"""Small ONNX fixtures for neuromorph's importer tests (Tests/ONNXTests/Fixtures), made with PyTorch.

Two small networks with seeded random weights and non-trivial BatchNorm statistics, each exported
with BOTH PyTorch exporters (TorchScript: dynamo=False, opset 17; torch.export: dynamo=True, opset 18,
weights in MODEL.onnx.data),
plus 16 Fashion-MNIST test images (normalized as the network expects) and PyTorch's eval-mode logits:
- resnet: conv3x3+BN+ReLU stem, an identity residual block, a strided downsampling block (1x1 conv +
  BN shortcut), x.mean((2, 3)) (ReduceMean), Linear (Gemm);
- vgg: conv3x3(pad 1)+BN+ReLU6 (Clip), max pool, conv3x3+ReLU, average pool, AdaptiveAvgPool2d(1)
  (GlobalAveragePool), Flatten, Dropout, Linear, ReLU, x @ W + b (MatMul + Add).
Run (from the repository root; needs the venv below, torch CPU):
    python3 -m venv experiments/onnx-models/.venv
    experiments/onnx-models/.venv/bin/pip install "torch==2.13.0+cpu" numpy onnx onnxscript
    experiments/onnx-models/.venv/bin/python experiments/onnx-models/make_fixtures.py
"""
import gzip
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ONNXTests", "Fixtures")
DATA = os.environ.get("FMNIST", "/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + self.short(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.l1 = Block(8, 8, 1)
        self.l2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.l2(self.l1(self.stem(x)))
        return self.fc(x.mean((2, 3)))


class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU6(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(16, 24, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Dropout(0.3), nn.Linear(24, 32), nn.ReLU())
        self.w = nn.Parameter(torch.randn(32, 10) * 0.3)
        self.b = nn.Parameter(torch.randn(10) * 0.1)

    def forward(self, x):
        return self.features(x) @ self.w + self.b


def randomize_bn(model, g):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=g)
            m.bias.data = 0.2 * torch.randn(n, generator=g)
            m.running_mean.data = 0.2 * torch.randn(n, generator=g)
            m.running_var.data = 0.5 + torch.rand(n, generator=g)


def test_images(n):
    path = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        _, count, h, w = struct.unpack(">IIII", f.read(16))
        u = np.frombuffer(f.read(n * h * w), dtype=np.uint8).reshape(n, 1, h, w)
    return ((u.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)


def main():
    torch.manual_seed(12)
    g = torch.Generator().manual_seed(12)
    os.makedirs(OUT, exist_ok=True)
    x = torch.from_numpy(test_images(16))
    np.save(os.path.join(OUT, "images.npy"), x.numpy())
    for name, model in (("resnet", ResNet()), ("vgg", VGG())):
        randomize_bn(model, g)
        model.eval()
        with torch.no_grad():
            logits = model(x).numpy().astype(np.float32)
        np.save(os.path.join(OUT, f"{name}-logits.npy"), logits)
        for exporter, dynamo, opset in (("torchscript", False, 17), ("dynamo", True, 18)):
            path = os.path.join(OUT, f"{name}-{exporter}.onnx")
            for stale in (path, path + ".data"):
                if os.path.exists(stale):
                    os.remove(stale)
            kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=opset, dynamo=dynamo)
            if dynamo:
                # the torch.export exporter's default for weights: MODEL.onnx.data beside the model
                kwargs["external_data"] = True
                kwargs["dynamic_shapes"] = {"x": {0: torch.export.Dim("batch")}}
            else:
                # the resnet keeps its BatchNormalization nodes (no constant folding), the vgg has them
                # folded into the convolutions (the exporter's default)
                kwargs["do_constant_folding"] = name != "resnet"
                kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
            torch.onnx.export(model, (x[:2],), path, **kwargs)
            strip_source_locations(path)
            sizes = [os.path.getsize(p) for p in (path, path + ".data") if os.path.exists(p)]
            print(f"{path}: {sizes} bytes", file=sys.stderr)


def strip_source_locations(path):
    """Drops the node metadata and doc strings the exporters write (the torch.export one records a Python
    stack trace per node, with this machine's absolute paths), keeping graph and weights byte for byte
    (external data stays where it is)."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    def strip(g):
        for n in g.node:
            del n.metadata_props[:]
            n.doc_string = ""
            for a in n.attribute:
                if a.HasField("g"):
                    strip(a.g)
                for sg in a.graphs:
                    strip(sg)
    strip(m.graph)
    del m.metadata_props[:]
    onnx.save(m, path)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--strip":   # make_fixtures.py --strip FILE.onnx ...: clean committed fixtures
        for f in sys.argv[2:]:
            strip_source_locations(f)
        sys.exit(0)
    main()
