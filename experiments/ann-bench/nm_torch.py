"""Shared helpers: read IDX (gzip) data, rebuild a neuromorph model.json as torch.nn.Sequential,
and write a torch model in neuromorph's model folder format (model.json + model.safetensors)."""
import gzip
import json
import os
import struct

import numpy as np
import torch
from torch import nn

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    rank = magic & 0xFF
    shape = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def load_split(split, folder=FMNIST, mean=0.2860, std=0.3530, limit=None):
    stem = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(folder, f"{stem}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(folder, f"{stem}-labels-idx1-ubyte.gz"))
    if limit:
        x, y = x[:limit], y[:limit]
    x = ((x.astype(np.float32) * np.float32(1 / 255) - np.float32(mean)) / np.float32(std)).reshape(-1, 1, 28, 28)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


def build(spec):
    """model.json -> nn.Sequential with the same indices (so state-dict keys match)."""
    layers = []
    for l in spec["layers"]:
        t = l["type"]
        if t == "dense":
            layers.append(nn.Linear(l["in_features"], l["out_features"], bias=l.get("bias", True)))
        elif t == "conv2d":
            layers.append(nn.Conv2d(l["in_channels"], l["out_channels"], pair(l["kernel_size"]), stride=pair(l["stride"]),
                                    padding=pair(l["padding"]), bias=l.get("bias", True)))
        elif t == "avgpool2d":
            layers.append(nn.AvgPool2d(pair(l["kernel_size"]), stride=pair(l["stride"])))
        elif t == "maxpool2d":
            layers.append(nn.MaxPool2d(pair(l["kernel_size"]), stride=pair(l["stride"])))
        elif t == "relu":
            layers.append(nn.ReLU())
        elif t == "flatten":
            layers.append(nn.Flatten())
        elif t in ("batchnorm1d", "batchnorm2d"):
            cls = nn.BatchNorm1d if t == "batchnorm1d" else nn.BatchNorm2d
            layers.append(cls(l["num_features"], eps=l["eps"], momentum=l["momentum"]))
        elif t == "dropout":
            layers.append(nn.Dropout(l["p"]))
        else:
            raise ValueError(f"unknown layer type {t}")
    return nn.Sequential(*layers)


def spec_from_yaml_like(kind):
    """The benchmark architectures (same as configs/fmnist-mlp.yaml and configs/fmnist-cnn.yaml)."""
    if kind == "mlp":
        layers = [{"type": "flatten"}, {"type": "dense", "in_features": 784, "out_features": 512, "bias": True}, {"type": "relu"},
                  {"type": "dense", "in_features": 512, "out_features": 256, "bias": True}, {"type": "relu"},
                  {"type": "dense", "in_features": 256, "out_features": 10, "bias": True}]
    else:
        conv = lambda i, o: {"type": "conv2d", "in_channels": i, "out_channels": o, "kernel_size": [5, 5], "stride": [1, 1],
                             "padding": [0, 0], "bias": True}
        pool = {"type": "avgpool2d", "kernel_size": [2, 2], "stride": [2, 2]}
        layers = [conv(1, 16), {"type": "relu"}, pool, conv(16, 32), {"type": "relu"}, pool, {"type": "flatten"},
                  {"type": "dense", "in_features": 512, "out_features": 128, "bias": True}, {"type": "relu"},
                  {"type": "dense", "in_features": 128, "out_features": 10, "bias": True}]
    return {"format": "neuromorph.sequential", "version": 1, "input_shape": [1, 28, 28], "layers": layers,
            "normalization": {"scale": 1 / 255, "mean": 0.2860, "std": 0.3530}, "classes": 10}


def save_model_dir(model, spec, out):
    from safetensors.torch import save_file
    os.makedirs(out, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(spec, f, indent=2)


def load_model_dir(path):
    from safetensors.torch import load_file
    with open(os.path.join(path, "model.json")) as f:
        spec = json.load(f)
    model = build(spec)
    model.load_state_dict(load_file(os.path.join(path, "model.safetensors")), strict=True)
    model.eval()
    return model, spec
