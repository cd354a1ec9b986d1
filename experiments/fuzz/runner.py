"""Cases and how they run: each case gets its own folder tree with sentinel files, its commands run in
their own process group under memory/file-size limits and a timeout, and the oracle judges them.

Layout of a case (relative to its top folder, which the harness creates under a temporary root):
    SENTINEL-top.txt
    p/SENTINEL-parent.txt               parent of the working folder
    p/work/SENTINEL-cwd.txt             the working folder: commands run here with relative paths
    p/work/<inputs>/SENTINEL-input.txt  every input folder gets one (unless listed in Case.bare)
"""

import os
import shutil
import signal
import subprocess
import threading
import time

import oracle

WORK = os.path.join("p", "work")
SENTINEL_NAMES = {".": "SENTINEL-top.txt", "p": "SENTINEL-parent.txt", WORK: "SENTINEL-cwd.txt"}

_running = set()
_running_lock = threading.Lock()


class Step:
    """One command of a case. argv[0] is 'neuromorph' or 'neuromorph-run' (resolved against --bin) or
    an absolute program. out = (path relative to the working folder, kind) of what it writes;
    names = tokens a refusal must mention (any one); must_refuse = why exit 0 would be wrong;
    kill = (signal, seconds after start); same_as = ('spikes'|'weights', reference folder);
    group = steps with the same group start together (concurrent writers); only_if_ok = skip unless
    the previous step exited 0; echo = free text of the input (e.g. a run's name 'nan') that the tool
    may print back as is: as a JSON string or a word on stdout it is not a silent NaN."""

    def __init__(self, argv, out=None, names=(), must_refuse=None, kill=None, same_as=None, group=None,
                 only_if_ok=False, timeout=None, echo=None):
        self.argv, self.out, self.names, self.must_refuse = list(argv), out, list(names), must_refuse
        self.kill, self.same_as, self.group, self.only_if_ok, self.timeout = kill, same_as, group, only_if_ok, timeout
        self.echo = echo

    def command_line(self):
        return " ".join(quote(a) for a in self.argv)


class Case:
    """A fuzz case: files to create (relative to the case's top folder: bytes, str, ('dir',),
    ('copy', source path), ('symlink', target)), the steps, which pre-existing paths the steps may
    replace, and which folders get no sentinel."""

    def __init__(self, cid, family, tag, desc, files, steps, replaceable=(), bare=()):
        self.id, self.family, self.tag, self.desc = cid, family, tag, desc
        self.files, self.steps = files, steps
        self.replaceable = [os.path.normpath(os.path.join(WORK, r)) for r in replaceable]
        self.bare = {os.path.normpath(os.path.join(WORK, b)) for b in bare}


class CaseResult:
    def __init__(self, case, findings, steps, seconds):
        self.case, self.findings, self.steps, self.seconds = case, findings, steps, seconds

    @property
    def failed(self):
        return bool(self.findings)


def quote(a):
    if a and all(c.isalnum() or c in "-_./,:=+@%" for c in a):
        return a
    return "'" + a.replace("'", "'\\''") + "'"


def w(*parts):
    """A path inside the working folder of a case (for Case.files)."""
    return os.path.join(WORK, *parts)


def materialize(case, top):
    os.makedirs(os.path.join(top, WORK))
    dirs = {".", "p", WORK}
    for rel, spec in case.files.items():
        full = os.path.join(top, rel)
        parent = os.path.dirname(full)
        os.makedirs(parent, exist_ok=True)
        d = os.path.dirname(os.path.normpath(rel))
        while d and d not in dirs:
            dirs.add(d)
            d = os.path.dirname(d)
        if isinstance(spec, (bytes, str)):
            with open(full, "wb") as f:
                f.write(spec.encode("utf-8", "surrogateescape") if isinstance(spec, str) else spec)
        elif spec[0] == "dir":
            os.makedirs(full, exist_ok=True)
            dirs.add(os.path.normpath(rel))
        elif spec[0] == "copy":
            if os.path.isdir(spec[1]):
                shutil.copytree(spec[1], full)
                for d2, _, _ in os.walk(full):
                    dirs.add(os.path.relpath(d2, top))
            else:
                shutil.copyfile(spec[1], full)
        elif spec[0] == "symlink":
            os.symlink(spec[1], full)
        else:
            raise ValueError(spec)
    for d in sorted(dirs):
        if d in case.bare or not os.path.isdir(os.path.join(top, d)) or os.path.islink(os.path.join(top, d)):
            continue
        name = SENTINEL_NAMES.get(d, "SENTINEL-input.txt")
        with open(os.path.join(top, d, name), "w") as f:
            f.write("sentinel of %s in %s: neuromorph must never delete or change this file\n" % (case.id, d))


def resolve(argv, bins):
    if argv[0] in ("neuromorph", "neuromorph-run"):
        return [os.path.join(bins, argv[0])] + argv[1:]
    return argv


class Limits:
    """Per command: `timeout` seconds of CPU time (a hang), at most `wall_factor` times that in wall
    time, an address-space and a file-size limit."""

    def __init__(self, timeout, mem_mb, fsize_mb, wall_factor=6.0):
        self.timeout, self.mem_mb, self.fsize_mb, self.wall_factor = timeout, mem_mb, fsize_mb, wall_factor


def start(argv, cwd, env, limits, logbase):
    wrapped = ["/bin/sh", "-c", 'ulimit -v %d 2>/dev/null; ulimit -f %d 2>/dev/null; ulimit -c 0; exec "$@"'
               % (limits.mem_mb * 1024, limits.fsize_mb * 2048), "sh"] + argv
    out = open(logbase + ".stdout", "wb")
    err = open(logbase + ".stderr", "wb")
    try:
        p = subprocess.Popen(wrapped, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
    finally:
        out.close()
        err.close()
    with _running_lock:
        _running.add(p.pid)
    p.started = time.monotonic()
    p.logbase = logbase
    return p


def killgroup(pid, sig=signal.SIGKILL):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def finish(p, step, limits):
    """Waits for a started process (sending the step's kill signal on time) and returns a StepResult."""
    sent, kill_after, timed_out = None, 0.0, False
    timeout = step.timeout or limits.timeout
    if step.kill:
        sig, delay = step.kill
        try:
            p.wait(timeout=max(0.0, delay - (time.monotonic() - p.started)))
        except subprocess.TimeoutExpired:
            if p.poll() is None:
                kill_after = time.monotonic() - p.started
                killgroup(p.pid, sig)
                sent = int(sig)
    timed_out = wait_bounded(p, timeout, limits)
    seconds = time.monotonic() - p.started
    killgroup(p.pid)  # anything the command left running in its group
    with _running_lock:
        _running.discard(p.pid)
    return oracle.StepResult(p.returncode, timed_out=timed_out, sent_signal=sent, stdout=read_tail(p.logbase + ".stdout"),
                             stderr=read_tail(p.logbase + ".stderr"), seconds=seconds, kill_after=kill_after,
                             cpu=getattr(p, "cpu_at_kill", None))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a running process (all its threads), from /proc; None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def wait_bounded(p, timeout, limits):
    """Waits for p; True (after killing its group) when it used `timeout` seconds of CPU, or ran
    `limits.wall_factor` times that long in wall time. CPU time keeps a loaded machine (others
    building) from turning a slow start into a hang; the wall limit catches a process that blocks."""
    wall = timeout * limits.wall_factor
    while True:
        try:
            p.wait(timeout=0.25)
            return False
        except subprocess.TimeoutExpired:
            pass
        cpu = cpu_seconds(p.pid)
        if (cpu is not None and cpu >= timeout) or time.monotonic() - p.started >= wall:
            p.cpu_at_kill = cpu
            killgroup(p.pid)
            p.wait()
            return True


def read_tail(path, limit=40000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            n = f.tell()
            f.seek(max(0, n - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def kill_all():
    with _running_lock:
        pids = list(_running)
    for pid in pids:
        killgroup(pid)


def run_case(case, root, bins, env, limits):
    """Builds the case's folders, runs its steps and returns a CaseResult with the oracle's findings."""
    t0 = time.monotonic()
    top = os.path.join(root, "cases", case.id)
    logs = os.path.join(root, "logs")
    os.makedirs(logs, exist_ok=True)
    materialize(case, top)
    cwd = os.path.join(top, WORK)
    before, dirs = oracle.snapshot(top)
    before_names = set(before) | dirs
    findings, results = [], []
    i = 0
    prev_rc = 0
    while i < len(case.steps):
        group = [case.steps[i]]
        if case.steps[i].group is not None:
            while i + len(group) < len(case.steps) and case.steps[i + len(group)].group == case.steps[i].group:
                group.append(case.steps[i + len(group)])
        if group[0].only_if_ok and prev_rc != 0:
            for s in group:
                results.append((s, None))
            i += len(group)
            continue
        dest_before = [bool(s.out) and os.path.lexists(os.path.join(cwd, s.out[0])) and s.out[0] not in ("", ".", "..")
                       for s in group]
        env2 = dict(env, HOME=top)
        procs = [start(resolve(s.argv, bins), cwd, env2, limits, os.path.join(logs, "%s.%d" % (case.id, i + k)))
                 for k, s in enumerate(group)]
        res = [finish(p, s, limits) for p, s in zip(procs, group)]
        for k, (s, r) in enumerate(zip(group, res)):
            s.names = [os.path.normpath(n.replace("{cwd}", cwd)) if "{cwd}" in n else n for n in s.names]
            if s.same_as and not os.path.isabs(s.same_as[1]):
                s.same_as = (s.same_as[0], os.path.join(cwd, s.same_as[1]))
            for f in oracle.judge_step(s, r, cwd, dest_before[k]):
                f.step = i + k
                findings.append(f)
            results.append((s, r))
        if len(group) > 1:
            findings += judge_concurrent(group, res, i)
        # a SIGKILLed run's leftovers are for the next run to sweep; a crashed one is reported as a crash
        if not any(r.sent_signal == signal.SIGKILL or (r.sent_signal is None and (r.rc < 0 or r.rc >= 128)) for r in res):
            left = oracle.leftovers(top, before_names)
            if left:
                findings.append(oracle.Finding("partial", "staging leftovers after the run: %s" % ", ".join(oracle.short(left, 3)), i))
        prev_rc = res[-1].rc
        i += len(group)
    findings += oracle.check_protected(before, top, case.replaceable)
    return CaseResult(case, dedupe(findings), results, time.monotonic() - t0)


def judge_concurrent(group, res, i):
    """Two writers into one destination: at most one may report success."""
    if len(res) > 1 and all(r.rc == 0 and not r.timed_out for r in res):
        return [oracle.Finding("wrong", "%d concurrent writers into %s all reported success: all but one result silently replaced"
                               % (len(res), group[0].out[0] if group[0].out else "?"), i)]
    return []


def dedupe(findings):
    seen, out = set(), []
    for f in findings:
        key = (f.kind, f.reason)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
