"""Auryn block of snn-bench: Auryn's own COBA benchmark (examples/sim_coba_benchmark.cpp of fzenke/auryn,
Zenke & Gerstner 2014) against neuromorph on the same network (configs/auryn-coba.yaml), same run.

Auryn is a peer the user builds from its own instructions, outside this repository; this module only
runs a binary given with `--auryn-bin PATH` (nothing here builds, patches or ships Auryn).

Network (read from Auryn's source, see configs/auryn-coba.yaml): 3200 exc + 800 inh TIFGroup neurons,
pairwise Bernoulli p = 0.02 without autapses, weights 0.4 and 5.1 g_leak (4 nS, 51 nS), 200 pA drive
(bg_current 2e-2 V = 20 mV x g_leak 10 nS), 0.8 ms delay (MINDELAY = 8 steps), dt = 0.1 ms, all neurons
start at rest (-60 mV, no conductance).

Seeds. sim_coba_benchmark seeds its connectivity with a hard-coded 3521 and has no seed option, but it
loads connectivity from Matrix Market files (--fee/--fei/--fie/--fii, as Auryn's own coba_test does).
For seed s this module writes the four matrices with numpy (same statistics as neuromorph's
fixed_probability rule: pairwise Bernoulli, no autapses), so every seed is a different network for both.

Timing. Auryn reports its elapsed time in whole seconds (time(2) differences). We time the process
instead: for each (seed, ranks) two runs of the same binary with the same matrices, `--simtime 0` (set-up
only: MPI start-up, building and loading the connectivity, teardown) and `--simtime D`; Auryn's loop time
is wall(D) minus the median of wall(0) over the seeds (the set-up does not depend on the seed) and its
RTF = that / D. neuromorph's loop time is summary.json's `wall_seconds` (its
time-stepping loop only; set-up excluded the same way). Both are run with `--fast` / spike counts only;
Auryn's rates come from an extra untimed run with its spike monitors on (1 rank).
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time

import netdefs as nd

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

NE, NI = 3200, 800
P_CONN = 0.02
W_EXC, W_INH = 0.4, 5.1          # units of g_leak (10 nS): 4 nS, 51 nS
MODEL = "auryn-coba"             # configs/auryn-coba.yaml
RATE_TOL = 0.05                  # mean rates over the seeds should agree within a few percent


def _git_commit(path: str) -> str:
    """Commit of the git checkout the binary was built in (walks up from the binary), or 'unknown'."""
    d = os.path.dirname(os.path.abspath(path))
    while d and d != os.path.dirname(d):
        if os.path.isdir(os.path.join(d, ".git")):
            r = subprocess.run(["git", "-C", d, "log", "-1", "--format=%H %cs"], capture_output=True, text=True)
            return r.stdout.strip() or "unknown"
        d = os.path.dirname(d)
    return "unknown"


def write_wmats(seed: int, folder: str) -> dict[str, str]:
    """The four connectivity matrices of seed `seed` in Auryn's complete-file format (Matrix Market
    coordinate, 1-based, row = presynaptic neuron, row-major order). Cached per seed."""
    import numpy as np
    os.makedirs(folder, exist_ok=True)
    files = {}
    rng = np.random.default_rng([seed, 3521])
    for name, npre, npost, w, recurrent in (("ee", NE, NE, W_EXC, True), ("ei", NE, NI, W_EXC, False),
                                            ("ie", NI, NE, W_INH, False), ("ii", NI, NI, W_INH, True)):
        path = os.path.join(folder, f"{name}.wmat")
        files[name] = path
        mask = rng.random((npre, npost), dtype=np.float32) < P_CONN
        if recurrent:
            np.fill_diagonal(mask, False)
        if os.path.isfile(path):
            continue   # same seed => same draws: the RNG was advanced above either way
        rows, cols = np.nonzero(mask)   # row-major
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%%MatrixMarket matrix coordinate real general\n")
            f.write(f"% snn-bench seed {seed}: pairwise Bernoulli p = {P_CONN}, no autapses\n")
            f.write(f"{npre} {npost} {len(rows)}\n")
            ws = f"{w:.6f}"
            f.write("".join(f"{i + 1} {j + 1} {ws}\n" for i, j in zip(rows.tolist(), cols.tolist())))
        os.replace(tmp, path)
    return files


class Auryn:
    def __init__(self, binary: str, work: str, timeout: float):
        self.bin = os.path.abspath(binary)
        self.work = os.path.join(work, "auryn")
        self.timeout = timeout
        self.commit = _git_commit(binary)
        self.mpirun = shutil.which("mpirun")

    def env(self) -> dict:
        env = dict(os.environ)
        if os.geteuid() == 0:   # Open MPI refuses root without these
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        return env

    def command(self, ranks: int, simtime: float, fast: bool, wm: dict, outdir: str) -> list[str]:
        cmd = [self.mpirun, "-n", str(ranks)]
        if ranks > (os.cpu_count() or 1):
            cmd.append("--oversubscribe")
        cmd += [self.bin, "--simtime", f"{simtime:g}", "--dir", outdir,
                "--fee", wm["ee"], "--fei", wm["ei"], "--fie", wm["ie"], "--fii", wm["ii"]]
        return cmd + (["--fast"] if fast else [])

    def display(self, cmd: list[str]) -> str:
        """The command as recorded in results: the binary as AURYN_BIN, work files relative to the repo."""
        return " ".join("AURYN_BIN" if c == self.bin else os.path.relpath(c, REPO) if c.startswith(self.work) else
                        os.path.basename(c) if c == self.mpirun else c for c in cmd)

    def one(self, ranks: int, simtime: float, fast: bool, wm: dict, tag: str) -> dict:
        outdir = os.path.join(self.work, "runs", tag)
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)
        cmd = self.command(ranks, simtime, fast, wm, outdir)
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timeout after {self.timeout:.0f} s: {self.display(cmd)}"}
        wall = time.perf_counter() - t0
        with open(os.path.join(outdir, "stdout.txt"), "w") as f:
            f.write(r.stdout + "\n--- stderr ---\n" + r.stderr)
        if r.returncode != 0:
            return {"error": f"exit {r.returncode}: {self.display(cmd)}\n{(r.stderr or r.stdout)[-600:]}"}
        out = dict(wall_seconds=wall, command=self.display(cmd), outdir=outdir, loadavg=nd.loadavg())
        try:
            out["auryn_elapsed_whole_seconds"] = float(open(os.path.join(outdir, "elapsed.dat")).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        return out

    def timed(self, seed: int, ranks: int, duration: float, settle) -> dict:
        """Loop time = wall(--simtime D) - wall(--simtime 0), same matrices, same rank count."""
        wm = write_wmats(seed, os.path.join(self.work, "wmat", f"s{seed}"))
        settle()
        a = self.one(ranks, 0.0, True, wm, f"s{seed}_r{ranks}_setup")
        if "error" in a:
            return a
        settle()
        b = self.one(ranks, duration, True, wm, f"s{seed}_r{ranks}_run")
        if "error" in b:
            return b
        loop = b["wall_seconds"] - a["wall_seconds"]
        return dict(simulator="auryn", seed=seed, threads=ranks, ranks=ranks, duration_s=duration,
                    setup_process_seconds=a["wall_seconds"], process_wall_seconds=b["wall_seconds"],
                    simulate_seconds=loop, realtime_factor=loop / duration,
                    auryn_elapsed_whole_seconds=b.get("auryn_elapsed_whole_seconds"),
                    command=b["command"], loadavg=b["loadavg"])

    def rates(self, seed: int, duration: float, settle) -> dict:
        """Untimed run with Auryn's spike monitors (1 rank): mean rates from coba.0.{e,i}.ras."""
        wm = write_wmats(seed, os.path.join(self.work, "wmat", f"s{seed}"))
        settle()
        r = self.one(1, duration, False, wm, f"s{seed}_rates")
        if "error" in r:
            return r
        pops = {}
        for pop, n, suffix in (("exc", NE, "e"), ("inh", NI, "i")):
            path = os.path.join(r["outdir"], f"coba.0.{suffix}.ras")
            try:
                with open(path) as f:
                    count = sum(1 for line in f if line.strip())
            except OSError as e:
                return {"error": f"no spike file {path}: {e}"}
            pops[pop] = dict(size=n, spikes=count, mean_rate_hz=count / (n * duration))
        return dict(simulator="auryn", seed=seed, duration_s=duration, populations=pops)


def run_block(args, nm, seeds: list[int], ranks_list: list[int], isas: list[str], duration: float,
              base_env: dict, settle, log, guarded, rdir: str) -> dict:
    """Interleaved by seed: for each rank count, Auryn (set-up + timed run) then neuromorph on every path
    with as many threads; then Auryn's untimed rates run."""
    blk = dict(model="auryn-coba", n=NE + NI, n_exc=NE, n_inh=NI, p=P_CONN, duration=duration, seeds=seeds,
               ranks=ranks_list, uptime_before=nd.loadavg())
    if not args.auryn_bin:
        blk["note"] = ("Auryn block skipped: no `--auryn-bin PATH`. Auryn is a peer you build yourself from "
                       "fzenke/auryn (see README.md); pass its examples/sim_coba_benchmark binary.")
        return blk
    if not (os.path.isfile(args.auryn_bin) and os.access(args.auryn_bin, os.X_OK)):
        blk["note"] = f"Auryn block skipped: --auryn-bin {args.auryn_bin} is not an executable file."
        return blk
    au = Auryn(args.auryn_bin, os.path.dirname(os.path.dirname(rdir.rstrip("/"))), args.timeout)
    if not au.mpirun:
        blk["note"] = "Auryn block skipped: `mpirun` not on PATH (Debian: openmpi-bin)."
        return blk
    blk["auryn_bin"] = os.path.basename(args.auryn_bin)   # no machine path in results.json
    blk["auryn_commit"] = au.commit
    cfg_ok = nm is not None and nm.bin and nm.config_for(MODEL, NE + NI) is not None
    if nm is None:
        blk["nm_note"] = "neuromorph rows not run (--peers has no neuromorph-isa, or neuromorph was not built)."
    elif not cfg_ok:
        blk["nm_note"] = (f"neuromorph rows skipped: {nm.note}" if nm.note else
                          f"neuromorph rows skipped: {os.path.join(args.configs_dir, MODEL + '.yaml')} does not exist.")
    os.makedirs(rdir, exist_ok=True)
    t0 = time.perf_counter()
    runs: dict[str, list] = {}
    for seed in seeds:
        for ranks in ranks_list:
            label = f"auryn {ranks} rank{'s' if ranks > 1 else ''}"
            try:
                r = au.timed(seed, ranks, duration, settle)
            except Exception as e:  # noqa: BLE001 - report, go on
                r = {"error": f"{type(e).__name__}: {e}"}
            nd.write_json(os.path.join(rdir, f"auryn_r{ranks}_s{seed}.json"), r)
            runs.setdefault(label, []).append(r)
            log(f"  {label} s{seed}: " + (r["error"].splitlines()[0] if "error" in r else
                                         f"loop {r['simulate_seconds']:.2f}s (set-up {r['setup_process_seconds']:.2f}s, "
                                         f"Auryn says {r.get('auryn_elapsed_whole_seconds')} s)"))
            if not cfg_ok:
                continue
            for isa in isas:
                nlabel = f"neuromorph {isa} {ranks}t"
                r = guarded(nm.run, args.timeout, MODEL, NE + NI, duration, seed, ranks, base_env, isa)
                nd.write_json(os.path.join(rdir, f"neuromorph_{isa}_t{ranks}_s{seed}.json"), r)
                runs.setdefault(nlabel, []).append(r)
                log(f"  {nlabel} s{seed}: " + ((r.get("error") or r.get("skipped") or "").splitlines()[0]
                                               if ("error" in r or "skipped" in r) else
                                               f"sim {r['simulate_seconds']} (path used: {r['isa']})"))
        try:
            r = au.rates(seed, duration, settle)
        except Exception as e:  # noqa: BLE001
            r = {"error": f"{type(e).__name__}: {e}"}
        nd.write_json(os.path.join(rdir, f"auryn_rates_s{seed}.json"), r)
        runs.setdefault("auryn rates", []).append(r)
        log(f"  auryn rates s{seed}: " + (r["error"].splitlines()[0] if "error" in r else
                                          f"{r['populations']['exc']['mean_rate_hz']:.2f}/{r['populations']['inh']['mean_rate_hz']:.2f} Hz"))
    # The set-up does not depend on the seed (same sizes, same rank count): subtract the median set-up time
    # of all seeds from each timed run, which halves the noise of one set-up run per seed.
    for label, rs in runs.items():
        if not label.startswith("auryn") or label == "auryn rates":
            continue
        ok = [r for r in rs if "error" not in r]
        if not ok:
            continue
        setup = statistics.median(r["setup_process_seconds"] for r in ok)
        for r in ok:
            r["simulate_seconds_own_setup"] = r["simulate_seconds"]
            r["setup_median_seconds"] = setup
            r["simulate_seconds"] = r["process_wall_seconds"] - setup
            r["realtime_factor"] = r["simulate_seconds"] / r["duration_s"]
            if r["simulate_seconds"] <= 0:
                r["error"] = (f"run ({r['process_wall_seconds']:.2f} s) not longer than the median set-up "
                              f"({setup:.2f} s): machine too busy or --auryn-duration too short")
    blk["uptime_after"] = nd.loadavg()
    blk["minutes"] = (time.perf_counter() - t0) / 60
    blk["runs"] = runs
    return blk


def _med(xs):
    v = [x for x in xs if x is not None]
    return statistics.median(v) if v else None


def _rate(runs: list[dict], pop: str):
    v = [r["populations"][pop]["mean_rate_hz"] for r in runs
         if "error" not in r and "skipped" not in r and (r.get("populations") or {}).get(pop)]
    return (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v)) if v else None


def report_section(blk: dict) -> list[str]:
    L = [f"## Auryn COBA network (Zenke & Gerstner 2014; configs/auryn-coba.yaml), N = {blk['n']}\n"]
    if blk.get("note"):
        return L + [f"**{blk['note']}**\n"]
    L.append(f"- Auryn binary: `{blk['auryn_bin']}` built from fzenke/auryn at {blk['auryn_commit']} "
             "(Release: `-O3 -march=native -ffast-math`, Open MPI)")
    L.append(f"- {blk['duration']:g} s simulated, seeds {blk['seeds']}, Auryn ranks = neuromorph threads: {blk['ranks']}; "
             f"load average before `{blk['uptime_before']}`, after `{blk['uptime_after']}` ({blk['minutes']:.1f} min)")
    L.append("- Auryn loop time = process wall time of `--simtime D` minus the median over seeds of that of "
             "`--simtime 0` (same sizes, same ranks; Auryn itself prints whole seconds); neuromorph = summary.json `wall_seconds` (loop only). "
             "Seed s = the same connectivity statistics on both sides (Auryn loads seed-s matrices written by "
             "auryn_block.py; neuromorph draws its own with seed s). Both without spike output; Auryn's rates from an "
             "extra untimed 1-rank run with its monitors.")
    if blk.get("nm_note"):
        L.append(f"- **{blk['nm_note']}**")
    L.append("")
    runs = blk.get("runs") or {}
    L.append("| simulator | ranks / threads | path used | loop (s), median | RTF, median | runs ok | exc rate (Hz) | inh rate (Hz) |")
    L.append("|---|---|---|---|---|---|---|---|")
    rtf: dict[str, float] = {}
    for label, rs in runs.items():
        if label == "auryn rates":
            continue
        ok = [r for r in rs if "error" not in r and "skipped" not in r]
        parts = label.split()
        th = parts[1] if parts[0] == "auryn" else parts[2][:-1]
        used = "native" if parts[0] == "auryn" else ", ".join(sorted({r.get("isa", "unknown") for r in ok})) or "–"
        rates_src = runs.get("auryn rates", []) if parts[0] == "auryn" else ok
        re_, ri = _rate(rates_src, "exc"), _rate(rates_src, "inh")
        if not ok:
            why = "; ".join(sorted({(r.get("error") or r.get("skipped") or "").splitlines()[0] for r in rs}))[:200]
            L.append(f"| {label} | {th} | {used} | – | – | 0/{len(rs)}: {why} | – | – |")
            continue
        lm = _med([r.get("simulate_seconds") for r in ok])
        rm = _med([r.get("realtime_factor") for r in ok])
        rtf[label] = rm
        fr = lambda x: f"{x[0]:.2f} ± {x[1]:.2f}" if x else "–"
        L.append(f"| {label} | {th} | {used} | {lm:.3f} | {rm:.4f} | {len(ok)}/{len(rs)} | {fr(re_)} | {fr(ri)} |")
    L.append("")
    lines = []
    for label, v in rtf.items():
        if not label.startswith("neuromorph"):
            continue
        _, isa, t = label.split()
        ranks = int(t[:-1])
        ak = f"auryn {ranks} rank{'s' if ranks > 1 else ''}"
        used = sorted({r.get("isa", "unknown") for r in runs[label] if "error" not in r and "skipped" not in r})
        if ak in rtf and v:
            sp = rtf[ak] / v
            # NM_ISA=scalar is another name of the baseline path, which summary.json reports as "baseline"
            expected = "baseline" if isa == "scalar" else isa
            verdict = ("met" if sp > 1 else "NOT met") if used == [expected] else f"not checked: ran {', '.join(used)}"
            lines.append(f"| {isa} | {ranks} | {sp:.2f}× | {verdict} |")
    if lines:
        L += ["Speed-up of neuromorph over Auryn (Auryn's median RTF / neuromorph's; target: faster than Auryn on "
              "every path, 1 core and 2; checked only where summary.json confirms the path):\n",
              "| path | cores | speed-up | target |", "|---|---|---|---|"] + lines + [""]
    au = runs.get("auryn rates", [])
    for label, rs in runs.items():
        if not label.startswith("neuromorph"):
            continue
        diffs = []
        for pop in ("exc", "inh"):
            a, b = _rate(au, pop), _rate(rs, pop)
            if a and b and a[0]:
                diffs.append(f"{pop} {100 * (b[0] - a[0]) / a[0]:+.1f} %")
        if diffs:
            worst = max(abs(float(d.split()[1])) for d in diffs)
            L.append(f"Rates {label} vs Auryn (means over seeds): {', '.join(diffs)} — "
                     f"{'within' if worst <= 100 * RATE_TOL else 'NOT within'} {100 * RATE_TOL:g} % (seed-to-seed sd "
                     "is in the table; forward vs exponential Euler, see configs/auryn-coba.yaml).")
            break   # same seeds => same spikes on every path; one line is enough
    L.append("")
    return L
