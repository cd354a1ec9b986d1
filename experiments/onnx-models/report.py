"""RESULTS.md of experiments/onnx-models/run.sh from the files in WORK."""
import json
import os
import sys

import numpy as np

work = sys.argv[1]
threads = os.environ.get("THREADS_LIST", "1 2").split()
print("# ONNX import and residual / VGG conversion: neuromorph vs SpikingJelly 2.0\n")
print("Made by `bash experiments/onnx-models/run.sh` (see its header for the settings).\n")
print("```")
print(open(os.path.join(work, "machine.txt")).read().strip())
print("```\n")
for net in ("resnet", "vgg"):
    d = os.path.join(work, net)
    pt = json.load(open(os.path.join(d, "pytorch.json")))
    ptp = np.load(os.path.join(d, "predictions.npy"))
    print(f"## {net} ({pt['parameters']} parameters, {pt['epochs']} epochs in PyTorch)\n")
    print("| | test accuracy (10,000 images) | images whose class differs from PyTorch's |")
    print("| --- | --- | --- |")
    print(f"| PyTorch | {100 * pt['test_accuracy']:.2f} % | |")
    for ex in ("torchscript", "dynamo"):
        ev = json.load(open(os.path.join(d, f"eval-{ex}.json")))
        acc = ev.get("accuracy", ev.get("test_accuracy"))
        pred = np.load(os.path.join(d, f"pred-{ex}.npy"))
        print(f"| neuromorph, imported from the {ex} export | {100 * acc:.2f} % | {int((pred != ptp).sum())} |")
    nm = json.load(open(os.path.join(d, "nm-compare", "report.json")))
    sj = json.load(open(os.path.join(d, "sj-accuracy.json")))
    print(f"\nSNN accuracy on the first {sj['images']} test images (ANN: neuromorph {100 * nm['ann_accuracy']:.2f} %, "
          f"PyTorch {100 * sj['ann_accuracy']:.2f} %):\n")
    print("| T | neuromorph | Δ ANN | SpikingJelly | Δ ANN |")
    print("| --- | --- | --- | --- | --- |")
    for a, b in zip(nm["snn"], sj["snn"]):
        print(f"| {a['timesteps']} | {100 * a['accuracy']:.2f} % | {100 * (a['accuracy'] - nm['ann_accuracy']):+.2f} | "
              f"{100 * b['accuracy']:.2f} % | {100 * (b['accuracy'] - sj['ann_accuracy']):+.2f} |")
    print(f"\nImages/s at T = {nm['snn'][-1]['timesteps']} (the same test images on both sides; load average before/after in work/):\n")
    print("| threads | neuromorph | SpikingJelly | ratio |")
    print("| --- | --- | --- | --- |")
    for th in threads:
        t = json.load(open(os.path.join(d, f"nm-time-t{th}", "report.json")))
        s = json.load(open(os.path.join(d, f"sj-time-t{th}.json")))
        a, b = t["snn"][-1]["images_per_second"], s["images_per_second"]
        print(f"| {th} | {a:.1f} | {b:.1f} (batch {s['batch']}) | {a / b:.1f}× |")
    print()
