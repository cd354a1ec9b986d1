#!/usr/bin/env python3
"""Per vector path (NM_ISA=avx512|avx2|baseline): neuron update and delivery cost of CUBA/COBA 4000
(neuromorph-run, 1 thread) and the conversion CNN's images/s (neuromorph compare, 1 thread), as
wall-clock medians of interleaved runs and as callgrind instruction counts (repeatable on a busy
machine; valgrind 3.19 has no AVX-512, so those cover avx2 and baseline). Optionally a reference build
of another commit (--ref DIR with its release binaries) runs the same workloads. Also builds and runs
candidates.c (ext vectors vs `#pragma omp simd` on the COBA neuron update).

    bash experiments/vector-paths/run.sh [--ref /tmp/nm-ref/.build/release] [--model runs/cnn] [--reps 5]

Writes the tables to stdout (Markdown); RESULTS.md holds a run with the machine's load noted.
"""
import argparse, json, os, re, resource, shutil, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PATHS = ["avx512", "avx2", "baseline"]


def sh(cmd, env=None, **kw):
    e = dict(os.environ)
    if env: e.update(env)
    return subprocess.run(cmd, env=e, check=True, capture_output=True, text=True, **kw)


def timed(cmd, env=None):
    """Runs cmd; returns (stdout, CPU seconds of the child: user + sys). On a shared machine the CPU
    time moves less than wall time (waiting for a core is not counted)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = sh(cmd, env=env).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def uptime():
    return sh(["uptime"]).stdout.strip()


def available(bin_dir):
    out = sh([os.path.join(bin_dir, "neuromorph"), "--version"]).stdout
    m = re.search(r"available: ([a-z0-9, ]+)\)", out)
    return [p.strip() for p in m.group(1).split(",")] if m else ["baseline"]


def callgrind(cmd, env, out_file):
    """Total instructions and inclusive counts of the engine's update and delivery functions. Runs a
    copy of the binary without debug info (valgrind 3.19 cannot read Swift's DWARF 5; the symbol table
    still names the functions)."""
    exe = out_file + ".exe"
    sh(["strip", "--strip-debug", "-o", exe, cmd[0]])
    sh(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", exe] + cmd[1:], env=env)
    ann = sh(["callgrind_annotate", "--inclusive=yes", out_file]).stdout
    total = int(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", ann).group(1).replace(",", ""))

    def incl(fn):
        best = 0
        for line in ann.splitlines():
            m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*:(\S+)", line)
            if m and m.group(2) == fn: best = max(best, int(m.group(1).replace(",", "")))
        return best
    return total, incl("nm_update_pop"), incl("deliver_list")


def snn(args, work, paths):
    rows = []
    for cfg in ["cuba", "coba"]:
        # each build saves the network itself (the saved-network format may differ between builds)
        nets = {}
        for b in [args.bin] + ([args.ref] if args.ref else []):
            nets[b] = os.path.join(work, f"{cfg}-{len(nets)}.nmnet")
            sh([os.path.join(b, "neuromorph"), "simulate", os.path.join(ROOT, "configs", f"{cfg}.yaml"), "--save-network", nets[b]])
        net = nets[args.bin]
        variants = [(p, args.bin, {"NM_ISA": p}) for p in paths] + ([("ref", args.ref, {})] if args.ref else [])
        walls = {v[0]: [] for v in variants}
        cpus = {v[0]: [] for v in variants}
        spikes = {}
        load = [uptime()]
        for _ in range(args.reps):   # interleaved: load changes hit every variant alike
            for name, b, env in variants:
                out, cpu = timed([os.path.join(b, "neuromorph-run"), nets[b], "--duration", str(args.duration), "--threads", "1"], env=env)
                j = json.loads(out)
                walls[name].append(j["wall_seconds"] / j["simulated_seconds"])
                cpus[name].append(cpu / j["simulated_seconds"])
                spikes[name] = j["spikes"]
        load.append(uptime())
        counts = {}
        if shutil.which("valgrind"):
            for p in [p for p in paths if p != "avx512"]:
                counts[p] = callgrind([os.path.join(args.bin, "neuromorph-run"), net, "--duration", "0.2", "--threads", "1"],
                                      {"NM_ISA": p}, os.path.join(work, f"cg.{cfg}.{p}"))
        rows.append((cfg, walls, cpus, spikes, counts, load))
    return rows


def conversion(args, work, paths):
    model = args.model
    if not model:
        model = os.path.join(work, "cnn")
        sh([os.path.join(args.bin, "neuromorph"), "train", os.path.join(ROOT, "configs/fmnist-cnn.yaml"), "--out", model,
            "--epochs", "1", "--limit-train", "12000", "--limit-test", "1000"])
    snn_dir = os.path.join(work, "cnn-snn")
    sh([os.path.join(args.bin, "neuromorph"), "convert", model, "--out", snn_dir])
    variants = [(p, args.bin, {"NM_ISA": p}) for p in paths] + ([("ref", args.ref, {})] if args.ref else [])
    ips = {v[0]: [] for v in variants}
    cpus = {v[0]: [] for v in variants}
    acc = {}
    load = [uptime()]
    for r in range(args.reps):
        for name, b, env in variants:
            out = os.path.join(work, f"cmp-{name}-{r}")
            _, cpu = timed([os.path.join(b, "neuromorph"), "compare", model, snn_dir, "--out", out, "--timesteps", "128",
                            "--limit", str(args.limit), "--threads", "1"], env=env)
            cpus[name].append(cpu)
            j = json.load(open(os.path.join(out, "report.json")))
            ips[name].append(j["snn"][-1]["images_per_second"])
            acc[name] = j["snn"][-1]["accuracy"]
    load.append(uptime())
    counts = {}
    if shutil.which("valgrind"):
        for p in [p for p in paths if p != "avx512"]:
            out = os.path.join(work, f"cg-cmp-{p}")
            counts[p] = callgrind([os.path.join(args.bin, "neuromorph"), "compare", model, snn_dir, "--out", out, "--timesteps", "128",
                                   "--limit", "20", "--threads", "1"], {"NM_ISA": p}, os.path.join(work, f"cg.cmp.{p}"))
    return ips, cpus, acc, counts, load


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release"))
    ap.add_argument("--ref", help="release folder of a reference build (e.g. main before this change)")
    ap.add_argument("--model", help="a trained CNN folder (default: train one for 1 epoch on 12000 images)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds per SNN run")
    ap.add_argument("--limit", type=int, default=200, help="test images per compare run")
    ap.add_argument("--skip", default="", help="comma-separated: candidates,snn,conversion")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nm-vector-paths-")
    paths = [p for p in PATHS if p in available(args.bin)]
    skip = set(args.skip.split(","))
    cpu = sh([os.path.join(args.bin, "neuromorph"), "--version"]).stdout.strip()
    print(f"# Vector paths\n\n{cpu}\n\npaths run: {', '.join(paths)}; reference: {args.ref or 'none'}\n")
    med = lambda xs: statistics.median(xs) if xs else float("nan")

    if "candidates" not in skip:
        print("## ext vectors vs `#pragma omp simd` (COBA neuron update, 4000 neurons, ns per neuron-step)\n")
        print("```\n" + uptime())
        print(sh(["bash", os.path.join(HERE, "run.sh"), "candidates-only"]).stdout + "```\n")

    if "snn" not in skip:
        print("## CUBA / COBA 4000, neuromorph-run, 1 thread: real-time factor (median of interleaved runs)\n")
        print("(RTF: wall s per simulated s; CPU: the process's CPU s per simulated s, loading included)\n")
        print("| network | variant | RTF median | RTF runs | CPU median | spikes | Ir total (0.2 s) | Ir neuron update | Ir delivery |")
        print("|---|---|---:|---|---:|---:|---:|---:|---:|")
        for cfg, walls, cpus, spikes, counts, load in snn(args, work, paths):
            for name in walls:
                c = counts.get(name)
                cs = f"{c[0]/1e6:.1f} M | {c[1]/1e6:.1f} M | {c[2]/1e6:.1f} M" if c else "– | – | –"
                print(f"| {cfg} | {name} | {med(walls[name]):.4f} | {' '.join(f'{w:.3f}' for w in walls[name])} | {med(cpus[name]):.4f} | {spikes[name]} | {cs} |")
            print(f"\n{cfg} load: before `{load[0]}`, after `{load[1]}`\n")

    if "conversion" not in skip:
        ips, cpus, acc, counts, load = conversion(args, work, paths)
        print(f"\n## Conversion CNN, compare --timesteps 128 --limit {args.limit}, 1 thread: SNN images/s\n")
        print("(images/s: the report's SNN rate (wall); CPU: the whole compare process's CPU s, ANN and loading included)\n")
        print("| variant | images/s median | runs | CPU s median | accuracy | Ir total (20 images) | Ir neuron update | Ir delivery |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for name in ips:
            c = counts.get(name)
            cs = f"{c[0]/1e6:.0f} M | {c[1]/1e6:.0f} M | {c[2]/1e6:.0f} M" if c else "– | – | –"
            print(f"| {name} | {med(ips[name]):.0f} | {' '.join(f'{x:.0f}' for x in ips[name])} | {med(cpus[name]):.3f} | {100*acc[name]:.2f} % | {cs} |")
        print(f"\nload: before `{load[0]}`, after `{load[1]}`")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
