#!/usr/bin/env python3
"""What the aggregated `poisson_input` costs (issue 14 targets): Brunel's network (configs/brunel.yaml) timed
with its 20 kHz-per-neuron drive given four ways, on every vector path the CPU has, runs interleaved:

  brunel          configs/brunel.yaml: two poisson_inputs (1000 trains at 20 Hz per neuron)
  brunel+drive    the same plus one more 20 kHz poisson_input per population with weight 0: the same spikes
                  (checked), one more drive's work. Its cost c = T(brunel+drive) - T(brunel) is what one
                  20 kHz drive adds; the network without it takes T(brunel) - c.  Target: c <= 10 % of that.
  pool            the workaround before issue 14: 250000 `poisson` sources at 500 Hz (`draw: bernoulli`, the
                  old one-spike draw) and fixed_indegree 40 distinct sources per neuron (as
                  experiments/brunel/brunel.yaml had it).  Target: brunel >= 5x faster.
  explicit        what NEST's semantics allow now without poisson_input: one `poisson` source at 20 kHz per
                  neuron (a Poisson count per step, mean 2), one_to_one.
  bare, bare+drive  brunel and brunel+drive without the projections: the drive's cost once more, with a
                  working set that stays in cache (robust to the other processes' memory traffic).

Configs are derived from configs/brunel.yaml by text (written to work/) and saved once with
`neuromorph simulate CFG --save-network`; every run is `neuromorph-run NET --duration 2.2` (the engine
alone). Times: its wall_seconds (the simulation loop) and, because the machine is shared, the CPU time
of the loop: the process's CPU seconds (user + sys) for 2.2 s minus those for 0.2 s simulated (loading
and the first 0.2 s cancel; a descheduled process accrues no CPU time). Medians (and minima) of --reps
runs per (config, path) for brunel and brunel+drive on every path; --slow-reps runs of pool and explicit
on the first path only (scalar sources and sparse delivery: the path hardly matters there, and each run
takes ~15 s). Usage: run.py [--reps 7] [--slow-reps 3] [--paths avx512,avx2,baseline] [--threads 1]
[--report PATH]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.path.join(HERE, "work")
BIN = os.path.join(ROOT, ".build", "release", "neuromorph")
RUNNER = os.path.join(ROOT, ".build", "release", "neuromorph-run")
BASE = os.path.join(ROOT, "configs", "brunel.yaml")
INPUT_LINE = "  - {kind: poisson_input, name: ext_inh, target: inh, sources: 1000, rate: 20 Hz, weight: 0.1 mV}\n"


def variants() -> dict[str, str]:
    text = open(BASE).read()
    if INPUT_LINE not in text or "\ninputs:\n" not in text:
        sys.exit(f"run.py: {BASE} no longer has the expected inputs block; update run.py")
    head, tail = text.split("\ninputs:\n", 1)
    monitors = tail[tail.index("monitors:"):]
    extra = text.replace(INPUT_LINE, INPUT_LINE +
                         "  - {kind: poisson_input, name: extra_exc, target: exc, sources: 1000, rate: 20 Hz, weight: 0 mV}\n"
                         "  - {kind: poisson_input, name: extra_inh, target: inh, sources: 1000, rate: 20 Hz, weight: 0 mV}\n")
    pops_end = head.index("\nprojections:\n")
    pool = (head[:pops_end] + "\n  ext:\n    size: 250000\n    model: poisson\n    params: {rate: 500 Hz, draw: bernoulli}\n" +
            head[pops_end:] + "\n  - {pre: ext, post: exc, connect: {rule: fixed_indegree, k: 40, multapses: false}, weight: 0.1 mV, delay: 1.5 ms}"
            "\n  - {pre: ext, post: inh, connect: {rule: fixed_indegree, k: 40, multapses: false}, weight: 0.1 mV, delay: 1.5 ms}\n\n" + monitors)
    explicit = (head[:pops_end] + "\n  ext_exc: {size: 5000, model: poisson, params: {rate: 20 kHz}}"
                "\n  ext_inh: {size: 1250, model: poisson, params: {rate: 20 kHz}}\n" + head[pops_end:] +
                "\n  - {pre: ext_exc, post: exc, connect: {rule: one_to_one}, weight: 0.1 mV, delay: 1.5 ms}"
                "\n  - {pre: ext_inh, post: inh, connect: {rule: one_to_one}, weight: 0.1 mV, delay: 1.5 ms}\n\n" + monitors)
    # the same populations and drives without the 7.8 M synapses: the drive's own cost, with a working set
    # that stays in cache (the full network's memory traffic makes its difference noisy on a shared machine)
    bare = head[:pops_end] + "\n\ninputs:\n" + tail
    ehead, etail = extra.split("\ninputs:\n", 1)
    bare_extra = ehead[:ehead.index("\nprojections:\n")] + "\n\ninputs:\n" + etail
    return {"brunel": text, "brunel+drive": extra, "bare": bare, "bare+drive": bare_extra, "pool": pool, "explicit": explicit}


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def run(net: str, path: str, threads: int, duration: str) -> tuple[dict, float]:
    """neuromorph-run's summary and the CPU seconds (user + sys) of the process."""
    env = dict(os.environ, NM_ISA=path)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([RUNNER, net, "--duration", duration, "--threads", str(threads)], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=3600)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"run.py: {net} ({path}) failed: {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout), (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def save(cfg: str, net: str, seed: int) -> None:
    r = subprocess.run([BIN, "simulate", cfg, "--seed", str(seed), "--save-network", net, "--force"], capture_output=True, text=True,
                       cwd=ROOT, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"run.py: saving {cfg} failed: {r.stderr.strip()[-400:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--slow-reps", type=int, default=3, help="runs of pool and explicit (first path only)")
    ap.add_argument("--paths", default=None, help="vector paths (default: every path this CPU has)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--report", default=os.path.join(HERE, "RESULTS.md"))
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    cfgs = {}
    for name, text in variants().items():
        p = os.path.join(WORK, name.replace("+", "_") + ".yaml")
        with open(p, "w") as f:
            f.write(text)
        cfgs[name] = os.path.relpath(p, ROOT)
    cfgs["brunel"] = os.path.relpath(BASE, ROOT)
    nets = {}
    for name, cfg in cfgs.items():
        nets[name] = os.path.join(WORK, name.replace("+", "_") + ".nmnet")
        save(cfg, nets[name], a.seed)
    version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()
    flags = open("/proc/cpuinfo").read()
    paths = a.paths.split(",") if a.paths else [p for p, f in (("avx512", " avx512f "), ("avx2", " avx2 "), ("baseline", "")) if f in flags]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    times: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    spikes: dict[tuple[str, str], set] = {}
    loads = []
    for rep in range(a.reps):
        loads.append(load())
        for path in paths:
            for name in cfgs:
                if name in ("pool", "explicit") and (path != paths[0] or rep >= a.slow_reps):
                    continue
                s, c_long = run(nets[name], path, a.threads, "2.2")
                _, c_short = run(nets[name], path, a.threads, "0.2")
                times.setdefault((name, path), []).append(s["wall_seconds"])
                cpus.setdefault((name, path), []).append(c_long - c_short)
                if not name.startswith("bare"):
                    spikes.setdefault((name, path), set()).add((s["populations"]["exc"]["spikes"], s["populations"]["inh"]["spikes"]))
                print(f"[{_dt.datetime.now():%H:%M:%S}] rep {rep + 1}/{a.reps} {path:8s} {name:13s} {s['wall_seconds']:.3f} s "
                      f"(loop CPU 2.0 s: {c_long - c_short:.3f} s) exc {s['populations']['exc']['mean_rate_hz']:.2f} Hz", flush=True)
    loads.append(load())
    with open(os.path.join(WORK, "runs.json"), "w") as f:
        json.dump({"wall": {f"{k[0]}|{k[1]}": v for k, v in times.items()}, "cpu": {f"{k[0]}|{k[1]}": v for k, v in cpus.items()}}, f, indent=1)

    med = {k: statistics.median(v) for k, v in times.items()}
    cmed = {k: statistics.median(v) for k, v in cpus.items()}
    flags_used = (f"{'' if a.reps == 7 else f' --reps {a.reps}'}{'' if a.slow_reps == 3 else f' --slow-reps {a.slow_reps}'}"
                  f"{'' if a.threads == 1 else f' --threads {a.threads}'}{'' if not a.paths else f' --paths {a.paths}'}")
    L = ["# poisson_input speed (issue 14)\n",
         f"Generated {_dt.datetime.now():%Y-%m-%d %H:%M} by `bash experiments/poisson-input/run.sh{flags_used}` "
         f"(`{version}`).\n",
         f"- Machine: {cpu} ({os.cpu_count()} vCPUs, shared with other sessions); load average before each repetition "
         f"and at the end: {', '.join(f'`{x}`' for x in loads)}.",
         f"- Brunel (2000) model A, configs/brunel.yaml (6250 lif_delta neurons, 7.8 M synapses, ~32 Hz), 2.2 s "
         f"simulated at dt = 0.1 ms, seed {a.seed}, {a.threads} thread(s), `neuromorph-run` on the saved network; "
         f"median (min) of {a.reps} runs (pool, explicit: {a.slow_reps}, on {paths[0]}) per cell, the configs "
         "interleaved; `NM_ISA` selects the vector path. Wall: the simulation loop (2.2 s simulated). CPU: the "
         "loop's CPU time for 2.0 s simulated (a run of 2.2 s minus one of 0.2 s), robust to other processes "
         "taking the core. Configs: run.py's docstring (written to work/).", "",
         "Target 1, a 20 kHz Poisson input per neuron adds ≤ 10 % to the network's run time: the drive's cost c = "
         "T(brunel+drive) − T(brunel) (one more drive, the same spikes), against the network without it, "
         "T(brunel) − c; per neuron and step: c / (6250 neurons × steps).\n",
         "| path | wall brunel (s) | wall brunel+drive (s) | wall c / (brunel − c) | CPU brunel (s) | CPU brunel+drive (s) | CPU c (s) | CPU c / (brunel − c) | c per neuron and step |",
         "|---|---|---|---|---|---|---|---|---|"]
    for path in paths:
        b, e = med[("brunel", path)], med[("brunel+drive", path)]
        cb, ce = cmed[("brunel", path)], cmed[("brunel+drive", path)]
        c, cc = e - b, ce - cb
        mn = lambda n: min(times[(n, path)])
        cmn = lambda n: min(cpus[(n, path)])
        L.append(f"| {path} | {b:.3f} ({mn('brunel'):.3f}) | {e:.3f} ({mn('brunel+drive'):.3f}) | {100 * c / (b - c):.1f} % | "
                 f"{cb:.3f} ({cmn('brunel'):.3f}) | {ce:.3f} ({cmn('brunel+drive'):.3f}) | {cc:.3f} | {100 * cc / (cb - cc):.1f} % | "
                 f"{1e9 * cc / (20000 * 6250):.2f} ns |")
    L += ["", "The same drive's cost measured on the populations and drives alone (`bare`: configs/brunel.yaml without "
          "its projections; `bare+drive`: plus the weight-0 drives), whose state stays in cache, so that other "
          "processes' memory traffic hardly moves it; against the network as above (CPU medians):\n",
          "| path | CPU bare (s) | CPU bare+drive (s) | c (s) | c per neuron and step | c / (brunel − c) |", "|---|---|---|---|---|---|"]
    for path in paths:
        cb = cmed[("brunel", path)]
        c0, c1 = cmed[("bare", path)], cmed[("bare+drive", path)]
        cc = c1 - c0
        L.append(f"| {path} | {c0:.3f} ({min(cpus[('bare', path)]):.3f}) | {c1:.3f} ({min(cpus[('bare+drive', path)]):.3f}) | {cc:.3f} | "
                 f"{1e9 * cc / (20000 * 6250):.2f} ns | {100 * cc / (cb - cc):.1f} % |")
    p0 = paths[0]
    if ("pool", p0) in med and ("explicit", p0) in med:
        b, x, p = med[("brunel", p0)], med[("explicit", p0)], med[("pool", p0)]
        cb, cx, cp = cmed[("brunel", p0)], cmed[("explicit", p0)], cmed[("pool", p0)]
        L += ["", "Target 2, ≥ 5× less time than the explicit-source workaround:\n",
              "| path | | brunel (s) | pool (s) | pool / brunel | explicit (s) | explicit / brunel |", "|---|---|---|---|---|---|---|",
              f"| {p0} | wall | {b:.3f} | {p:.3f} ({min(times[('pool', p0)]):.3f}) | {p / b:.1f}× | {x:.3f} ({min(times[('explicit', p0)]):.3f}) | {x / b:.1f}× |",
              f"| {p0} | CPU | {cb:.3f} | {cp:.3f} | {cp / cb:.1f}× | {cx:.3f} | {cx / cb:.1f}× |"]
    same = all(spikes[("brunel", p)] == spikes[("brunel+drive", p)] and len(spikes[("brunel", p)]) == 1 for p in paths)
    L += ["", f"brunel and brunel+drive fired the same spikes on every run and path: {'yes' if same else 'NO'} "
          f"({sorted(spikes[('brunel', paths[0])])[0]} exc/inh spikes).", ""]
    with open(a.report + ".tmp", "w") as f:
        f.write("\n".join(L) + "\n")
    os.replace(a.report + ".tmp", a.report)
    print("\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())
