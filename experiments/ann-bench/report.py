"""Aggregates work/results.jsonl into RESULTS.md (medians over runs of the last epoch's figures)."""
import json
import platform
import statistics
import subprocess
import sys

work, epochs, threads, runs, nm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rows = [json.loads(l) for l in open(f"{work}/results.jsonl")]
frameworks = ["neuromorph"] + [("pytorch" if p == "default" else f"pytorch OMP_WAIT_POLICY={p}") for p in sys.argv[6].split()]


def med(fw, net, key, last_only=False):
    vals = [r[key] for r in rows if r["framework"] == fw and r["net"] == net and (not last_only or r["epoch"] == epochs)]
    return statistics.median(vals) if vals else float("nan")  # nan: no epoch finished (see PT_TIMEOUT)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return f"({e})"


import torch  # noqa: E402

machine = open(f"{work}/machine.txt").read().strip()
print(f"# neuromorph vs PyTorch on Fashion-MNIST (CPU, {threads} threads)\n")
print(f"Command: `EPOCHS={epochs} RUNS={runs} THREADS={threads} bash experiments/ann-bench/run.sh`. "
      f"Same data (60,000 train / 10,000 test, normalised with mean 0.2860, std 0.3530), same architectures, "
      f"{epochs} epochs, batch 64, Adam (lr 1e-3), He-normal init, shuffled every epoch. "
      f"Throughput = medians over {runs} runs x {epochs} epochs (each epoch timed separately); "
      f"accuracy = median test accuracy after epoch {epochs}; peak memory = max RSS of the whole process (/usr/bin/time -v). "
      f"Inference = forward passes over the 10,000 test images in batches of 1,000.\n")
print("| net | framework | train samples/s | inference images/s | test accuracy | peak RSS (MiB) |")
print("|---|---|---:|---:|---:|---:|")
for net in ("mlp", "cnn"):
    for fw in frameworks:
        print(f"| {net} | {fw} | {med(fw, net, 'samples_per_second'):,.0f} | {med(fw, net, 'inference_images_per_second'):,.0f} | "
              f"{100 * med(fw, net, 'test_accuracy', True):.2f}% | {med(fw, net, 'max_rss_kb') / 1024:,.0f} |")
print("\n| net | versus | training speed ratio (neuromorph / PyTorch) | inference ratio | accuracy difference (points) | memory ratio |")
print("|---|---|---:|---:|---:|---:|")
for net in ("mlp", "cnn"):
    for pt in frameworks[1:]:
        r = lambda k: med("neuromorph", net, k) / med(pt, net, k)
        acc = 100 * (med("neuromorph", net, "test_accuracy", True) - med(pt, net, "test_accuracy", True))
        print(f"| {net} | {pt} | {r('samples_per_second'):.2f} | {r('inference_images_per_second'):.2f} | {acc:+.2f} | {r('max_rss_kb'):.2f} |")
print("\nPer-run figures (last epoch):\n")
print("| net | framework | run | train samples/s (per epoch) | test accuracy |")
print("|---|---|---:|---|---:|")
for net in ("mlp", "cnn"):
    for fw in frameworks:
        for run in range(1, runs + 1):
            sel = [r for r in rows if r["framework"] == fw and r["net"] == net and r["run"] == run]
            if sel:
                sps = ", ".join(f"{r['samples_per_second']:,.0f}" for r in sel)
                print(f"| {net} | {fw} | {run} | {sps} | {100 * sel[-1]['test_accuracy']:.2f}% |")
print("\n## Machine and versions\n")
print("```")
print(machine)
print(sh("lscpu | grep -E 'Model name|^CPU\\(s\\)|L2|L3'"))
print(sh("swift --version 2>&1 | head -1"))
print(f"neuromorph: {sh('cd ' + work + '/../../.. && git rev-parse --short HEAD')}, binary {nm}")
print(sh("dpkg-query -W libopenblas0-pthread libomp5-14 2>/dev/null"))
import ctypes  # noqa: E402
try:
    ob = ctypes.CDLL("libopenblas.so.0")
    ob.openblas_get_corename.restype = ctypes.c_char_p
    ob.openblas_get_config.restype = ctypes.c_char_p
    print(f"OpenBLAS: {ob.openblas_get_config().decode()} (kernel {ob.openblas_get_corename().decode()})")
except OSError as e:
    print(f"OpenBLAS: {e}")
print(f"Python {platform.python_version()}, torch {torch.__version__}")
print(torch.__config__.parallel_info().strip())
print("```")
