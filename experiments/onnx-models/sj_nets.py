"""SpikingJelly 2.0 side of the ONNX/residual benchmark: the PyTorch nets of train_export.py, converted
with spikingjelly.activation_based.ann2snn (RateCodingRecipe, 99.9%, 1000 training images in batches
of 100), run with SpikingJelly's own loop (experiments/conversion-bench/sj_bench.py: the normalized image
fed at every step, outputs summed, accuracy at every checkpoint T of one run to T_max).
    python sj_nets.py accuracy WORK/resnet --limit 2000 --out acc.json
    python sj_nets.py timing WORK/resnet --limit 500 --threads 1 --timesteps 128 --out t.json
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conversion-bench"))
sys.path.insert(0, HERE)
import sj_bench  # noqa: E402  (its convert and evaluate, reused)
import train_export  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["accuracy", "timing"])
    ap.add_argument("net_dir")
    ap.add_argument("--calibration", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--timesteps", default="8,16,32,64,128")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ts = sorted({int(t) for t in a.timesteps.split(",")})
    name = os.path.basename(os.path.normpath(a.net_dir))
    net = {"resnet": train_export.resnet, "vgg": train_export.vgg}[name]()
    net.load_state_dict(torch.load(os.path.join(a.net_dir, "state_dict.pt")))
    net.eval()
    xtr, ytr = train_export.load("train")
    xte, yte = train_export.load("test")
    xcal, ycal = xtr[:a.calibration], ytr[:a.calibration]
    if a.limit:
        xte, yte = xte[:a.limit], yte[:a.limit]
    from importlib.metadata import version
    res = {"what": a.what, "net": name, "images": len(xte), "threads": torch.get_num_threads(), "batch": a.batch,
           "spikingjelly": version("spikingjelly"), "torch": torch.__version__}
    if a.what == "accuracy":
        res["ann_accuracy"] = sj_bench.ann_accuracy(net, xte, yte)
    t0 = time.perf_counter()
    snn = sj_bench.convert(net, xcal, ycal, 100)
    res["convert_seconds"] = time.perf_counter() - t0
    correct, _, _, wall, reach = sj_bench.evaluate(snn, xte, yte, ts, a.batch)
    n = len(xte)
    res["wall_seconds"] = wall
    res["images_per_second"] = n / wall
    res["snn"] = [{"timesteps": t, "accuracy": correct[t] / n, "images_per_second_to_t": n / reach[t]} for t in ts]
    json.dump(res, open(a.out, "w"), indent=1)
    print(json.dumps({"net": name, "what": a.what, "threads": res["threads"], "images_per_second": round(res["images_per_second"], 1),
                      "acc": {r["timesteps"]: round(r["accuracy"], 4) for r in res["snn"]}}))


if __name__ == "__main__":
    main()
