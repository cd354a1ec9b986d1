#!/usr/bin/env python3
"""neuromorph's fuzz harness: mutated configs, model and converted-network folders, saved networks,
IDX data, odd flags and output paths, and kills at random moments, each judged by one oracle
(see oracle.py): exit 0 with complete output or a clean refusal naming the input; never a crash, a
hang, a deleted file, a partial output or a silent NaN.

    python3 experiments/fuzz/fuzz.py --budget ci|full --bin .build/debug --seed N
    python3 experiments/fuzz/fuzz.py --bin .build/debug --seed N --case config-0042 --keep   # one case
    python3 experiments/fuzz/fuzz.py --self-test                                             # the oracle's tests

Python 3 standard library only. Everything happens in a temporary folder (never in the repository);
exit status 0 when every case passed, 1 when some failed, 3 when the harness itself could not run.
"""

import argparse
import atexit
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ in the repository

import families  # noqa: E402
import fixtures  # noqa: E402
import oracle  # noqa: E402
import runner  # noqa: E402

REPO = fixtures.REPO


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", choices=sorted(families.BUDGETS), default="ci",
                    help="ci: ~290 cases (a couple of minutes on 2 cores); full: ~1500 cases")
    ap.add_argument("--bin", default=".build/debug", help="folder with neuromorph and neuromorph-run (default .build/debug)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the case generators (same seed, same cases)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="cases run in parallel (default: cores)")
    ap.add_argument("--timeout", type=float, default=None, help="CPU seconds per command before it counts as a hang (ci 8, full 10); "
                                                                  "6 times that in wall time also ends it")
    ap.add_argument("--mem-limit-mb", type=int, default=2048, help="address-space limit of every command (ulimit -v), MB")
    ap.add_argument("--case", action="append", default=None, help="run only this case id (repeatable); implies verbose output")
    ap.add_argument("--family", action="append", choices=families.FAMILIES, help="run only these families")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (printed at the end)")
    ap.add_argument("--report-dir", default=None,
                    help="where RESULTS.md, FAILURES.md and failures.json go (default: experiments/fuzz for full, "
                         ".build/fuzz-<budget> otherwise)")
    ap.add_argument("--quiet", action="store_true", help="print only the one-line summary (and where the details are)")
    ap.add_argument("--list", action="store_true", help="list the cases (id, group, input) without running them")
    ap.add_argument("--self-test", action="store_true", help="run the oracle's own tests and exit")
    return ap.parse_args(argv)


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s %s, %s, %d cores" % (platform.system(), platform.release(), cpu, os.cpu_count() or 0)


def commit():
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True).stdout.splitlines()
        # the reports this run is writing are no change to the code under test
        reports = {"experiments/fuzz/" + f for f in ("RESULTS.md", "FAILURES.md", "failures.json")}
        dirty = [l for l in status if l[3:].strip() not in reports]
        return rev + (" (+ uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


class Sanitizer:
    """Removes this machine's absolute paths from text that goes into reports."""

    def __init__(self, root, bins):
        self.pairs = [(os.path.join(root, "cases") + "/", "$CASES/"), (root, "$FUZZ"), (bins + "/", ""), (REPO + "/", ""), (REPO, ".")]

    def __call__(self, text):
        for a, b in self.pairs:
            text = text.replace(a, b)
        return re.sub(r"(?<![\w.$])/(?:work|tmp|home|root|opt)/[\w.\-/+]*", "<path>", text)


def stderr_excerpt(stderr, clean, lines=6):
    """The informative part of stderr: what a crash printed before its backtrace and the first frames
    of the crashed thread (project frames first), else the last lines."""
    if "crashed:" in stderr or "Fatal error" in stderr:
        head = re.split(r"\n\*\*\* (?:Signal|Program crashed)", stderr, maxsplit=1)[0]
        out = [l.strip() for l in head.splitlines() if l.strip()][-3:]
        m = oracle.CRASHED_RE.search(stderr)
        if m:
            frames = [re.sub(r"^\s*\d+\s+(\[\w+\]\s+)*0x[0-9a-f]+\s+", "", l).strip() for l in m.group(1).splitlines() if l.strip()]
            mine = [f for f in frames if "/Sources/" in f]
            out += (mine or frames)[:4]
        if out:
            return clean("\n".join(out))[:900]
    tail = [l for l in stderr.splitlines() if l.strip() and not l.startswith(("Usage:", "  See '", "Help:"))]
    return clean("\n".join(tail[-lines:]))[:900]


def signature(res, finding):
    """Group key of a failure: the same code site or the same kind of problem."""
    r = finding.reason
    if finding.kind == "crash":
        return "crash: " + re.sub(r"\b0x[0-9a-f]+\b", "", r)
    if finding.kind in ("hang", "deleted", "nan"):
        return "%s: %s" % (finding.kind, res.case.tag)
    if finding.kind == "unclear":
        if r.startswith("exit ") and "expected 0, 1 or 2" in r:
            return "unclear: " + r.split(":")[0]
        if "without an 'Error:' line" in r:
            return "unclear: no 'Error:' line (%s)" % res.case.tag
        if "raw Foundation" in r:
            return "unclear: " + r.split(":")[0]
        if "runs to" in r:
            return "unclear: multi-line error (%s)" % res.case.tag
        return "unclear: error does not name the input (%s)" % res.case.tag
    norm = re.sub(r"(\.partial|\.tmp|\.old)-?[\w-]*", r"\1-*", r)
    norm = re.sub(r"'[^']*'", "'…'", norm)
    norm = re.sub(r"(?<!exit )\b\d+(\.\d+)?(e[-+]?\d+)?\b", "N", norm)
    return "%s: %s" % (finding.kind, norm[:110])


def run_all(cases, root, bins, env, limits, jobs, verbose, quiet=False):
    results = []
    done = [0]
    lock = threading.Lock()
    t0 = time.monotonic()

    def one(case):
        try:
            r = runner.run_case(case, root, bins, env, limits)
        except Exception as e:  # noqa: BLE001 - a harness bug must not hide the other cases
            r = runner.CaseResult(case, [oracle.Finding("unclear", "HARNESS ERROR %s: %s" % (type(e).__name__, e))], [], 0)
        if not verbose:
            shutil.rmtree(os.path.join(root, "cases", case.id), ignore_errors=True)
        with lock:
            done[0] += 1
            if verbose or (not quiet and (done[0] % 100 == 0 or done[0] == len(cases))):
                log("  %d/%d cases, %.0f s" % (done[0], len(cases), time.monotonic() - t0))
        return r

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        for r in ex.map(one, cases):
            results.append(r)
    return results


def table(results):
    fams = [f for f in families.FAMILIES if any(r.case.family == f for r in results)]
    head = ["family", "cases", "failing", "ok: ran", "ok: refused"] + [oracle.KIND_TITLES[k] for k in oracle.KINDS]
    rows = []
    for fam in fams + ["total"]:
        rs = [r for r in results if fam == "total" or r.case.family == fam]
        ok = [r for r in rs if not r.failed]
        ran = sum(1 for r in ok if r.steps and r.steps[0][1] is not None and r.steps[0][1].rc == 0)
        row = [fam, len(rs), sum(1 for r in rs if r.failed), ran, len(ok) - ran]
        row += [sum(1 for r in rs if any(f.kind == k for f in r.findings)) for k in oracle.KINDS]
        rows.append(row)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(("**%s**" % c if row[0] == "total" else str(c)) for c in row) + " |")
    return "\n".join(lines), rows[-1]


def repro(args, case):
    return "python3 experiments/fuzz/fuzz.py --bin %s --seed %d --case %s --keep" % (args.bin_rel, args.seed, case.id)


def failure_records(results, args, clean):
    recs = []
    for r in results:
        if not r.failed:
            continue
        steps = []
        for s, res in r.steps:
            steps.append({"command": clean(s.command_line()), "exit": None if res is None else res.rc,
                          "timed_out": bool(res and res.timed_out), "signal_sent": res.sent_signal if res else None,
                          "seconds": round(res.seconds, 2) if res else None,
                          "stderr": stderr_excerpt(res.stderr, clean) if res else "(skipped)"})
        recs.append({"id": r.case.id, "family": r.case.family, "tag": r.case.tag, "input": clean(r.case.desc),
                     "findings": [{"kind": f.kind, "step": f.step, "reason": clean(f.reason)} for f in r.findings],
                     "signatures": sorted({signature(r, f) for f in r.findings}),
                     "steps": steps, "repro": repro(args, r.case)})
    return recs


def groups(results, clean):
    """{family: [(signature, [results])]} sorted by size."""
    out = {}
    for r in results:
        for f in r.findings:
            sig = clean(signature(r, f))
            fam = out.setdefault(r.case.family, {})
            if r not in fam.setdefault(sig, []):
                fam[sig].append(r)
    return {fam: sorted(d.items(), key=lambda kv: (-len(kv[1]), kv[0])) for fam, d in out.items()}


def write_reports(results, args, clean, seconds, report_dir):
    os.makedirs(report_dir, exist_ok=True)
    tab, total = table(results)
    recs = failure_records(results, args, clean)
    grp = groups(results, clean)
    with open(os.path.join(report_dir, "failures.json"), "w") as f:
        f.write('{"budget": %s, "seed": %d, "commit": %s, "failures": [\n' % (json.dumps(args.budget), args.seed, json.dumps(commit())))
        f.write(",\n".join(json.dumps(rec, ensure_ascii=False) for rec in recs))
        f.write("\n]}\n")
    md = ["# Fuzz failures (budget %s, seed %d, commit %s)" % (args.budget, args.seed, commit()), "",
          "Grouped by family and by problem (the same crash site, the same kind of mutation). Every case has a one-line",
          "repro; `failures.json` holds all of them with each step's command, exit status and stderr excerpt.", ""]
    byid = {rec["id"]: rec for rec in recs}
    for fam in families.FAMILIES:
        if fam not in grp:
            continue
        md += ["## %s" % fam, ""]
        for sig, rs in grp[fam]:
            ex = rs[0]
            rec = byid[ex.case.id]
            md.append("### %s — %d case%s" % (sig, len(rs), "s" if len(rs) > 1 else ""))
            md.append("")
            md.append("- example `%s`: %s" % (ex.case.id, rec["input"]))
            for st in rec["steps"]:
                md.append("  - `%s` → exit %s%s" % (st["command"], st["exit"], " (timed out)" if st["timed_out"] else ""))
            md.append("  - repro: `%s`" % rec["repro"])
            if rec["steps"] and rec["steps"][-1]["stderr"]:
                md.append("  - stderr:")
                md.append("")
                md += ["        " + l for l in (next((s["stderr"] for s in rec["steps"] if s["stderr"] and s["stderr"] != "(skipped)"), "")).splitlines()]
                md.append("")
            others = [r.case.id for r in rs[1:13]]
            if others:
                md.append("- also: %s%s" % (", ".join(others), " …" if len(rs) > 13 else ""))
            md.append("")
    with open(os.path.join(report_dir, "FAILURES.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    res = ["# Fuzz results", "",
           "`python3 experiments/fuzz/fuzz.py --budget %s --bin %s --seed %d` (see README.md in this folder for the oracle)."
           % (args.budget, args.bin_rel, args.seed), "",
           "- machine: %s" % machine(),
           "- commit: %s" % commit(),
           "- budget: %s, seed %d, %d cases, %d jobs; per command: %.0f s of CPU (%.0f s wall), address space limit %d MB"
           % (args.budget, args.seed, len(results), args.jobs, args.limits.timeout, args.limits.timeout * args.limits.wall_factor,
              args.mem_limit_mb),
           "- date: %s, wall time %.0f s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), seconds),
           "", tab, "",
           "A case counts once per column it fails in (and once in *failing*). *ok: ran* = exit 0 with complete output,",
           "*ok: refused* = exit 1/2 with an `Error:` line naming the input. *wrong results* = success on an input that",
           "must be refused, or output that differs from the uninterrupted run after a kill.", "",
           "## Top failures per family", ""]
    for fam in families.FAMILIES:
        if fam not in grp:
            continue
        res.append("**%s**" % fam)
        res.append("")
        for sig, rs in grp[fam][:8]:
            res.append("- %s — %d case%s, e.g. `%s`: %s" % (sig, len(rs), "s" if len(rs) > 1 else "", rs[0].case.id, clean(rs[0].case.desc)))
        if len(grp[fam]) > 8:
            res.append("- … %d more groups in FAILURES.md" % (len(grp[fam]) - 8))
        res.append("")
    res.append("Every failing case with its repro line and stderr: FAILURES.md, failures.json. A case id names the same mutation")
    res.append("for a given version of the harness (and of the fixtures it makes with the binaries under test).")
    with open(os.path.join(report_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(res) + "\n")
    return tab, total


def main(argv):
    args = parse_args(argv)
    if args.self_test:
        suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
        ok = unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful()
        return 0 if ok else 1
    bins = os.path.abspath(args.bin)
    args.bin_rel = os.path.relpath(bins, REPO) if bins.startswith(REPO + os.sep) else args.bin
    for b in ("neuromorph", "neuromorph-run"):
        if not os.access(os.path.join(bins, b), os.X_OK):
            log("fuzz: %s/%s not found; build first (swift build --build-tests)" % (args.bin, b))
            return 3
    timeout = args.timeout or (8.0 if args.budget == "ci" else 10.0)
    args.limits = runner.Limits(timeout, args.mem_limit_mb, fsize_mb=512)
    root = tempfile.mkdtemp(prefix="neuromorph-fuzz-")
    if os.path.realpath(root).startswith(os.path.realpath(REPO) + os.sep):
        log("fuzz: the temporary folder %s lies inside the repository; set TMPDIR elsewhere" % root)
        return 3
    atexit.register(runner.kill_all)
    os.makedirs(os.path.join(root, "tmp"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
           "TMPDIR": os.path.join(root, "tmp")}
    clean = Sanitizer(root, bins)
    t0 = time.monotonic()
    verbose = bool(args.case)
    try:
        fx = fixtures.Fixtures(root, bins, env, args.limits, log=(lambda m: None) if args.quiet else log)
        try:
            fx.build()
        except fixtures.HarnessError as e:
            log("fuzz: cannot build the fixtures with the binaries under test:\n%s" % clean(str(e)))
            return 3
        budget = dict(families.BUDGETS[args.budget])
        if args.family:
            budget = {k: v for k, v in budget.items() if k in args.family}
        cases = families.generate(fx, args.seed, budget, only=args.case)
        if args.list:
            for c in cases:
                print("%s\t%s\t%s" % (c.id, c.tag, clean(c.desc) if not c.family == "kill" else re.sub(r"[\d.]+ s", "T s", c.desc)))
            return 0
        if not args.quiet:
            log("fuzz: %d cases (budget %s, seed %d), %d jobs, in %s" % (len(cases), args.budget, args.seed, args.jobs, root))
        results = run_all(cases, root, bins, env, args.limits, args.jobs, verbose, args.quiet)
        seconds = time.monotonic() - t0
        if verbose:
            for r in results:
                print("%s [%s] %s" % (r.case.id, r.case.tag, r.case.desc))
                print("  folder: %s" % os.path.join(root, "cases", r.case.id, runner.WORK))
                for s, res in r.steps:
                    print("  $ %s" % s.command_line())
                    if res is None:
                        print("    (skipped: the previous step failed)")
                        continue
                    print("    exit %s%s in %.2f s" % (res.rc, " (timed out)" if res.timed_out else "", res.seconds))
                    for l in stderr_excerpt(res.stderr, lambda x: x, lines=8).splitlines():
                        print("    | " + l)
                for f in r.findings:
                    print("  FAIL %s: %s" % (oracle.KIND_TITLES[f.kind], f.reason))
                if not r.findings:
                    print("  ok")
            return 1 if any(r.failed for r in results) else 0
        report_dir = args.report_dir or (HERE if args.budget == "full" and not args.family
                                         else os.path.join(REPO, ".build", "fuzz-" + args.budget))
        tab, total = write_reports(results, args, clean, seconds, report_dir)
        failing = total[2]
        counts = ", ".join("%s %d" % (oracle.KIND_TITLES[k], total[5 + i]) for i, k in enumerate(oracle.KINDS) if total[5 + i])
        rel = os.path.relpath(report_dir, os.getcwd())
        if not args.quiet:
            print(tab)
            print()
        print("fuzz %s seed %d: %d cases, %d failing%s in %.0f s; details: %s/FAILURES.md" % (
            args.budget, args.seed, len(results), failing, " (%s)" % counts if counts else "", seconds, rel))
        if args.quiet and failing:
            top = sorted(((len(rs), fam, sig, rs[0].case.id) for fam, gs in groups(results, clean).items() for sig, rs in gs),
                         key=lambda t: (-t[0], t[1], t[2]))
            for n, fam, sig, cid in top[:15]:
                print("  %3d x %-6s %s (e.g. %s)" % (n, fam, sig[:120], cid))
            if len(top) > 15:
                print("  ... %d more groups" % (len(top) - 15))
        return 1 if failing else 0
    finally:
        runner.kill_all()
        if args.keep or verbose:
            log("fuzz: kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
