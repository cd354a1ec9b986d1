"""Trains the two PyTorch Fashion-MNIST nets of the ONNX/residual conversion benchmark and exports them.

- resnet: conv3x3(16)+BN+ReLU stem, three residual blocks (16 -> 16, 16 -> 32 stride 2, 32 -> 64
  stride 2; 3x3 convs with BN, 1x1 conv + BN shortcuts when the shape changes), global average
  pooling, Linear(64, 10);
- vgg: [conv3x3(16)+BN+ReLU] x2, max pool 2, [conv3x3(32)+BN+ReLU] x2, max pool 2, Linear(1568, 128),
  ReLU, Dropout, Linear(128, 10).
Every ReLU is its own nn.ReLU module (SpikingJelly's converter replaces ReLU modules, not calls).
Writes into WORK/<net>/: state_dict.pt, torchscript.onnx (dynamo=False, opset 17),
dynamo.onnx + dynamo.onnx.data (dynamo=True, opset 18), pytorch.json (test accuracy) and
predictions.npy (PyTorch's class for each of the 10,000 test images).
    python train_export.py WORK [--epochs 3] [--threads 2]
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

DATA = os.environ.get("FMNIST", "/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530


def load(split):
    pre = "train" if split == "train" else "t10k"
    with gzip.open(os.path.join(DATA, f"{pre}-images-idx3-ubyte.gz"), "rb") as f:
        _, n, h, w = struct.unpack(">IIII", f.read(16))
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, 1, h, w)
    with gzip.open(os.path.join(DATA, f"{pre}-labels-idx1-ubyte.gz"), "rb") as f:
        f.read(8)
        y = np.frombuffer(f.read(), dtype=np.uint8)
    # float32 throughout, as neuromorph computes (byte * (1/255) - mean) / std
    x = ((x.astype(np.float32) * np.float32(1 / 255) - np.float32(MEAN)) / np.float32(STD)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.r1 = nn.ReLU()
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.r2 = nn.ReLU()

    def forward(self, x):
        return self.r2(self.b2(self.c2(self.r1(self.b1(self.c1(x))))) + self.short(x))


def resnet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def vgg():
    def cbr(i, o):
        return [nn.Conv2d(i, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(*cbr(1, 16), *cbr(16, 16), nn.MaxPool2d(2), *cbr(16, 32), *cbr(32, 32), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nets", default="resnet,vgg")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    xtr, ytr = load("train")
    xte, yte = load("test")
    for name in a.nets.split(","):
        torch.manual_seed(1)
        net = {"resnet": resnet, "vgg": vgg}[name]()
        out = os.path.join(a.work, name)
        os.makedirs(out, exist_ok=True)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=a.epochs * ((len(xtr) + 127) // 128))
        t0 = time.perf_counter()
        for ep in range(a.epochs):
            net.train()
            perm = torch.randperm(len(xtr))
            for s in range(0, len(xtr), 128):
                idx = perm[s:s + 128]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(net(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
                sched.step()
            print(f"{name}: epoch {ep + 1} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(xte[s:s + 500]).argmax(1) for s in range(0, len(xte), 500)])
        acc = (pred == yte).float().mean().item()
        np.save(os.path.join(out, "predictions.npy"), pred.numpy().astype(np.int32))
        torch.save(net.state_dict(), os.path.join(out, "state_dict.pt"))
        x = xte[:2]
        for exporter, dynamo, opset in (("torchscript", False, 17), ("dynamo", True, 18)):
            path = os.path.join(out, f"{exporter}.onnx")
            for stale in (path, path + ".data"):
                if os.path.exists(stale):
                    os.remove(stale)
            kw = dict(input_names=["input"], output_names=["logits"], opset_version=opset, dynamo=dynamo)
            if dynamo:
                kw["external_data"] = True
                kw["dynamic_shapes"] = {"input": {0: torch.export.Dim("batch")}}
            else:
                kw["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
            torch.onnx.export(net, (x,), path, **kw)
        json.dump({"net": name, "test_accuracy": acc, "epochs": a.epochs, "train_seconds": time.perf_counter() - t0,
                   "parameters": sum(p.numel() for p in net.parameters()), "torch": torch.__version__},
                  open(os.path.join(out, "pytorch.json"), "w"), indent=1)
        print(f"{name}: test accuracy {100 * acc:.2f}%", file=sys.stderr)


if __name__ == "__main__":
    main()
