"""PyTorch peer: trains the same MLP/CNN as neuromorph (Adam 1e-3, batch 64, shuffled each epoch) and
prints JSON lines with per-epoch training samples/s, inference images/s and test accuracy.
Usage: python torch_train.py {mlp|cnn} EPOCHS THREADS [SEED] [--save DIR] [--limit-train N]"""
import json
import resource
import sys
import time

import torch
from torch import nn

import nm_torch


def main():
    kind, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 and not sys.argv[4].startswith("--") else 1
    save = sys.argv[sys.argv.index("--save") + 1] if "--save" in sys.argv else None
    limit = int(sys.argv[sys.argv.index("--limit-train") + 1]) if "--limit-train" in sys.argv else None
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    xtr, ytr = nm_torch.load_split("train", limit=limit)
    xte, yte = nm_torch.load_split("test")
    spec = nm_torch.spec_from_yaml_like(kind)
    model = nm_torch.build(spec)
    for m in model.modules():  # He normal, zero bias: the same initialisation family as neuromorph's configs
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        tot, correct = 0.0, 0
        for b in range(0, n, 64):
            idx = perm[b:b + 64]
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = lossf(out, y)
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
            correct += (out.argmax(1) == y).sum().item()
        train_s = time.perf_counter() - t0
        model.eval()
        t1 = time.perf_counter()
        pred = []
        with torch.inference_mode():
            for b in range(0, xte.shape[0], 1000):
                pred.append(model(xte[b:b + 1000]).argmax(1))
        inf_s = time.perf_counter() - t1
        acc = (torch.cat(pred) == yte).float().mean().item()
        print(json.dumps({"framework": "pytorch", "net": kind, "epoch": epoch + 1, "train_loss": tot / n,
                          "train_accuracy": correct / n, "test_accuracy": acc, "samples_per_second": n / train_s,
                          "inference_images_per_second": xte.shape[0] / inf_s, "train_seconds": train_s,
                          "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
    if save:
        nm_torch.save_model_dir(model, spec, save)


if __name__ == "__main__":
    main()
