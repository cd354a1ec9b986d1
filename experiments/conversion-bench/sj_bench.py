"""SpikingJelly side of the conversion benchmark.

Loads a neuromorph model folder into PyTorch (experiments/ann-bench/nm_torch.py, imported by path),
checks its ANN test accuracy, converts it with spikingjelly.activation_based.ann2snn (RateCodingRecipe,
layer-wise 99.9%) on the first N training images, and runs the converted net for T_max steps per
batch, feeding the normalized image at every step and summing the output (SpikingJelly's own
evaluation loop, examples/cnn_mnist.py), with accuracy at every checkpoint T from that one run.

  python sj_bench.py accuracy MODEL_DIR --calibration N [--limit L] --out acc.json
      ANN accuracy, SNN accuracy per T, spikes and SOPs per image per T (hooks on the IF neurons).
  python sj_bench.py timing MODEL_DIR --calibration N --batch B [--limit L] --out t.json
      images/s of the bare evaluation loop (no hooks), and the wall time to reach every checkpoint T.

SOP counting (per-spike, event-driven accounting): every spike of an IF layer is delivered on its own
through the stateless layers that follow it up to and including the next weighted layer:
avg pooling costs 1 operation per spike that lies in a pooling window; a Conv2d costs, per spike at
input position p, the number of (output position, output channel) pairs whose receptive field holds
p; a Linear costs out_features. The fan-out maps are computed exactly as the gradient of
sum(layer_with_all_ones_weights(x)) with respect to x (= the transposed op applied to ones), and a
spike count map is carried through avg pooling as window sums (avgpool * k^2), i.e. a pooled input
that gathers 3 spikes counts 3 deliveries into the next conv. The first layer is fed the analog
image, so its work is MACs, not SOPs (as neuromorph's analog input). Sanity check: sum of every
fan-out map over its input = that layer's MACs.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ann-bench"))
import nm_torch  # noqa: E402  (reused, not copied)

from spikingjelly.activation_based import ann2snn, functional, neuron  # noqa: E402
from spikingjelly.activation_based.ann2snn.modules import VoltageScaler  # noqa: E402


def load_data(spec, calibration, limit):
    norm = spec.get("normalization", {})
    mean, std = norm.get("mean", 0.2860), norm.get("std", 0.3530)
    xcal, ycal = nm_torch.load_split("train", mean=mean, std=std, limit=calibration)
    xte, yte = nm_torch.load_split("test", mean=mean, std=std, limit=limit)
    return xcal, ycal, xte, yte


def ann_accuracy(model, x, y, batch=500):
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            correct += (model(x[s:s + batch]).argmax(1) == y[s:s + batch]).sum().item()
    return correct / len(x)


def convert(model, xcal, ycal, cal_batch):
    # SpikingJelly's example (ann2snn/examples/cnn_mnist.py) calibrates with its training loader at
    # batch 100; the VoltageHook keeps an exponential moving average (momentum 0.1) of the per-batch
    # 99.9% quantile of the ReLU output.
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xcal, ycal), batch_size=cal_batch, shuffle=False)
    recipe = ann2snn.RateCodingRecipe(dataloader=loader, mode="99.9%")
    snn = ann2snn.Converter(recipe=recipe).convert(model)
    snn.eval()
    return snn


def chain(snn):
    """The converted graph's call_module nodes in execution order (a chain for a Sequential model)."""
    mods = dict(snn.named_modules())
    return [(n.target, mods[n.target]) for n in snn.graph.nodes if n.op == "call_module"]


def fanout_map(layer, in_shape):
    """Exact fan-out (number of synaptic operations one unit input causes) per input position."""
    with torch.enable_grad():
        return _fanout_map(layer, in_shape)


def _fanout_map(layer, in_shape):
    x = torch.ones((1,) + tuple(in_shape), requires_grad=True)
    w = layer.weight.detach().double() if hasattr(layer, "weight") else None
    x = x.double().detach().requires_grad_(True)
    if isinstance(layer, nn.Conv2d):
        y = F.conv2d(x, torch.ones_like(w), None, layer.stride, layer.padding, layer.dilation, layer.groups)
    elif isinstance(layer, nn.Linear):
        y = F.linear(x, torch.ones_like(w))
    elif isinstance(layer, nn.AvgPool2d):
        k = layer.kernel_size if isinstance(layer.kernel_size, tuple) else (layer.kernel_size,) * 2
        y = F.avg_pool2d(x, layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode, layer.count_include_pad) * (k[0] * k[1])
    else:
        raise ValueError(f"no fan-out rule for {type(layer).__name__}")
    y.sum().backward()
    return x.grad[0].detach(), int(y.numel())


class SpikeCounter:
    """Forward hooks on every IF neuron: per step, the spike map summed over the batch is added to a
    running per-position total (float64). Spikes = sum of the totals; SOPs = sum(total * G) where G is
    the composite per-position fan-out of the stateless layers after the neuron up to and including
    the next weighted layer (see module docstring). SOPs are linear in the spike map, so this equals
    delivering every spike on its own."""

    def __init__(self, snn):
        self.nodes = chain(snn)
        self.if_names = [n for n, m in self.nodes if isinstance(m, neuron.IFNode)]
        self.acc = {}
        self.downstream = {}
        self.G = {}
        self.fanout_sums = []
        for i, (name, m) in enumerate(self.nodes):
            if not isinstance(m, neuron.IFNode):
                continue
            ds = []
            for _, d in self.nodes[i + 1:]:
                ds.append(d)
                if isinstance(d, (nn.Conv2d, nn.Linear, neuron.IFNode)):
                    break
            self.downstream[name] = ds
            m.register_forward_hook(self._hook(name))

    def _sops(self, name, x, record=False):
        """SOPs caused by spike map x [1, ...] (linear in x)."""
        sops = 0.0
        for d in self.downstream[name]:
            if isinstance(d, (VoltageScaler, nn.Identity, nn.Dropout)):
                continue
            if isinstance(d, nn.Flatten):
                x = d(x)
            elif isinstance(d, nn.AvgPool2d):
                f, _ = fanout_map(d, x.shape[1:])
                if record:
                    self.fanout_sums.append({"layer": "AvgPool2d", "input_shape": list(x.shape[1:]), "sum": float(f.sum())})
                sops = sops + (x * f).sum()
                k = d.kernel_size if isinstance(d.kernel_size, tuple) else (d.kernel_size,) * 2
                x = F.avg_pool2d(x, d.kernel_size, d.stride, d.padding, d.ceil_mode, d.count_include_pad) * (k[0] * k[1])
            elif isinstance(d, (nn.Conv2d, nn.Linear)):
                f, _ = fanout_map(d, x.shape[1:])
                if record:
                    self.fanout_sums.append({"layer": type(d).__name__, "input_shape": list(x.shape[1:]), "sum": float(f.sum())})
                sops = sops + (x * f).sum()
                break
            elif isinstance(d, neuron.IFNode):
                break
            else:
                raise ValueError(f"SOP counting: no rule for {type(d).__name__} after {name}")
        return sops

    def _composite(self, name, shape):
        with torch.enable_grad():
            x = torch.ones((1,) + tuple(shape), dtype=torch.float64, requires_grad=True)
            s = self._sops(name, x, record=True)
            if not torch.is_tensor(s) or not s.requires_grad:
                return torch.zeros(tuple(shape), dtype=torch.float64)
            s.backward()
            return x.grad[0].detach()

    def _hook(self, name):
        def hook(mod, inp, out):
            m = out.detach().sum(0, dtype=torch.float64)
            if name not in self.acc:
                self.acc[name] = torch.zeros_like(m)
                self.G[name] = self._composite(name, m.shape)
            self.acc[name] += m
        return hook

    def zero(self):
        for a in self.acc.values():
            a.zero_()

    def snapshot(self):
        sp = {n: float(a.sum()) for n, a in self.acc.items()}
        so = {n: float((a * self.G[n]).sum()) for n, a in self.acc.items()}
        return sp, so


def evaluate(snn, x, y, ts, batch, counter=None):
    """SpikingJelly's loop: reset, T_max steps of net(img), outputs summed, accuracy at every checkpoint.
    Returns correct counts per checkpoint, per-checkpoint spike/SOP totals (with counter), wall seconds
    of the whole loop and the wall seconds spent to reach each checkpoint (summed over batches)."""
    tmax = max(ts)
    cps = set(ts)
    correct = {t: 0 for t in ts}
    reach = {t: 0.0 for t in ts}
    sp_at = {t: {} for t in ts}
    so_at = {t: {} for t in ts}
    wall0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(x), batch):
            img, lab = x[s:s + batch], y[s:s + batch]
            b0 = time.perf_counter()
            functional.reset_net(snn)
            if counter:
                counter.zero()
            out = None
            for t in range(1, tmax + 1):
                step = snn(img)
                out = step if out is None else out + step
                if t in cps:
                    correct[t] += (out.argmax(1) == lab).sum().item()
                    reach[t] += time.perf_counter() - b0
                    if counter:
                        sp, so = counter.snapshot()
                        for k in sp:
                            sp_at[t][k] = sp_at[t].get(k, 0.0) + sp[k]
                            so_at[t][k] = so_at[t].get(k, 0.0) + so[k]
    wall = time.perf_counter() - wall0
    return correct, sp_at, so_at, wall, reach


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["accuracy", "timing"])
    ap.add_argument("model")
    ap.add_argument("--calibration", type=int, default=1000)
    ap.add_argument("--cal-batch", type=int, default=100)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--timesteps", default="8,16,32,64,128")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ts = sorted({int(t) for t in a.timesteps.split(",")})

    model, spec = nm_torch.load_model_dir(a.model)
    xcal, ycal, xte, yte = load_data(spec, a.calibration, a.limit)
    res = {"what": a.what, "images": len(xte), "calibration_images": len(xcal), "calibration_batch": a.cal_batch,
           "batch": a.batch, "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
           "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "KMP_BLOCKTIME", "MKL_NUM_THREADS")},
           "torch": torch.__version__, "python": sys.version.split()[0]}
    import spikingjelly
    from importlib.metadata import version
    res["spikingjelly"] = version("spikingjelly")
    if a.what == "accuracy":
        t0 = time.perf_counter()
        res["ann_accuracy"] = ann_accuracy(model, xte, yte)
        res["ann_seconds"] = time.perf_counter() - t0
        macs = 0
        hooks = []
        per_layer = []

        def mac_hook(m, i, o):
            nonlocal macs
            if isinstance(m, nn.Conv2d):
                n = o.shape[1] * o.shape[2] * o.shape[3] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            else:
                n = m.in_features * m.out_features
            per_layer.append(n)
            macs += n
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                hooks.append(m.register_forward_hook(mac_hook))
        with torch.no_grad():
            model(xte[:1])
        for h in hooks:
            h.remove()
        res["macs_per_image"] = macs
        res["macs_per_layer"] = per_layer
    t0 = time.perf_counter()
    snn = convert(model, xcal, ycal, a.cal_batch)
    res["convert_seconds"] = time.perf_counter() - t0
    res["scales"] = {n: float(m.scale) for n, m in snn.named_modules() if isinstance(m, VoltageScaler) and n.endswith("scaler1")}
    counter = SpikeCounter(snn) if a.what == "accuracy" else None
    correct, sp_at, so_at, wall, reach = evaluate(snn, xte, yte, ts, a.batch, counter)
    n = len(xte)
    res["wall_seconds"] = wall
    res["images_per_second"] = n / wall
    res["snn"] = []
    for t in ts:
        row = {"timesteps": t, "accuracy": correct[t] / n, "seconds_to_reach": reach[t], "images_per_second_to_t": n / reach[t]}
        if counter:
            row["spikes_per_layer"] = {k: v / n for k, v in sp_at[t].items()}
            row["sops_per_layer"] = {k: v / n for k, v in so_at[t].items()}
            row["spikes_per_image"] = sum(sp_at[t].values()) / n
            row["sops_per_image"] = sum(so_at[t].values()) / n
            row["sops_per_mac"] = row["sops_per_image"] / res["macs_per_image"]
        res["snn"].append(row)
    if counter:
        res["fanout_sums"] = counter.fanout_sums
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({k: res[k] for k in ("what", "images", "batch", "images_per_second")}
                     | {"acc": {r["timesteps"]: round(r["accuracy"], 4) for r in res["snn"]}}
                     | ({"ann_accuracy": res["ann_accuracy"]} if "ann_accuracy" in res else {})))


if __name__ == "__main__":
    main()
