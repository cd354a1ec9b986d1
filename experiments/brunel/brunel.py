#!/usr/bin/env python
"""Brunel (2000) model A: NEST 3.10 over several seeds, and neuromorph on the same network when it can
run it (the `lif_delta` model of issue 11). Reports, per simulator, the excitatory (and inhibitory) rate,
the mean CV(ISI) and the period of the population-rate oscillation over [warm-up, duration), how far
neuromorph's means are from NEST's, and whether the seeds resolve that difference (standard errors).
One command: bash experiments/brunel/run.sh [flags].

Network: brunel_params.py (NEST's brunel_delta_nest.py, scaled). neuromorph config: configs/brunel.yaml
(driven by Poisson inputs, issue 14); if the binary cannot load it (a build without `lif_delta`)
neuromorph is skipped with a note. Raw outputs go to work/ (git-ignored).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import brunel_params as bp  # noqa: E402
import brunel_stats as bs  # noqa: E402

WORK = os.path.join(HERE, "work")
KEYS = (("exc_rate_hz", "exc rate (Hz)"), ("inh_rate_hz", "inh rate (Hz)"), ("exc_cv_isi", "exc CV(ISI)"),
        ("oscillation_period_ms", "oscillation period (ms)"), ("oscillation_autocorrelation", "autocorrelation at the period"))
TOL = {"exc_rate_hz": 0.01, "exc_cv_isi": 0.01, "oscillation_period_ms": 0.01}   # issue 11/14 targets (relative)


def log(msg: str) -> None:
    print(f"[{_dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def default_config() -> str:
    return os.path.join(REPO, "configs", "brunel.yaml")


def check_config(path: str, d: dict) -> str | None:
    """The neuromorph config must describe the network NEST runs: sizes and in-degrees."""
    import yaml
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        return f"cannot read {path}: {e}"
    pops = cfg.get("populations") or {}
    got = {k: int((pops.get(k) or {}).get("size", -1)) for k in ("exc", "inh")}
    want = {"exc": d["n_exc"], "inh": d["n_inh"]}
    if got != want:
        return f"{os.path.relpath(path, REPO)} has sizes {got}, NEST runs {want} (brunel_params.py)"
    ks = {(p.get("pre"), p.get("post")): (p.get("connect") or {}).get("k") for p in cfg.get("projections") or []}
    for pre, k in (("exc", d["c_exc"]), ("inh", d["c_inh"])):
        for post in ("exc", "inh"):
            if ks.get((pre, post)) != k:
                return f"{os.path.relpath(path, REPO)}: {pre}->{post} in-degree {ks.get((pre, post))}, NEST uses {k}"
    return None


def reusable_nest(a, out: str) -> dict | None:
    """With --reuse-nest: an earlier NEST result of the same run (duration, window, order, epsilon)."""
    if not a.reuse_nest or not os.path.isfile(out):
        return None
    try:
        with open(out) as f:
            res = json.load(f)
    except (OSError, ValueError):
        return None
    p = res.get("params") or {}
    if (res.get("duration_ms") != a.duration or res.get("window_ms") != [a.warmup, a.duration] or p.get("order") != a.order
            or p.get("epsilon") != a.epsilon or res.get("threads") != a.nest_threads):
        return None
    res["reused"] = True
    return res


def run_nest(a, seed: int) -> dict:
    out = os.path.join(WORK, "nest", f"s{seed}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    old = reusable_nest(a, out)
    if old is not None:
        return old
    cmd = [sys.executable, os.path.join(HERE, "nest_brunel.py"), "--seed", str(seed), "--order", str(a.order),
           "--epsilon", str(a.epsilon), "--duration", f"{a.duration:g}", "--warmup", f"{a.warmup:g}",
           "--threads", str(a.nest_threads), "--spikes", out.replace(".json", ".npz"), "--out", out]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    if r.returncode != 0:
        return {"error": f"exit {r.returncode}: {' '.join(map(shlex.quote, cmd))}\n{(r.stderr or r.stdout)[-800:]}"}
    with open(out) as f:
        res = json.load(f)
    res["process_wall_seconds"] = time.perf_counter() - t0
    return res


def run_neuromorph(a, seed: int, d: dict) -> dict:
    outdir = os.path.join(WORK, "neuromorph", f"s{seed}")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(os.path.dirname(outdir), exist_ok=True)
    rel = lambda p: os.path.relpath(p, REPO)   # run from the repository root: no machine paths in the report
    cmd = [rel(a.neuromorph_bin), "simulate", rel(a.config), "--seed", str(seed), "--duration", f"{a.duration:g} ms",
           "--threads", str(a.threads), "--out", rel(outdir)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, cwd=REPO)
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip().splitlines()
        return {"skipped" if "lif_delta" in (r.stderr + r.stdout) else "error":
                f"`{' '.join(map(shlex.quote, cmd))}` exit {r.returncode}: {msg[-1] if msg else ''}"}
    try:
        with open(os.path.join(outdir, "summary.json")) as f:
            s = json.load(f)
        sp = {}
        for pop in ("exc", "inh"):
            t = np.load(os.path.join(outdir, f"spikes_{pop}_t.npy")) * 1e3   # s -> ms
            i = np.load(os.path.join(outdir, f"spikes_{pop}_i.npy")).astype(int)
            sp[pop] = (t, i)
    except (OSError, ValueError, KeyError) as e:
        return {"error": f"incomplete output in {outdir}: {e}"}
    stats = bs.summarize(sp["exc"], sp["inh"], d["n_exc"], d["n_inh"], a.warmup, a.duration)
    return dict(simulator="neuromorph", seed=seed, threads=s.get("threads"), isa=s.get("isa") or "unknown",
                simulate_seconds=s.get("wall_seconds"), build_seconds=s.get("build_seconds"),
                synapses=s.get("synapses"), process_wall_seconds=time.perf_counter() - t0,
                config=os.path.relpath(a.config, REPO), **stats)


def agg(runs: list[dict], key: str):
    v = [r[key] for r in runs if "error" not in r and "skipped" not in r and r.get(key) is not None]
    if not v:
        return None
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0), len(v)


def welch(a: list[float], b: list[float]):
    """Difference of means b - a, its standard error (Welch) and |difference| / standard error."""
    if len(a) < 2 or len(b) < 2:
        return None
    d = statistics.fmean(b) - statistics.fmean(a)
    se = (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
    return d, se, (abs(d) / se if se > 0 else float("inf"))


def write_report(path: str, meta: dict, runs: dict, notes: list[str]) -> None:
    d = meta["params"]
    L = ["# Brunel (2000) model A: NEST 3.10 vs neuromorph\n",
         f"Generated {meta['date']} by `bash experiments/brunel/run.sh {meta['argv']}` ({meta['minutes']:.1f} min).\n",
         "## Set-up\n",
         f"- Machine: {meta['cpu']}, {meta['nproc']} cores; load average `{meta['load_start']}` → `{meta['load_end']}`.",
         f"- Network (brunel_params.py; NEST's pynest/examples/brunel_delta_nest.py, scaled): N_E {d['n_exc']}, N_I "
         f"{d['n_inh']}, C_E {d['c_exc']}, C_I {d['c_inh']} (ε = {d['epsilon']:g}), J {d['j_exc_mV']:g} mV, g {d['g']:g}, "
         f"η {d['eta']:g} (Poisson drive {d['poisson_rate_hz']:g} Hz per neuron), delay {d['delay_ms']:g} ms, dt "
         f"{d['dt_ms']:g} ms; iaf_psc_delta C_m 1 pF, τ_m 20 ms, t_ref 2 ms, V_th 20 mV, V_reset = E_L = V(0) = 0.",
         f"- {meta['duration']:g} ms simulated, statistics over [{meta['warmup']:g}, {meta['duration']:g}) ms; seeds "
         f"{meta['seeds']}; NEST {meta['nest_threads']} thread(s) (`rng_seed` = seed); neuromorph `{meta['config']}` "
         f"with `--threads {meta['threads']}`.",
         f"- CV(ISI): mean over excitatory neurons with ≥ {bs.MIN_ISIS} ISIs in the window. Oscillation period: first "
         "maximum of the autocorrelation of the excitatory population spike count (0.5 ms bins) after its first zero "
         "crossing (brunel_stats.py), with the autocorrelation there (0 = none, 1 = periodic).", ""]
    for n in notes:
        L.append(f"**{n}**\n")
    L += ["| simulator | seed | exc rate (Hz) | inh rate (Hz) | CV(ISI) | period (ms) | autocorr. | simulate (s) |",
          "|---|---|---|---|---|---|---|---|"]
    f = lambda x, k=3: "–" if x is None else f"{x:.{k}f}"
    for sim, rs in runs.items():
        for r in rs:
            if "error" in r or "skipped" in r:
                L.append(f"| {sim} | {r.get('seed', '?')} | {(r.get('error') or r.get('skipped')).splitlines()[0][:160]} | | | | | |")
                continue
            L.append(f"| {sim} | {r['seed']} | {f(r['exc_rate_hz'])} | {f(r.get('inh_rate_hz'))} | {f(r['exc_cv_isi'])} | "
                     f"{f(r['oscillation_period_ms'])} | {f(r['oscillation_autocorrelation'], 2)} | {f(r['simulate_seconds'], 2)} |")
    L += ["", "Means over seeds (± sd):\n", "| quantity | " + " | ".join(runs) + (" | neuromorph − NEST |" if len(runs) > 1 else " |"),
          "|---|" + "---|" * len(runs) + ("---|" if len(runs) > 1 else "")]
    for key, label in KEYS:
        cells, ms = [], {}
        for sim, rs in runs.items():
            a = agg(rs, key)
            cells.append("–" if a is None else f"{a[0]:.4g} ± {a[1]:.2g} (n = {a[2]})")
            ms[sim] = a
        diff = ""
        if len(runs) > 1:
            a, b = ms.get("NEST"), ms.get("neuromorph")
            if a and b and a[0]:
                rel = (b[0] - a[0]) / a[0]
                tol = TOL.get(key)
                diff = f" {100 * rel:+.2f} %" + (f" ({'within' if abs(rel) <= tol else 'NOT within'} {100 * tol:g} %)" if tol else "") + " |"
            else:
                diff = " – |"
        L.append(f"| {label} | " + " | ".join(cells) + (" |" + diff if len(runs) > 1 else " |"))
    if "NEST" in runs and "neuromorph" in runs:
        L += ["", "Is the difference resolved? Per quantity: the seed-to-seed sd of each simulator, the standard error of "
              "each mean (sd/√n), the difference of the means with its standard error (Welch) and |difference|/SE "
              "(below ~2: the seeds cannot tell the simulators apart).\n",
              "| quantity | sd NEST | sd neuromorph | SE of mean NEST | SE of mean neuromorph | neuromorph − NEST ± SE | relative | \\|diff\\|/SE |",
              "|---|---|---|---|---|---|---|---|"]
        for key, label in KEYS:
            va = [r[key] for r in runs["NEST"] if "error" not in r and r.get(key) is not None]
            vb = [r[key] for r in runs["neuromorph"] if "error" not in r and "skipped" not in r and r.get(key) is not None]
            w = welch(va, vb)
            if w is None:
                continue
            d, se, z = w
            ma = statistics.fmean(va)
            L.append(f"| {label} | {statistics.stdev(va):.3g} | {statistics.stdev(vb):.3g} | {statistics.stdev(va) / len(va) ** 0.5:.3g} | "
                     f"{statistics.stdev(vb) / len(vb) ** 0.5:.3g} | {d:+.4g} ± {se:.2g} | {100 * d / ma:+.2f} % ± {100 * se / abs(ma):.2f} % | {z:.1f} |")
    if any(r.get("reused") for r in runs.get("NEST", [])):
        L.append("\nNEST results reused from experiments/brunel/work/nest (--reuse-nest: same duration, window, order, epsilon and threads).")
    L.append("\nRaw results: experiments/brunel/work/ (git-ignored).\n")
    with open(path + ".tmp", "w") as fh:
        fh.write("\n".join(L))
    os.replace(path + ".tmp", path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--order", type=int, default=bp.ORDER, help="N_E = 4 order, N_I = order")
    ap.add_argument("--epsilon", type=float, default=bp.EPSILON, help="C_E = epsilon N_E, C_I = epsilon N_I")
    ap.add_argument("--duration", type=float, default=bp.DURATION_MS, help="simulated ms")
    ap.add_argument("--warmup", type=float, default=bp.WARMUP_MS, help="ms left out of the statistics")
    ap.add_argument("--nest-threads", type=int, default=1)
    ap.add_argument("--threads", default="auto", help="neuromorph --threads")
    ap.add_argument("--neuromorph-bin", default=os.path.join(REPO, ".build", "release", "neuromorph"))
    ap.add_argument("--config", default=None, help="neuromorph config (default: configs/brunel.yaml)")
    ap.add_argument("--no-nest", action="store_true", help="neuromorph only")
    ap.add_argument("--reuse-nest", action="store_true", help="reuse NEST results in work/nest of the same duration, window, order, epsilon and threads")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--report", default=os.path.join(HERE, "RESULTS.md"))
    a = ap.parse_args()
    a.config = os.path.abspath(a.config or default_config())
    if not 0 <= a.warmup < a.duration:
        ap.error("--warmup must be in [0, --duration)")
    try:
        seeds = [int(x) for x in a.seeds.split(",") if x]
    except ValueError:
        ap.error("--seeds takes a comma list of integers")
    d = bp.derived(a.order, a.epsilon)
    os.makedirs(WORK, exist_ok=True)
    notes = []
    nm_ok = True
    if not os.access(a.neuromorph_bin, os.X_OK):
        notes.append(f"neuromorph skipped: {os.path.relpath(a.neuromorph_bin, REPO)} is not an executable "
                     "(swift build -c release, or --neuromorph-bin).")
        nm_ok = False
    else:
        bad = check_config(a.config, d)
        if bad:
            notes.append(f"neuromorph skipped: {bad}.")
            nm_ok = False
    t0 = time.perf_counter()
    argv = [os.path.relpath(x, REPO) if os.path.isabs(x) and x.startswith(REPO + os.sep) else x for x in sys.argv[1:]]
    meta = dict(date=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"), argv=" ".join(map(shlex.quote, argv)),
                cpu=next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?"),
                nproc=os.cpu_count(), load_start=" ".join(open("/proc/loadavg").read().split()[:3]), params=d,
                duration=a.duration, warmup=a.warmup, seeds=seeds, nest_threads=a.nest_threads, threads=a.threads,
                config=os.path.relpath(a.config, REPO))
    runs: dict[str, list] = {} if a.no_nest else {"NEST": []}
    if nm_ok:
        runs["neuromorph"] = []
    for seed in seeds:
        if not a.no_nest:
            r = run_nest(a, seed)
            runs["NEST"].append(r)
            log(f"NEST s{seed}: " + (r["error"].splitlines()[0] if "error" in r else
                                     f"exc {r['exc_rate_hz']:.2f} Hz, CV {r['exc_cv_isi']:.3f}, period "
                                     f"{r['oscillation_period_ms']} ms, simulate {r['simulate_seconds']:.1f} s"))
        if nm_ok:
            r = run_neuromorph(a, seed, d)
            r.setdefault("seed", seed)
            runs["neuromorph"].append(r)
            if "skipped" in r:
                notes.append(f"neuromorph skipped (no lif_delta model yet?): {r['skipped']}")
                del runs["neuromorph"]
                nm_ok = False
                log(notes[-1])
            else:
                log(f"neuromorph s{seed}: " + (r["error"].splitlines()[0] if "error" in r else
                                               f"exc {r['exc_rate_hz']:.2f} Hz, CV {r['exc_cv_isi']:.3f}, period "
                                               f"{r['oscillation_period_ms']} ms, simulate {r['simulate_seconds']:.2f} s ({r['isa']})"))
    meta["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    meta["minutes"] = (time.perf_counter() - t0) / 60
    with open(os.path.join(WORK, "results.json"), "w") as fh:
        json.dump(dict(meta=meta, runs=runs, notes=notes), fh, indent=1)
    write_report(a.report, meta, runs, notes)
    log(f"report: {a.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
