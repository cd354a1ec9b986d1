#!/usr/bin/env python
"""snn-bench orchestrator: neuromorph vs Brian2 (C++ standalone, OpenMP) vs NEST 3 on COBA / CUBA.

One command from the repo root:  bash experiments/snn-bench/run.sh   (extra flags are passed here)

For each block (model x N) it runs every peer for every seed, interleaved (seed 1: all simulators,
seed 2: all ...), records `uptime` before and after each block, stores every raw result as JSON
under experiments/snn-bench/work/results/, and writes experiments/snn-bench/RESULTS.md plus
results.json (aggregates). Brian2 runs twice per seed: default OpenMP wait policy and
OMP_WAIT_POLICY=PASSIVE (spinning OpenMP threads collapse when other processes share the 2 cores);
at N <= --nest-large-n also on 1 thread (its best setting may be 1 thread on a small network).
neuromorph runs per seed on every kernel path the CPU offers (NM_ISA=avx512|avx2|scalar; the path
that ran is read back from summary.json's `isa`, "unknown" when absent) on 1 and 2 threads, and with
--threads auto (its default: it times chunks on all cores and on one and keeps the faster). The
targets are checked against Brian2's fastest setting (per thread count for the kernel paths). With
--auryn-bin, a last block times Auryn's COBA benchmark against neuromorph (auryn_block.py).

neuromorph: `swift build -c release --product neuromorph` (repo root), then
  <bin>/neuromorph simulate <config.yaml> --duration <D> --seed <S> --threads <T> --out <dir>
which must write <dir>/summary.json. Configs: a copy of configs/coba.yaml, configs/cuba.yaml in work/configs/
(scaled for N != 4000: populations.*.size x f, projections[*].connect.p / f) with monitors reduced to spike
counts and population rates, like Brian2's SpikeMonitor(record=False).
Missing binary/configs => neuromorph is skipped with a note in RESULTS.md.
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import netdefs as nd  # noqa: E402
import auryn_block  # noqa: E402

WORK = os.path.join(HERE, "work")
PY = sys.executable


def sh(cmd: list[str] | str, **kw) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, shell=isinstance(cmd, str), **kw)
        return (r.stdout or r.stderr).strip()
    except OSError as e:
        return f"unavailable ({e})"


def uptime() -> str:
    return sh(["uptime"])


def log(msg: str) -> None:
    print(f"[{_dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------
# kernel paths (issue 11): NM_ISA=scalar|avx2|avx512 forces one; summary.json's `isa` says which ran
# ----------------------------------------------------------------------------------------------
ISA_PATHS = ("avx512", "avx2", "scalar")   # widest first


def isa_offered(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The kernel paths this CPU can run: avx512 (avx512f), avx2 (avx2 + fma), scalar (always)."""
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    out = []
    if "avx512f" in flags:
        out.append("avx512")
    if "avx2" in flags and "fma" in flags:
        out.append("avx2")
    return out + ["scalar"]


def display_argv(argv: list[str], auryn_bin: str | None) -> str:
    """The command line for the report without this machine's paths: paths inside the repository become
    relative, Auryn's binary (built outside it) becomes AURYN_BIN."""
    out = []
    for a in argv:
        if auryn_bin and a in (auryn_bin, f"--auryn-bin={auryn_bin}"):
            a = a.replace(auryn_bin, "AURYN_BIN")
        elif os.path.isabs(a) and os.path.abspath(a).startswith(REPO + os.sep):
            a = os.path.relpath(a, REPO)
        out.append(shlex.quote(a))
    return " ".join(out)


def cpu_ids() -> str:
    """' (family F, model M, stepping S)' from /proc/cpuinfo: VMs often show a bare 'AMD EPYC'."""
    try:
        with open("/proc/cpuinfo") as f:
            kv = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)
        kv = {k.strip(): v.strip() for k, v in kv.items()}
        return f" (family {kv['cpu family']}, model {kv['model']}, stepping {kv['stepping']})"
    except (OSError, KeyError):
        return ""


def isa_env(env: dict, isa: str | None) -> dict:
    env = dict(env)
    env.pop("NM_ISA", None)
    if isa:
        env["NM_ISA"] = isa
    return env


def isa_used(summary: dict) -> str:
    """The path a run used, from its summary.json / report.json; binaries before the kernels branch
    do not record it (and ignore NM_ISA): "unknown"."""
    v = summary.get("isa")
    return str(v) if v else "unknown"


# ----------------------------------------------------------------------------------------------
# neuromorph
# ----------------------------------------------------------------------------------------------
class Neuromorph:
    def __init__(self, args):
        self.args = args
        self.bin = None
        self.runner = None  # neuromorph-run (C-only runner of saved networks), next to the binary
        self.note = None
        self.duration_style = None  # "unit" ("10 s") or "plain" ("10"), found on first run
        self.version = None

    def prepare(self) -> None:
        a = self.args
        if a.neuromorph_bin:
            if os.access(a.neuromorph_bin, os.X_OK):
                self.bin = os.path.abspath(a.neuromorph_bin)
                runner = os.path.join(os.path.dirname(self.bin), "neuromorph-run")
                self.runner = runner if os.access(runner, os.X_OK) else None
            else:
                self.note = f"neuromorph skipped: --neuromorph-bin {a.neuromorph_bin} is not an executable."
            return
        if not shutil.which("swift"):
            self.note = "neuromorph skipped: `swift` not on PATH."
            return
        scratch = ["--scratch-path", a.scratch_path] if a.scratch_path else []
        cmd = ["swift", "build", "-c", "release", *scratch]   # both products: neuromorph, neuromorph-run
        log("building neuromorph: " + " ".join(cmd))
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        logf = os.path.join(WORK, "neuromorph_build.log")
        with open(logf, "w") as f:
            f.write(r.stdout + "\n" + r.stderr)
        if r.returncode != 0:
            tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-5:])
            self.note = (f"neuromorph skipped: `{' '.join(cmd)}` failed (exit {r.returncode}, log "
                         f"work/neuromorph_build.log):\n```\n{tail}\n```")
            return
        binpath = sh(["swift", "build", "-c", "release", "--show-bin-path", *scratch], cwd=REPO).splitlines()[-1]
        exe = os.path.join(binpath, "neuromorph")
        if not os.access(exe, os.X_OK):
            self.note = f"neuromorph skipped: build succeeded but {exe} is missing."
            return
        self.bin = exe
        runner = os.path.join(binpath, "neuromorph-run")
        self.runner = runner if os.access(runner, os.X_OK) else None
        log(f"neuromorph built in {dt:.0f} s: {exe}")

    def config_for(self, model: str, n: int) -> str | None:
        base = os.path.join(self.args.configs_dir, f"{model}.yaml")
        if not os.path.isfile(base):
            return None
        import yaml
        with open(base) as f:
            cfg = yaml.safe_load(f)
        pops = cfg.get("populations") or {}
        n0 = sum(int(p["size"]) for p in pops.values())
        # Like Brian2's SpikeMonitor(record=False): count spikes (neuromorph always counts per
        # population) and record population rates, but no spike times or sampled state.
        cfg["monitors"] = {"spikes": "none", "rates": {"bin": "1 ms"}}
        scale = n / n0
        for p in pops.values():
            p["size"] = int(round(int(p["size"]) * scale))
        for pr in cfg.get("projections") or []:
            c = pr.get("connect") or {}
            if "p" in c:
                c["p"] = float(c["p"]) / scale
        got = sum(int(p["size"]) for p in pops.values())
        if got != n:
            raise ValueError(f"scaling {base} to N={n} gave {got} neurons")
        out = os.path.join(WORK, "configs", f"{model}_{n}.yaml")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(f"# generated by experiments/snn-bench/run.py from {os.path.relpath(base, REPO)}: N {n0} -> {n}, spike counts only\n")
            yaml.safe_dump(cfg, f, sort_keys=False)
        return out

    def run_saved(self, model: str, n: int, duration: float, seed: int, threads: int, env: dict) -> dict:
        """Brian2-standalone-like workflow: `neuromorph simulate CFG --save-network F` builds and saves
        the network (the Swift process, like Brian2's code generation), `neuromorph-run F` (the engine
        alone, in C, like Brian2's ./main) runs it. Peak RSS = the runner; workflow = max of both."""
        cfg = self.config_for(model, n)
        settle()
        if cfg is None:
            return {"skipped": f"{os.path.relpath(os.path.join(self.args.configs_dir, model + '.yaml'), REPO)} does not exist yet"}
        if not self.runner:
            return {"skipped": "neuromorph-run was not built"}
        base = os.path.join(WORK, "neuromorph_run", f"{model}_{n}_s{seed}_t{threads}")
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base, exist_ok=True)
        net, out = os.path.join(base, "network.nmnet"), os.path.join(base, "out")
        tv1, tv2 = os.path.join(base, "save.time_v.txt"), os.path.join(base, "run.time_v.txt")
        cmd1 = ["/usr/bin/time", "-v", "-o", tv1, self.bin, "simulate", cfg, "--seed", str(seed), "--save-network", net]
        t0 = time.perf_counter()
        r1 = subprocess.run(cmd1, capture_output=True, text=True, env=env, timeout=self.args.timeout)
        save_wall = time.perf_counter() - t0
        if r1.returncode != 0:
            return {"error": f"exit {r1.returncode}: {' '.join(map(shlex.quote, cmd1))}\n{(r1.stderr or r1.stdout)[-800:]}"}
        settle()
        cmd2 = ["/usr/bin/time", "-v", "-o", tv2, self.runner, net, "--duration", f"{duration:g}", "--threads", str(threads),
                "--out", out]
        t0 = time.perf_counter()
        r2 = subprocess.run(cmd2, capture_output=True, text=True, env=env, timeout=self.args.timeout)
        run_wall = time.perf_counter() - t0
        if r2.returncode != 0:
            return {"error": f"exit {r2.returncode}: {' '.join(map(shlex.quote, cmd2))}\n{(r2.stderr or r2.stdout)[-800:]}"}
        try:
            with open(os.path.join(out, "summary.json")) as f:
                s = json.load(f)
        except (OSError, ValueError) as e:
            return {"error": f"no readable summary.json in {out}: {e}"}
        tva, tvb = nd.parse_time_v(tv1), nd.parse_time_v(tv2)
        rss_run = tvb.get("peak_rss_bytes") or s.get("peak_rss_bytes")
        pops = {k: dict(v) for k, v in (s.get("populations") or {}).items()}
        return dict(
            simulator="neuromorph-run", model=model, neurons=s.get("neurons"), synapses=s.get("synapses"),
            synaptic_events=s.get("synaptic_events"), spikes=s.get("spikes"), duration_s=s.get("simulated_seconds", duration),
            seed=seed, threads=threads, threads_used=s.get("threads"), threads_mode="fixed",
            build_seconds=save_wall + (s.get("build_seconds") or 0), save_process_seconds=save_wall,
            load_seconds=s.get("build_seconds"), simulate_seconds=s.get("wall_seconds"),
            realtime_factor=s.get("realtime_factor"), peak_rss_bytes=rss_run, peak_rss_bytes_self_reported=s.get("peak_rss_bytes"),
            peak_rss_bytes_workflow=max(rss_run or 0, tva.get("peak_rss_bytes") or 0) or None,
            peak_rss_bytes_save=tva.get("peak_rss_bytes"), process_wall_seconds=run_wall, time_v=tvb, isa=isa_used(s),
            populations=pops, config=os.path.relpath(cfg, REPO), network_file_bytes=os.path.getsize(net),
            loadavg=nd.loadavg(), omp_wait_policy=env.get("OMP_WAIT_POLICY", "default"),
        )

    def run(self, model: str, n: int, duration: float, seed: int, threads: int | str, env: dict,
            isa: str | None = None) -> dict:
        """One `neuromorph simulate` run; `isa` forces a kernel path through NM_ISA (None = the binary's
        own choice). The path that actually ran is read back from summary.json's `isa`."""
        cfg = self.config_for(model, n)
        settle()
        if cfg is None:
            return {"skipped": f"{os.path.relpath(os.path.join(self.args.configs_dir, model + '.yaml'), REPO)} does not exist yet"}
        env = isa_env(env, isa)
        outdir = os.path.join(WORK, "neuromorph_out", f"{model}_{n}_s{seed}_t{threads}" + (f"_{isa}" if isa else ""))
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(os.path.dirname(outdir), exist_ok=True)
        timefile = outdir + ".time_v.txt"
        styles = [self.duration_style] if self.duration_style else ["unit", "plain"]
        last = None
        for style in styles:
            dur = f"{duration:g} s" if style == "unit" else f"{duration:g}"
            cmd = ["/usr/bin/time", "-v", "-o", timefile, self.bin, "simulate", cfg, "--duration", dur,
                   "--seed", str(seed), "--threads", str(threads), "--out", outdir]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=self.args.timeout)
            wall = time.perf_counter() - t0
            last = (cmd, r)
            if r.returncode == 0:
                self.duration_style = style
                break
        cmd, r = last
        if r.returncode != 0:
            return {"error": f"exit {r.returncode}: {' '.join(map(shlex.quote, cmd))}\n{(r.stderr or r.stdout)[-800:]}"}
        try:
            with open(os.path.join(outdir, "summary.json")) as f:
                s = json.load(f)
        except (OSError, ValueError) as e:
            return {"error": f"no readable summary.json in {outdir}: {e}"}
        tv = nd.parse_time_v(timefile)
        pops = {k: dict(v) for k, v in (s.get("populations") or {}).items()}
        res = dict(
            simulator="neuromorph", model=model, neurons=s.get("neurons"), synapses=s.get("synapses"),
            synaptic_events=s.get("synaptic_events"), spikes=s.get("spikes"), duration_s=s.get("simulated_seconds", duration),
            seed=seed, threads=threads, threads_used=s.get("threads"), threads_mode=s.get("threads_mode"),
            build_seconds=s.get("build_seconds"), simulate_seconds=s.get("wall_seconds"),
            realtime_factor=s.get("realtime_factor"), peak_rss_bytes=tv.get("peak_rss_bytes") or s.get("peak_rss_bytes"),
            peak_rss_bytes_self_reported=s.get("peak_rss_bytes"), process_wall_seconds=wall, time_v=tv,
            populations=pops, config=os.path.relpath(cfg, REPO), loadavg=nd.loadavg(),
            omp_wait_policy=env.get("OMP_WAIT_POLICY", "default"),
            isa_requested=isa or "default", isa=isa_used(s),
        )
        if res["realtime_factor"] is None and res["simulate_seconds"] and res["duration_s"]:
            res["realtime_factor"] = res["simulate_seconds"] / res["duration_s"]
        return res


# ----------------------------------------------------------------------------------------------
# peers
# ----------------------------------------------------------------------------------------------
SETTLE_SECONDS = 10.0


def settle() -> None:
    """Idle before every timed run, whatever the simulator. On this VM the seconds after a process
    exits that held hundreds of MB (NEST, Python) run 2-3x slower (the host takes the freed memory
    back); a run starting then would pay for its predecessor."""
    time.sleep(SETTLE_SECONDS)


def run_peer(script: str, model: str, n: int, duration: float, seed: int, threads: int, env: dict,
             out: str, timeout: float, extra: list[str] | None = None) -> dict:
    settle()
    cmd = [PY, os.path.join(HERE, script), "--model", model, "--n", str(n), "--duration", f"{duration:g}",
           "--seed", str(seed), "--threads", str(threads), "--out", out, *(extra or [])]
    logf = out.replace(".json", ".log")
    try:
        os.remove(out)
    except FileNotFoundError:
        pass
    t0 = time.perf_counter()
    try:
        with open(logf, "w") as lf:
            r = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env, timeout=timeout)
        rc = r.returncode
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s: {' '.join(cmd)}"}
    if rc != 0 or not os.path.isfile(out):
        tail = open(logf).read()[-800:]
        return {"error": f"exit {rc}: {' '.join(cmd)}\n{tail}"}
    with open(out) as f:
        res = json.load(f)
    res["process_wall_seconds"] = time.perf_counter() - t0
    return res


# ----------------------------------------------------------------------------------------------
# statistics and report
# ----------------------------------------------------------------------------------------------
def stats(xs: list[float | None]) -> dict | None:
    v = [float(x) for x in xs if x is not None]
    if not v:
        return None
    return dict(n=len(v), mean=statistics.fmean(v), sd=statistics.stdev(v) if len(v) > 1 else 0.0,
                median=statistics.median(v), min=min(v), max=max(v))


def fmt(s: dict | None, digits: int = 2, scale: float = 1.0) -> str:
    if not s:
        return "–"
    return f"{s['mean'] * scale:.{digits}f} ± {s['sd'] * scale:.{digits}f} (med {s['median'] * scale:.{digits}f})"


def guarded(run, timeout: float, *args) -> dict:
    """One neuromorph run (`nm.run` or `nm.run_saved`); failures become {"error": ...} so the benchmark
    goes on."""
    try:
        return run(*args)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    except Exception as e:  # noqa: BLE001 - report, do not abort the benchmark
        return {"error": f"{type(e).__name__}: {e}"}


def aggregate(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r and "skipped" not in r]
    agg = dict(runs=len(runs), ok=len(ok), errors=[r.get("error") or r.get("skipped") for r in runs if r not in ok])
    if not ok:
        return agg
    agg["build"] = stats([r.get("build_seconds") for r in ok])
    agg["compile"] = stats([r.get("compile_seconds") for r in ok])
    agg["simulate"] = stats([r.get("simulate_seconds") for r in ok])
    agg["rtf"] = stats([r.get("realtime_factor") for r in ok])
    agg["rss_mib"] = stats([(r.get("peak_rss_bytes") or 0) / 2**20 if r.get("peak_rss_bytes") else None for r in ok])
    agg["synapses"] = stats([r.get("synapses") for r in ok])
    agg["rss_before_recorders_mib"] = stats([r["peak_rss_bytes_before_recorders"] / 2**20 for r in ok
                                             if r.get("peak_rss_bytes_before_recorders")])
    agg["duration_s"] = ok[0].get("duration_s")
    agg["rss_workflow_mib"] = stats([r["peak_rss_bytes_workflow"] / 2**20 for r in ok if r.get("peak_rss_bytes_workflow")])
    agg["threads_used"] = sorted(int(r["threads_used"]) for r in ok if r.get("threads_used"))
    agg["isa_used"] = sorted({str(r["isa"]) for r in ok if r.get("isa")})
    agg["spikes_by_seed"] = {str(r["seed"]): r.get("spikes") for r in ok if r.get("seed") is not None}
    pops = {}
    windows: dict = {}
    for name in ("exc", "inh"):
        pops[name] = stats([(r.get("populations") or {}).get(name, {}).get("mean_rate_hz") for r in ok])
        keys = set()
        for r in ok:
            keys |= set(((r.get("populations") or {}).get(name, {}).get("window_rates_hz") or {}).keys())
        for k in keys:
            windows.setdefault(k, {})[name] = stats(
                [((r.get("populations") or {}).get(name, {}).get("window_rates_hz") or {}).get(k) for r in ok])
    agg["rate"] = pops
    agg["window_rates"] = windows  # {"1": {"exc": stats, "inh": stats}}: rates over [0, 1 s]
    return agg


def matched_rates(a: dict, b: dict) -> tuple[dict, dict, str] | None:
    """Rates of a and b over the same simulated window (full runs, or a window of the longer run)."""
    da, db = a.get("duration_s"), b.get("duration_s")
    if da == db:
        return a["rate"], b["rate"], f"{da:g} s"
    if da and db and da > db and f"{db:g}" in (a.get("window_rates") or {}):
        return a["window_rates"][f"{db:g}"], b["rate"], f"first {db:g} s"
    if da and db and db > da and f"{da:g}" in (b.get("window_rates") or {}):
        return a["rate"], b["window_rates"][f"{da:g}"], f"first {da:g} s"
    return None


def ratio(a: dict | None, b: dict | None, key: str = "median") -> str:
    if not a or not b or not b.get(key):
        return "–"
    return f"{a[key] / b[key]:.3g}×"


def rel_diff(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or not b.get("mean"):
        return None
    return (a["mean"] - b["mean"]) / b["mean"]


def is_isa_row(key: str) -> bool:
    parts = key.split()
    return len(parts) == 3 and parts[0] == "neuromorph" and parts[1] in ISA_PATHS and parts[2].endswith("t")


def brian2_fastest(sims: dict, threads: int | None) -> tuple[str, dict] | None:
    """Brian2's fastest setting (lowest median RTF): on `threads` threads (1: `brian2 1 thread`; more: the
    default and PASSIVE wait policies), or over every setting when threads is None."""
    if threads is None:
        keys = [k for k in sims if k.startswith("brian2")]
    elif threads == 1:
        keys = ["brian2 1 thread"]
    else:
        keys = ["brian2", "brian2 PASSIVE"]
    ok = {k: sims[k] for k in keys if k in sims and sims[k].get("ok") and sims[k].get("rtf")}
    if not ok:
        return None
    k = min(ok, key=lambda x: ok[x]["rtf"]["median"])
    return k, ok[k]


ISA_TARGET_BRIAN2 = 4.0      # issue 11: AVX2 path >= 4x Brian2's fastest setting, 1 thread each and 2 each
ISA_TARGET_AVX2_VS_512 = 1.6  # AVX2 per core within 1.6x of AVX-512
ISA_TARGET_SCALAR_VS_AVX2 = 3.0


def isa_section(b: dict) -> list[str]:
    """Per kernel path and thread count: neuromorph against Brian2's fastest setting, the per-core ratios
    between paths, and whether every path gave the same spike count for each seed."""
    rows = {k: v for k, v in b["sims"].items() if is_isa_row(k)}
    if not rows:
        return []
    L = ["Kernel paths (`NM_ISA` forces a path; *used* is what summary.json reports: `unknown` = a binary that "
         "does not record it, and then ignores NM_ISA). Speed-up = Brian2's fastest setting on the same thread "
         "count / neuromorph (median RTF; Brian2 on 1 thread = `brian2 1 thread`, on 2 = the faster of its "
         "default and PASSIVE wait policies):\n",
         "| path | used | threads | simulate (s), median | RTF | Brian2 fastest, same threads | speed-up | "
         "vs Brian2's fastest overall | target ≥ 4× (AVX2) |",
         "|---|---|---|---|---|---|---|---|---|"]
    med: dict[tuple[str, int], float] = {}
    for k, v in rows.items():
        _, isa, t = k.split()
        th = int(t[:-1])
        if not v.get("ok"):
            why = "; ".join(sorted({(e or "").splitlines()[0] for e in v.get("errors", [])}))[:200]
            L.append(f"| {isa} | – | {th} | – | – | – | – | – | failed: {why} |")
            continue
        rtf = v["rtf"]["median"]
        ran_it = (v.get("isa_used") or []) == [isa]   # the binary says it ran the path we asked for
        if ran_it:
            med[(isa, th)] = rtf
        same, best = brian2_fastest(b["sims"], th), brian2_fastest(b["sims"], None)
        sp = same[1]["rtf"]["median"] / rtf if same else None
        spb = best[1]["rtf"]["median"] / rtf if best else None
        tgt = ("–" if isa != "avx2" or sp is None else
               "not checked: path not confirmed" if not ran_it else
               "met" if sp >= ISA_TARGET_BRIAN2 else "NOT met")
        same_s = f"{same[0]} ({same[1]['rtf']['median']:.4f})" if same else "–"
        sp_s = f"{sp:.1f}×" if sp else "–"
        spb_s = f"{spb:.1f}× ({best[0]})" if spb else "–"
        used = ", ".join(v.get("isa_used") or ["unknown"])
        L.append(f"| {isa} | {used} | {th} | {v['simulate']['median']:.3f} | {rtf:.4f} | {same_s} | {sp_s} | {spb_s} | {tgt} |")
    L.append("")
    lines = []
    for a, c, lim, what in (("avx2", "avx512", ISA_TARGET_AVX2_VS_512, "AVX2 / AVX-512"),
                            ("scalar", "avx2", ISA_TARGET_SCALAR_VS_AVX2, "scalar / AVX2")):
        for th in sorted({t for (_, t) in med}):
            if (a, th) in med and (c, th) in med:
                r = med[(a, th)] / med[(c, th)]
                lines.append(f"{what} on {th} thread{'s' if th > 1 else ''}: {r:.2f}× the time (target ≤ {lim:g}×: "
                             f"{'met' if r <= lim else 'NOT met'})")
    if lines:
        L.append("Per-core ratios between paths (median RTF; only rows whose summary.json confirms the path): "
                 + "; ".join(lines) + ".\n")
    used = {u for v in rows.values() for u in (v.get("isa_used") or [])}
    if used <= {"unknown"}:
        L.append("**The binary does not report its kernel path (no `isa` in summary.json): NM_ISA was most likely "
                 "ignored, so these rows all ran the same code; no path target is checked.**\n")
    # same seed => same spikes on every path and thread count (issue 11: bit-identical across paths)
    seeds = sorted({s for v in rows.values() for s in (v.get("spikes_by_seed") or {})}, key=int)
    diff = [s for s in seeds if len({v["spikes_by_seed"][s] for v in rows.values() if s in (v.get("spikes_by_seed") or {})}) > 1]
    if seeds:
        L.append(f"Spike counts per seed across every path and thread count: "
                 + ("identical for every seed." if not diff else f"**differ for seed(s) {', '.join(diff)}**.") + "\n")
    return L


def write_report(path: str, meta: dict, blocks: list[dict], nm_note: str | None, tol: float,
                 auryn: dict | None = None) -> None:
    L = []
    L.append("# snn-bench results: neuromorph vs Brian2 (C++ standalone, OpenMP) vs NEST 3\n")
    L.append(f"Generated {meta['date']} by `bash experiments/snn-bench/run.sh {meta['argv']}` "
             f"(total {meta.get('total_minutes', 0):.1f} min).\n")
    L.append("## Machine and versions\n")
    for k in ("cpu", "isa_offered", "nproc", "memory", "python", "brian2", "nest", "gxx", "swift", "neuromorph_commit"):
        L.append(f"- {k}: {meta.get(k)}")
    L.append(f"- threads: {meta['threads']}, seeds: {meta['seeds']} (Brian2 PASSIVE and NEST: "
             f"{meta.get('slow_seeds', meta['seeds'])}), dt = {nd.DT_MS} ms, delay = {nd.DELAY_MS} ms")
    L.append(f"- uptime at start: `{meta['uptime_start']}`; at end: `{meta.get('uptime_end')}`")
    L.append("")
    L.append("Networks: see MODELS.md (COBA = Brette et al. 2007 benchmark 1, CUBA = Brian2 examples/CUBA.py; "
             "N_E = 0.8 N, p = 80/N, pairwise Bernoulli without autapses). Times are wall clock seconds; every run "
             f"(all simulators) starts after {meta.get('settle', 0):g} s of idling (on this VM the seconds after a large "
             "process exits run 2-3x slower). "
             "*build*: network construction (Brian2: inside the standalone binary = initialisation + "
             "synapse creation + result writing; NEST: Create + Connect + Prepare; neuromorph: its "
             "`build_seconds`). *compile*: Brian2 code generation + C++ compilation (reused build "
             "directory: the first run per block compiles everything, later runs only main.cpp). "
             "*simulate*: the time-stepping loop only. RTF = simulate / simulated time (lower is faster). "
             "Peak RSS: Brian2 = the ./main child (GNU time -v); NEST = the whole Python process "
             "(ru_maxrss, ~80 MB of it is Python + NEST); neuromorph = the process (GNU time -v). "
             f"*neuromorph* = `--threads {meta['threads']}`; *neuromorph auto* = `--threads auto` (the default). "
             "*brian2 1 thread*: Brian2 with openmp_threads = 1 (small networks only). "
             "*neuromorph-run*: Brian2-standalone-like workflow: `neuromorph simulate CONFIG --save-network FILE` "
             "(the Swift process builds and saves the network: its time is *build*, with the runner's loading) and "
             f"`neuromorph-run FILE --threads {meta['threads']}` (the engine alone, in C, no Swift runtime: its peak "
             "RSS is the table's, like Brian2's ./main).\n")
    if nm_note:
        L.append(f"**neuromorph:** {nm_note}\n")
    for b in blocks:
        L.append(f"## {b['model'].upper()} N = {b['n']} ({b['n_exc']} exc / {b['n_inh']} inh, p = {b['p']:.4g})\n")
        L.append(f"- uptime before: `{b['uptime_before']}`")
        L.append(f"- uptime after: `{b['uptime_after']}`  (block took {b['minutes']:.1f} min)")
        L.append("")
        L.append("| simulator | simulated (s) | build (s) | compile (s) | simulate (s) | RTF | peak RSS (MiB) | "
                 "synapses | exc rate (Hz) | inh rate (Hz) | runs ok |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, agg in b["sims"].items():
            if not agg.get("ok"):
                why = "; ".join(sorted({(e or "").splitlines()[0] for e in agg.get("errors", [])}))[:300]
                L.append(f"| {name} | – | – | – | – | – | – | – | – | – | 0/{agg.get('runs', 0)}: {why} |")
                continue
            syn = agg["synapses"]["mean"] if agg.get("synapses") else None
            L.append(f"| {name} | {agg.get('duration_s')} | {fmt(agg.get('build'))} | {fmt(agg.get('compile'), 1)} | "
                     f"{fmt(agg.get('simulate'))} | {fmt(agg.get('rtf'), 3)} | {fmt(agg.get('rss_mib'), 0)} | "
                     f"{syn:.0f} | {fmt(agg['rate'].get('exc'))} | {fmt(agg['rate'].get('inh'))} | "
                     f"{agg['ok']}/{agg['runs']} |" if syn is not None else
                     f"| {name} | {agg.get('duration_s')} | {fmt(agg.get('build'))} | – | {fmt(agg.get('simulate'))} | "
                     f"{fmt(agg.get('rtf'), 3)} | {fmt(agg.get('rss_mib'), 0)} | – | {fmt(agg['rate'].get('exc'))} | "
                     f"{fmt(agg['rate'].get('inh'))} | {agg['ok']}/{agg['runs']} |")
        L.append("")
        nm_keys = [k for k in b["sims"] if k.startswith("neuromorph") and not is_isa_row(k)]
        peers = [k for k in b["sims"] if not k.startswith("neuromorph")]
        for nk in nm_keys:
            nm = b["sims"][nk]
            if not (nm.get("ok") and any(b["sims"][k].get("ok") for k in peers)):
                continue
            L.append(f"Ratios {nk} / peer (medians; RTF compares runs of different simulated length "
                     "fairly; < 1 means neuromorph is faster or smaller):\n")
            L.append("| peer | RTF ratio | speed-up | build ratio | peak RSS ratio | exc rate diff | inh rate diff |")
            L.append("|---|---|---|---|---|---|---|")
            for pk in peers:
                pa = b["sims"][pk]
                if not pa.get("ok"):
                    continue
                mr = matched_rates(nm, pa)
                de = rel_diff(mr[0].get("exc"), mr[1].get("exc")) if mr else None
                di = rel_diff(mr[0].get("inh"), mr[1].get("inh")) if mr else None
                sp = (f"{pa['rtf']['median'] / nm['rtf']['median']:.1f}×" if nm.get("rtf") and pa.get("rtf") and
                      nm["rtf"].get("median") else "–")
                L.append(f"| {pk} | {ratio(nm.get('rtf'), pa.get('rtf'))} | {sp} | {ratio(nm.get('build'), pa.get('build'))} | "
                         f"{ratio(nm.get('rss_mib'), pa.get('rss_mib'))} | "
                         f"{'–' if de is None else f'{de * 100:+.1f} %'} | {'–' if di is None else f'{di * 100:+.1f} %'} |")
            L.append("")
        L.extend(isa_section(b))
        na = b["sims"].get("neuromorph auto")
        if na and na.get("ok") and na.get("threads_used"):
            tu = na["threads_used"]
            L.append(f"neuromorph auto settled on {', '.join(str(t) for t in tu)} thread(s) (one entry per run).\n")
        # target check: neuromorph's default (auto) against Brian2's fastest setting
        nd_def = na if (na and na.get("ok")) else b["sims"].get("neuromorph")
        bri = {k: v for k, v in b["sims"].items() if k.startswith("brian2") and v.get("ok") and v.get("rtf")}
        if nd_def and nd_def.get("ok") and bri:
            bk = min(bri, key=lambda k: bri[k]["rtf"]["median"])
            spd = bri[bk]["rtf"]["median"] / nd_def["rtf"]["median"]
            L.append(f"**Target (≥ 4× Brian2): neuromorph {'auto' if nd_def is na else 'fixed'} is {spd:.1f}× Brian2's fastest "
                     f"setting here ({bk}) — {'met' if spd >= 4 else 'NOT met'}.**\n")
        bw = b["sims"].get("brian2")
        if bw and bw.get("ok") and bw.get("rss_workflow_mib"):
            L.append(f"Brian2 peak RSS of the whole workflow (the Python process that generates the code, the C++ compiler, "
                     f"./main; the table's figure is ./main alone): {fmt(bw['rss_workflow_mib'], 0)} MiB.\n")
        # memory target: below both peers (runner vs the peers' simulating processes)
        nr = b["sims"].get("neuromorph-run")
        prs = {k: v for k, v in b["sims"].items() if not k.startswith("neuromorph") and v.get("ok") and v.get("rss_mib")}
        if nr and nr.get("ok") and nr.get("rss_mib") and prs:
            lo = min(prs, key=lambda k: prs[k]["rss_mib"]["median"])
            mr = nr["rss_mib"]["median"]
            parts = ", ".join(f"{k} {v['rss_mib']['median']:.1f}" for k, v in prs.items())
            L.append(f"**Target (peak memory below both peers): neuromorph-run {mr:.1f} MiB (median) vs {parts} MiB — "
                     f"{'met' if mr < prs[lo]['rss_mib']['median'] else 'NOT met'} "
                     f"({mr / prs[lo]['rss_mib']['median']:.2f}× the smallest, {lo}).** "
                     + (f"The whole neuromorph workflow (save + run) peaks at {fmt(nr.get('rss_workflow_mib'), 0)} MiB "
                        f"(the Swift process that builds and saves)" if nr.get("rss_workflow_mib") else "")
                     + (f"; `neuromorph simulate` in one process: {fmt(b['sims']['neuromorph'].get('rss_mib'), 0)} MiB." if
                        b["sims"].get("neuromorph", {}).get("ok") else ".") + "\n")
        # rate agreement verdict (same simulated window only)
        oks = {k: v for k, v in b["sims"].items() if v.get("ok")}
        names = list(oks)
        worst = 0.0
        pairs, unmatched = [], []
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                mr = matched_rates(oks[names[i]], oks[names[j]])
                if mr is None:
                    unmatched.append(f"{names[i]} vs {names[j]}")
                    continue
                for pop in ("exc", "inh"):
                    d = rel_diff(mr[0].get(pop), mr[1].get(pop))
                    if d is not None:
                        worst = max(worst, abs(d))
                        pairs.append((abs(d), f"{names[i]} vs {names[j]} {pop} {d * 100:+.1f} % ({mr[2]})"))
        if pairs:
            pairs.sort(reverse=True)
            verdict = "agree" if worst <= tol else "do NOT agree"
            L.append(f"**Rates {verdict} within {tol * 100:.0f} %** (largest difference of means over the same "
                     f"simulated window: {pairs[0][1]}; seed-to-seed sd is in the table).")
            if unmatched:
                L.append(f"Not compared (different simulated windows): {', '.join(unmatched)}.")
            for k, rs in sorted((oks.get("brian2") or {}).get("window_rates", {}).items()):
                L.append(f"Brian2 rates over the first {k} s: exc {fmt(rs.get('exc'))}, inh {fmt(rs.get('inh'))} Hz.")
            L.append("")
        ns = b["sims"].get("nest")
        if ns and ns.get("ok") and ns.get("rss_before_recorders_mib"):
            L.append(f"NEST peak RSS before the spike recorders were connected (network only, before Prepare): "
                     f"{fmt(ns['rss_before_recorders_mib'], 0)} MiB (NEST 3.10 spends ~31 KB per "
                     f"neuron->spike_recorder connection).\n")
        bp = b["sims"].get("brian2")
        bq = b["sims"].get("brian2 PASSIVE")
        if bp and bq and bp.get("ok") and bq.get("ok"):
            L.append(f"OMP_WAIT_POLICY: Brian2 simulate median default {bp['simulate']['median']:.2f} s vs "
                     f"PASSIVE {bq['simulate']['median']:.2f} s (PASSIVE/default = "
                     f"{bq['simulate']['median'] / bp['simulate']['median']:.2f}; load: see uptime).\n")
    if auryn is not None:
        L.extend(auryn_block.report_section(auryn))
    L.append("Raw per-run JSON: experiments/snn-bench/work/results/ (git-ignored); aggregates: results.json.\n")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(L))
    os.replace(path + ".tmp", path)


def main() -> int:
    global SETTLE_SECONDS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="coba,cuba", help="comma list of coba,cuba,cobahh")
    ap.add_argument("--sizes", default="4000,40000")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--slow-seeds", type=int, default=3,
                    help="Brian2 PASSIVE and NEST (minutes per run here) use only the first N seeds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration", type=float, default=10.0, help="simulated seconds")
    ap.add_argument("--nest-large-duration", type=float, default=1.0,
                    help="NEST simulated seconds when N > --nest-large-n (bounds total time)")
    ap.add_argument("--nest-large-n", type=int, default=4000)
    ap.add_argument("--peers", default="brian2,brian2-1t,brian2-passive,nest,neuromorph-isa,neuromorph-auto,neuromorph-run",
                    help="subset of brian2,brian2-1t,brian2-passive,nest,nest-passive,neuromorph,neuromorph-isa,"
                         "neuromorph-auto,neuromorph-run (brian2-1t = Brian2 on 1 thread; neuromorph = --threads "
                         "--threads on the binary's own path; neuromorph-isa = every path of --isa on every thread count "
                         "of --isa-threads, forced with NM_ISA; neuromorph-auto = neuromorph --threads auto; nest-passive "
                         "= NEST with OMP_WAIT_POLICY=PASSIVE, not run by default)")
    ap.add_argument("--isa", default="auto",
                    help="kernel paths for neuromorph-isa: 'auto' = every path this CPU offers (%s here), or a comma "
                         "list of avx512,avx2,scalar" % ",".join(isa_offered()))
    ap.add_argument("--isa-threads", default="1,2", help="thread counts for neuromorph-isa (comma list)")
    ap.add_argument("--brian2-1t-max-n", type=int, default=0,
                    help="run brian2-1t only at N <= this (0 = every size; the 1-thread targets need it everywhere)")
    ap.add_argument("--auryn-bin", default=None,
                    help="Auryn's sim_coba_benchmark binary (built by the user from fzenke/auryn, outside this "
                         "repository): adds the Auryn COBA block; without it the block is skipped with a note")
    ap.add_argument("--auryn-seeds", default=None, help="seeds of the Auryn block (default: --seeds)")
    ap.add_argument("--auryn-duration", type=float, default=None, help="simulated seconds of the Auryn block (default: --duration)")
    ap.add_argument("--auryn-ranks", default="1,2", help="Auryn MPI ranks (= neuromorph threads) per comparison")
    ap.add_argument("--no-auryn", action="store_true", help="leave the Auryn block out (no note)")
    ap.add_argument("--neuromorph-bin", default=None, help="use this binary instead of building")
    ap.add_argument("--configs-dir", default=os.path.join(REPO, "configs"),
                    help="where <model>.yaml (N = 4000) live (default: configs/)")
    ap.add_argument("--scratch-path", default=None, help="swift build --scratch-path (default .build)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per-run timeout (s)")
    ap.add_argument("--rate-tolerance", type=float, default=0.05)
    ap.add_argument("--settle", type=float, default=SETTLE_SECONDS,
                    help="seconds of idling before every timed run (default %(default)s)")
    ap.add_argument("--report", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()

    SETTLE_SECONDS = args.settle
    models = [m for m in args.models.split(",") if m]
    sizes = [int(x) for x in args.sizes.split(",") if x]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    peers = [p for p in args.peers.split(",") if p]
    for m in models:
        if m not in nd.MODELS:
            ap.error(f"--models: unknown model '{m}' (expected {', '.join(nd.MODELS)})")
    for p in peers:
        if p not in ("brian2", "brian2-1t", "brian2-passive", "nest", "nest-passive", "neuromorph", "neuromorph-isa",
                     "neuromorph-auto", "neuromorph-run"):
            ap.error(f"--peers: unknown peer '{p}'")
    offered = isa_offered()
    isas = offered if args.isa == "auto" else [x for x in args.isa.split(",") if x]
    for x in isas:
        if x not in ISA_PATHS:
            ap.error(f"--isa: unknown path '{x}' (expected auto or a comma list of {', '.join(ISA_PATHS)})")
        if x not in offered:
            ap.error(f"--isa: this CPU does not offer '{x}' (it offers {', '.join(offered)})")
    try:
        isa_threads = [int(x) for x in args.isa_threads.split(",") if x]
        auryn_ranks = [int(x) for x in args.auryn_ranks.split(",") if x]
    except ValueError:
        ap.error("--isa-threads and --auryn-ranks take comma lists of integers")
    if not isa_threads or min(isa_threads) < 1 or not auryn_ranks or min(auryn_ranks) < 1:
        ap.error("--isa-threads and --auryn-ranks need at least one count >= 1")
    os.makedirs(os.path.join(WORK, "results"), exist_ok=True)
    if not os.access("/usr/bin/time", os.X_OK):
        ap.error("/usr/bin/time missing: run setup_venv.sh (installs Debian package `time`)")

    import importlib.metadata as im
    t_start = time.perf_counter()
    meta = dict(
        date=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"), argv=display_argv(sys.argv[1:], args.auryn_bin),
        cpu=nd.cpu_model() + cpu_ids(), nproc=os.cpu_count(),
        memory=sh("free -g | awk '/Mem:/{print $2\" GiB\"}'"),
        python=sys.version.split()[0], brian2=im.version("brian2"), nest=im.version("nest-simulator"),
        gxx=sh(["g++", "--version"]).splitlines()[0] if shutil.which("g++") else "missing",
        swift=(sh(["swift", "--version"]).splitlines() or ["?"])[0] if shutil.which("swift") else "missing",
        neuromorph_commit=sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]),
        isa_offered=", ".join(offered), isa_paths=isas, isa_threads=isa_threads,
        threads=args.threads, seeds=seeds, slow_seeds=seeds[:args.slow_seeds], settle=args.settle, uptime_start=uptime(),
    )
    log(f"start; uptime: {meta['uptime_start']}")

    nm = Neuromorph(args) if ({"neuromorph", "neuromorph-isa", "neuromorph-auto", "neuromorph-run"} & set(peers)
                              or (args.auryn_bin and not args.no_auryn)) else None
    nm_note = None
    if nm:
        nm.prepare()
        nm_note = nm.note
        if nm_note:
            log(nm_note.splitlines()[0])
    else:
        nm_note = "not requested (--peers)."

    base_env = dict(os.environ)
    base_env.pop("OMP_WAIT_POLICY", None)
    base_env.pop("NM_ISA", None)   # the default rows run the binary's own choice
    blocks = []
    for model in models:
        for n in sizes:
            ne, ni = nd.sizes(n)
            blk = dict(model=model, n=n, n_exc=ne, n_inh=ni, p=nd.conn_prob(n), uptime_before=uptime())
            log(f"block {model} N={n}; uptime: {blk['uptime_before']}")
            t0 = time.perf_counter()
            runs: dict[str, list] = {}
            bdir = os.path.join(WORK, "brian2", f"{model}_{n}_t{args.threads}")
            rdir = os.path.join(WORK, "results", f"{model}_{n}")
            os.makedirs(rdir, exist_ok=True)
            bextra = ["--build-dir", bdir]
            if ("nest" in peers or "nest-passive" in peers) and n > args.nest_large_n and args.nest_large_duration < args.duration:
                bextra += ["--rate-window", f"{args.nest_large_duration:g}"]
            for si, seed in enumerate(seeds):
                slow = si < args.slow_seeds
                if "brian2" in peers:
                    r = run_peer("brian2_net.py", model, n, args.duration, seed, args.threads, base_env,
                                 os.path.join(rdir, f"brian2_s{seed}.json"), args.timeout, bextra)
                    runs.setdefault("brian2", []).append(r)
                    log(f"  brian2 s{seed}: " + (r.get("error", "").splitlines()[0] if "error" in r else
                                                f"sim {r['simulate_seconds']:.2f}s rates {r['populations']['exc']['mean_rate_hz']:.2f}/{r['populations']['inh']['mean_rate_hz']:.2f}"))
                if "brian2-1t" in peers and (not args.brian2_1t_max_n or n <= args.brian2_1t_max_n) and args.threads != 1:
                    r = run_peer("brian2_net.py", model, n, args.duration, seed, 1, base_env,
                                 os.path.join(rdir, f"brian2t1_s{seed}.json"), args.timeout,
                                 ["--build-dir", os.path.join(WORK, "brian2", f"{model}_{n}_t1")] + bextra[2:])
                    runs.setdefault("brian2 1 thread", []).append(r)
                    log(f"  brian2 1 thread s{seed}: " + (r.get("error", "").splitlines()[0] if "error" in r else
                                                         f"sim {r['simulate_seconds']:.2f}s"))
                if "brian2-passive" in peers and slow:
                    env = dict(base_env, OMP_WAIT_POLICY="PASSIVE")
                    r = run_peer("brian2_net.py", model, n, args.duration, seed, args.threads, env,
                                 os.path.join(rdir, f"brian2passive_s{seed}.json"), args.timeout, bextra)
                    runs.setdefault("brian2 PASSIVE", []).append(r)
                    log(f"  brian2 PASSIVE s{seed}: " + (r.get("error", "").splitlines()[0] if "error" in r else
                                                        f"sim {r['simulate_seconds']:.2f}s"))
                if "nest" in peers and slow:
                    dur = args.nest_large_duration if n > args.nest_large_n else args.duration
                    r = run_peer("nest_net.py", model, n, dur, seed, args.threads, base_env,
                                 os.path.join(rdir, f"nest_s{seed}.json"), args.timeout)
                    runs.setdefault("nest", []).append(r)
                    log(f"  nest s{seed} ({dur:g} s): " + (r.get("error", "").splitlines()[0] if "error" in r else
                                                          f"build {r['build_seconds']:.1f}s sim {r['simulate_seconds']:.2f}s rates {r['populations']['exc']['mean_rate_hz']:.2f}/{r['populations']['inh']['mean_rate_hz']:.2f}"))
                if "nest-passive" in peers and slow:
                    dur = args.nest_large_duration if n > args.nest_large_n else args.duration
                    env = dict(base_env, OMP_WAIT_POLICY="PASSIVE")
                    r = run_peer("nest_net.py", model, n, dur, seed, args.threads, env,
                                 os.path.join(rdir, f"nestpassive_s{seed}.json"), args.timeout)
                    runs.setdefault("nest PASSIVE", []).append(r)
                    log(f"  nest PASSIVE s{seed} ({dur:g} s): " + (r.get("error", "").splitlines()[0] if "error" in r else
                                                                  f"sim {r['simulate_seconds']:.2f}s"))
                for peer, label, threads, stem in (("neuromorph", "neuromorph", args.threads, "neuromorph"),
                                                   ("neuromorph-auto", "neuromorph auto", "auto", "neuromorph_auto")):
                    if nm and nm.bin and peer in peers:
                        r = guarded(nm.run, args.timeout, model, n, args.duration, seed, threads, base_env)
                        nd.write_json(os.path.join(rdir, f"{stem}_s{seed}.json"), r)
                        runs.setdefault(label, []).append(r)
                        log(f"  {label} s{seed}: " + ((r.get("error") or r.get("skipped") or "").splitlines()[0]
                                                      if ("error" in r or "skipped" in r) else
                                                      f"sim {r['simulate_seconds']} ({r.get('threads_used')} threads)"))
                if nm and nm.bin and "neuromorph-isa" in peers:
                    for isa in isas:
                        for th in isa_threads:
                            label = f"neuromorph {isa} {th}t"
                            r = guarded(nm.run, args.timeout, model, n, args.duration, seed, th, base_env, isa)
                            nd.write_json(os.path.join(rdir, f"neuromorph_{isa}_t{th}_s{seed}.json"), r)
                            runs.setdefault(label, []).append(r)
                            log(f"  {label} s{seed}: " + ((r.get("error") or r.get("skipped") or "").splitlines()[0]
                                                          if ("error" in r or "skipped" in r) else
                                                          f"sim {r['simulate_seconds']} (path used: {r['isa']})"))
                if nm and nm.bin and "neuromorph-run" in peers:
                    r = guarded(nm.run_saved, args.timeout, model, n, args.duration, seed, args.threads, base_env)
                    nd.write_json(os.path.join(rdir, f"neuromorph_run_s{seed}.json"), r)
                    runs.setdefault("neuromorph-run", []).append(r)
                    log(f"  neuromorph-run s{seed}: " + ((r.get("error") or r.get("skipped") or "").splitlines()[0]
                                                        if ("error" in r or "skipped" in r) else
                                                        f"sim {r['simulate_seconds']:.3f} rss {r['peak_rss_bytes'] / 2**20:.1f} MiB"))
            blk["uptime_after"] = uptime()
            blk["minutes"] = (time.perf_counter() - t0) / 60
            blk["sims"] = {k: aggregate(v) for k, v in runs.items()}
            blocks.append(blk)
            meta["uptime_end"] = blk["uptime_after"]
            meta["total_minutes"] = (time.perf_counter() - t_start) / 60
            write_report(args.report, meta, blocks, nm_note, args.rate_tolerance)  # partial report
            nd.write_json(os.path.join(os.path.dirname(args.report), "results.json"),
                          dict(meta=meta, blocks=blocks, neuromorph_note=nm_note))
    auryn = None
    if not args.no_auryn:
        aseeds = [int(x) for x in (args.auryn_seeds or args.seeds).split(",") if x]
        adur = args.auryn_duration or args.duration
        log(f"block auryn-coba; uptime: {uptime()}")
        auryn = auryn_block.run_block(args, nm if (nm and nm.bin and "neuromorph-isa" in peers) else None,
                                      aseeds, auryn_ranks, isas, adur, base_env, settle, log, guarded,
                                      os.path.join(WORK, "results", "auryn-coba"))
        if auryn.get("note"):
            log(auryn["note"])
    meta["uptime_end"] = uptime()
    meta["total_minutes"] = (time.perf_counter() - t_start) / 60
    write_report(args.report, meta, blocks, nm_note, args.rate_tolerance, auryn)
    nd.write_json(os.path.join(os.path.dirname(args.report), "results.json"),
                  dict(meta=meta, blocks=blocks, auryn=auryn, neuromorph_note=nm_note))
    log(f"done in {meta['total_minutes']:.1f} min; report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
