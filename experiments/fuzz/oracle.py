"""The oracle: what counts as a good outcome of a fuzz case.

A step of a case ends well when it either
- exits 0 with correct, complete output (the destination holds every expected file and each parses;
  no NaN/inf in the JSON it wrote or printed, nor in float arrays), or
- refuses cleanly: exit 1 or 2 with a stderr line starting `Error:`/`error:` (neuromorph-run: its
  documented `neuromorph-run: ` prefix) whose message names the input (the mutated file or folder,
  the key or the flag) and no raw Foundation/Swift dump;
and never
- dies by a signal or traps (negative return code or >= 128), except the signal a kill case sent,
- runs past its timeout,
- deletes or changes a file that existed before the case (sentinels in the working folder, its
  parent, input folders and a pre-existing destination; the inputs themselves),
- leaves a partial output (a destination missing files; staging leftovers such as `.X.partial-*`,
  `.X.tmp-*`, `.X.old-*` after a run that was not SIGKILLed; a SIGKILLed run's leftovers must be
  swept by the next run),
- reports success on an input it must refuse (`must_refuse`) or writes results that differ from the
  uninterrupted reference run (`same_as`).

Each violation is a Finding(kind, reason); kinds are the columns of the results table.
"""

import hashlib
import json
import math
import os
import re

import formats

KINDS = ["crash", "hang", "deleted", "partial", "nan", "wrong", "unclear"]
KIND_TITLES = {"crash": "crashes", "hang": "hangs", "deleted": "deleted files", "partial": "partial outputs",
               "nan": "silent NaN", "wrong": "wrong results", "unclear": "unclear refusals"}

STAGING_RE = re.compile(r"(\.partial|\.tmp|\.old-|\.staging)")
RAW_DUMP_MARKERS = ["Error Domain=", "NSCocoaErrorDomain", "NSUnderlyingError", "Swift.DecodingError",
                    "Swift.EncodingError", "EncodingError.invalidValue", "DecodingError.", "NSPOSIXErrorDomain",
                    "Foundation._GenericObjCError", "(Foundation.", "UserInfo={"]
SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
                8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}
NAN_WORD_RE = re.compile(r"(?<![A-Za-z_])[-+]?(nan|inf|infinity)(?![A-Za-z_])", re.IGNORECASE)


class Finding:
    def __init__(self, kind, reason, step=None):
        assert kind in KINDS, kind
        self.kind, self.reason, self.step = kind, reason, step

    def __repr__(self):
        return "Finding(%s: %s)" % (self.kind, self.reason)


class StepResult:
    """What a process did: return code (negative = signal), whether it was killed for running past
    its timeout, the signal the harness sent on purpose (kill cases), and its output streams."""

    def __init__(self, rc, timed_out=False, sent_signal=None, stdout="", stderr="", seconds=0.0, kill_after=0.0, cpu=None):
        self.rc, self.timed_out, self.sent_signal, self.kill_after, self.cpu = rc, timed_out, sent_signal, kill_after, cpu
        self.stdout, self.stderr, self.seconds = stdout, stderr, seconds


# ---- file-system snapshots -----------------------------------------------------------------------

def snapshot(root):
    """{relative path: sha1} of every file under root (symlinks by target), and the set of folders."""
    files, dirs = {}, set()
    for d, dn, fn in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs.add(rel)
        for f in fn:
            p = os.path.join(d, f)
            r = os.path.normpath(os.path.join(rel, f))
            try:
                if os.path.islink(p):
                    files[r] = "link:" + os.readlink(p)
                else:
                    with open(p, "rb") as fh:
                        files[r] = hashlib.sha1(fh.read()).hexdigest()
            except OSError as e:
                files[r] = "unreadable:%s" % e.errno
    return files, dirs


def under(path, folder):
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return folder == "." or path == folder or path.startswith(folder + os.sep)


def check_protected(before, root, replaceable):
    """Findings for files present before the case that are gone or changed (outside `replaceable`)."""
    after, _ = snapshot(root) if os.path.isdir(root) else ({}, set())
    gone, changed = [], []
    for rel, h in sorted(before.items()):
        if any(under(rel, r) for r in replaceable):
            continue
        if rel not in after:
            gone.append(rel)
        elif after[rel] != h:
            changed.append(rel)
    out = []
    if gone:
        out.append(Finding("deleted", "deleted %d file(s) it did not write: %s" % (len(gone), ", ".join(short(gone)))))
    if changed:
        out.append(Finding("deleted", "modified %d file(s) it did not write: %s" % (len(changed), ", ".join(short(changed)))))
    return out


def short(paths, n=4):
    p = list(paths)
    return p[:n] + (["... %d more" % (len(p) - n)] if len(p) > n else [])


def leftovers(root, before_names):
    """New staging/temporary entries (names matching STAGING_RE) anywhere under root."""
    found = []
    if not os.path.isdir(root):
        return found
    for d, dn, fn in os.walk(root):
        rel = os.path.relpath(d, root)
        for name in dn + fn:
            r = os.path.normpath(os.path.join(rel, name))
            if STAGING_RE.search(name) and r not in before_names:
                found.append(r)
    return sorted(found)


# ---- outputs --------------------------------------------------------------------------------------

def _json_nonfinite(doc, path=""):
    bad = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            bad += _json_nonfinite(v, "%s.%s" % (path, k) if path else str(k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            bad += _json_nonfinite(v, "%s[%d]" % (path, i))
    elif isinstance(doc, float) and not math.isfinite(doc):
        bad.append("%s = %r" % (path, doc))
    elif isinstance(doc, str) and doc.strip().lower() in ("nan", "-nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
        bad.append("%s = %r" % (path, doc))
    return bad


def check_json(path, name):
    """(problems, nonfinite) of a JSON file."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return ["%s unreadable (%s)" % (name, e)], []
    try:
        doc = json.loads(text)
    except ValueError:
        if NAN_WORD_RE.search(text):
            return [], ["%s holds a bare nan/inf (not JSON)" % name]
        return ["%s is not valid JSON" % name], []
    return [], ["%s: %s" % (name, b) for b in _json_nonfinite(doc)[:3]]


def check_npy(path, name, nan_ok=False):
    try:
        with open(path, "rb") as f:
            _, _, values = formats.parse_npy(f.read())
    except (OSError, ValueError) as e:
        return ["%s: %s" % (name, e)], []
    if values is not None and not nan_ok:
        bad = formats.first_nonfinite(values)
        if bad:
            return [], ["%s[%d] = %r" % (name, bad[0], bad[1])]
    return [], []


def check_safetensors(path, name):
    try:
        with open(path, "rb") as f:
            data = f.read()
        bad = []
        for t, values in formats.float_tensors(data):
            nf = formats.first_nonfinite(values)
            if nf:
                bad.append("%s tensor %s[%d] = %r" % (name, t, nf[0], nf[1]))
        return [], bad[:3]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return ["%s: %s" % (name, e)], []


def check_svg(path, name):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return ["%s unreadable (%s)" % (name, e)], []
    if b"<svg" not in data[:400] or not data.rstrip().endswith(b"</svg>"):
        return ["%s is not a complete SVG" % name], []
    return [], []


def check_file(path, name):
    if name.endswith(".json"):
        return check_json(path, name)
    if name.endswith(".npy"):
        return check_npy(path, name)
    if name.endswith(".safetensors"):
        return check_safetensors(path, name)
    if name.endswith(".svg"):
        return check_svg(path, name)
    if not os.path.isfile(path):
        return ["%s missing" % name], []
    return [], []


EXPECTED = {
    "train": ["model.json", "model.safetensors", "metrics.json", "checkpoint.safetensors"],
    "convert": ["network.json", "weights.safetensors"],
    "compare": ["report.md", "report.json", "accuracy.svg", "spikes_per_layer.svg", "energy.svg"],
}


def check_output(path, kind):
    """(problems, nonfinite) of an output of `kind` at `path`: 'sim' (simulate --out), 'run'
    (neuromorph-run --out), 'train', 'convert', 'compare', 'netfile' (--save-network), 'json', 'npy'."""
    if kind in ("json", "npy", "netfile"):
        path = path.rstrip("/") or path   # 'file/' names the file 'file' (as open(2) sees it, ENOTDIR aside)
        if not os.path.isfile(path):
            return ["%s missing" % os.path.basename(path)], []
        if kind == "json":
            return check_json(path, os.path.basename(path))
        if kind == "npy":
            return check_npy(path, os.path.basename(path), nan_ok=True)
        with open(path, "rb") as f:
            head = f.read(5)
        return ([] if head == b"NMNET" else ["%s is not a saved network" % os.path.basename(path)]), []
    if not os.path.isdir(path):
        return ["no output folder"], []
    names = set(os.listdir(path))
    problems, nonfinite = [], []
    if kind in EXPECTED:
        expected = list(EXPECTED[kind])
    elif kind == "sim":
        expected = ["summary.json", "raster.svg"]
        try:
            with open(os.path.join(path, "summary.json")) as f:
                listed = json.load(f).get("files")
            if isinstance(listed, list):
                expected = sorted(set(expected) | set(x for x in listed if isinstance(x, str)))
        except (OSError, ValueError, AttributeError):
            pass
    elif kind == "run":
        expected = ["summary.json"]
    else:
        raise ValueError(kind)
    missing = [e for e in expected if e not in names]
    if missing:
        problems.append("missing %s" % ", ".join(short(missing)))
    for name in sorted(names):
        p = os.path.join(path, name)
        if name in expected or name.endswith((".npy", ".json")):
            pr, nf = check_file(p, name)
            problems += pr
            nonfinite += nf
    if kind == "train" and "metrics.json" in names:
        try:
            with open(os.path.join(path, "metrics.json")) as f:
                if not json.load(f).get("epochs"):
                    problems.append("metrics.json lists no epoch")
        except (OSError, ValueError, AttributeError):
            pass
    return problems, nonfinite


# ---- messages -------------------------------------------------------------------------------------

ERROR_LINE_RE = re.compile(r"^(neuromorph-run: )?(Error|error)\b:?|^neuromorph-run: ")


def error_text(stderr):
    """The error message: the first `Error:`/`error:` line (or `neuromorph-run: ...`) and the lines
    that continue it (up to a blank line or argument-parser `Usage:`/`Help:` lines)."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if ERROR_LINE_RE.match(line):
            out = [line]
            for nxt in lines[i + 1:i + 6]:
                if not nxt.strip() or nxt.startswith(("Usage:", "usage:", "Help:", "  See '")):
                    break
                out.append(nxt)
            return "\n".join(out)
    return None


def error_lines(stderr):
    """How many lines the error message runs to (from its first line; argument-parser help excluded)."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if ERROR_LINE_RE.match(line):
            n = 0
            for nxt in lines[i:]:
                if nxt.startswith(("Usage:", "usage:", "Help:", "  See '")):
                    break
                n += 1 if nxt.strip() else 0
            return n
    return 0


def names_input(text, names):
    """Whether the message mentions one of `names` (case-insensitive substrings; a name written
    '=NAME' must appear as a whole token, for short paths such as '.' or '..')."""
    t = text.lower()
    for n in names:
        if n.startswith("="):
            if re.search(r"(?<![\w./])%s(?![\w/])" % re.escape(n[1:].lower()), t):
                return True
        elif n and n.lower() in t:
            return True
    return False


CRASHED_RE = re.compile(r"crashed:[ \t]*\n\s*\n?(.*?)(?:\n[ \t]*\n|\Z)", re.S)


def crash_site(stderr):
    """The message a crash printed ('Fatal error: ...', 'OMP: Error ...', else the last line before the
    backtrace) and the first project frame of a Swift backtrace, if any."""
    msg = None
    head = re.split(r"\n\*\*\* (?:Signal|Program crashed)", stderr, maxsplit=1)[0]
    for line in stderr.splitlines():
        if "Fatal error" in line or "Precondition failed" in line or "Assertion failed" in line:
            msg = re.sub(r"^.*?/Sources/", "", line.strip())
            break
    if msg is None:
        errs = [l.strip() for l in head.splitlines() if re.search(r"error|abort|fail", l, re.I)]
        if errs:
            msg = errs[0][:160]
    site = None
    m = CRASHED_RE.search(stderr)
    frames = m.group(1) if m else stderr
    for fm in re.finditer(r" in (?:neuromorph|neuromorph-run) at \S*?/?Sources/([\w\-/]+\.(?:swift|c|h)):(\d+)", frames):
        site = "%s:%s" % (fm.group(1), fm.group(2))
        break
    return msg, site


def describe_signal(rc):
    sig = -rc if rc < 0 else rc - 128
    return SIGNAL_NAMES.get(sig, "signal %d" % sig)


# ---- judging ------------------------------------------------------------------------------------

def judge_step(step, res, cwd, dest_before):
    """Findings for one finished step. `dest_before` tells whether the step's output destination
    existed before the step ran (a refused or killed step must then leave it as it was, which the
    protected-files check sees; otherwise what it leaves there must be complete)."""
    killed = res.sent_signal is not None
    if res.timed_out:
        after = " after %s" % describe_signal(-res.sent_signal) if killed else ""
        cpu = " (%.1f s of CPU)" % res.cpu if res.cpu is not None else ""
        return [Finding("hang", "no exit within %.0f s%s%s" % (res.seconds, cpu, after))]
    rc = res.rc
    if rc < 0 or rc >= 128:
        if not (killed and rc in (-res.sent_signal, 128 + res.sent_signal)):
            msg, site = crash_site(res.stderr)
            detail = ", ".join(x for x in (site and "at " + site, msg) if x)
            return [Finding("crash", "%s%s" % (describe_signal(rc), " (%s)" % detail if detail else ""))]
    out = []
    path, kind = step.out if step.out else (None, None)
    full = os.path.join(cwd, path) if path is not None else None
    if rc == 0:
        if step.must_refuse:
            # what it wrote is beside the point (and '--out ..' leaves no working folder to look from)
            return [Finding("wrong", "exit 0 but must refuse: %s" % step.must_refuse)]
        if full is not None:
            problems, nonfinite = check_output(full, kind)
            if step.echo is not None:   # the input's own free text, written back as a JSON string
                nonfinite = [n for n in nonfinite if not n.endswith(" = %r" % step.echo)]
            if problems:
                out.append(Finding("partial", "exit 0, %s %s: %s" % (kind, path or '""', "; ".join(short(problems, 3)))))
            if nonfinite:
                out.append(Finding("nan", "exit 0 with non-finite values: %s" % "; ".join(short(nonfinite, 3))))
            elif not problems and step.same_as:
                diff = compare_with_reference(full, *step.same_as)
                if diff:
                    out.append(Finding("wrong", "output differs from the uninterrupted reference run: %s" % diff))
        stdout = res.stdout or ""
        if step.echo:
            stdout = stdout.replace(step.echo, "")
        m = NAN_WORD_RE.search(stdout)
        if m:
            line = next((l for l in stdout.splitlines() if NAN_WORD_RE.search(l)), "")
            out.append(Finding("nan", "exit 0 printing '%s' on stdout: %s" % (m.group(0), line.strip()[:120])))
        return out
    if killed:
        if full is not None and not dest_before and path not in ("", ".", "..") and os.path.exists(full):
            problems, _ = check_output(full, kind)
            if problems:
                out.append(Finding("partial", "killed by %s after %.2f s, left %s %s: %s" % (
                    describe_signal(-res.sent_signal), res.kill_after, kind, path, "; ".join(short(problems, 3)))))
        if rc not in (1, 2, -res.sent_signal, 128 + res.sent_signal):
            out.append(Finding("unclear", "exit %d after %s (expected the signal's status, 1 or 2)" % (rc, describe_signal(-res.sent_signal))))
        return out
    if rc not in (1, 2):
        out.append(Finding("unclear", "exit %d (expected 0, 1 or 2)%s" % (rc, ": " + first_line(error_text(res.stderr) or res.stderr) if res.stderr else "")))
    text = error_text(res.stderr)
    if rc not in (1, 2):
        pass
    elif text is None:
        out.append(Finding("unclear", "exit %d without an 'Error:' line: %s" % (rc, first_line(res.stderr) or "(no stderr)")))
    else:
        dumps = [m for m in RAW_DUMP_MARKERS if m in res.stderr]
        if dumps:
            out.append(Finding("unclear", "raw Foundation/Swift error text (%s): %s" % (dumps[0], first_line(text))))
        elif step.names and not names_input(text, step.names):
            out.append(Finding("unclear", "error names none of %s: %s" % (" / ".join(step.names[:4]), first_line(text))))
        elif error_lines(res.stderr) > 3:
            out.append(Finding("unclear", "error message runs to %d lines (expected one sentence): %s" % (
                error_lines(res.stderr), first_line(text))))
    if full is not None and not dest_before and path not in ("", ".", "..") and os.path.exists(full):
        problems, _ = check_output(full, kind)
        if problems:
            out.append(Finding("partial", "refused (exit %d) but left %s %s: %s" % (rc, kind, path, "; ".join(short(problems, 3)))))
    return out


def compare_with_reference(path, what, ref):
    """'' when the output at `path` matches the reference: 'spikes' compares every spikes_*.npy of two
    folders byte for byte, 'weights' the tensors of model.safetensors (metadata ignored)."""
    if what == "spikes":
        mine = sorted(f for f in os.listdir(path) if f.startswith("spikes_"))
        theirs = sorted(f for f in os.listdir(ref) if f.startswith("spikes_"))
        if mine != theirs:
            return "spike files %s vs %s" % (short(mine, 3), short(theirs, 3))
        for f in mine:
            with open(os.path.join(path, f), "rb") as a, open(os.path.join(ref, f), "rb") as b:
                if a.read() != b.read():
                    return "%s differs" % f
        return ""
    if what == "weights":
        try:
            with open(os.path.join(path, "model.safetensors"), "rb") as a, open(os.path.join(ref, "model.safetensors"), "rb") as b:
                ta, tb = formats.tensor_bytes(a.read()), formats.tensor_bytes(b.read())
        except (OSError, ValueError, KeyError) as e:
            return "cannot compare weights (%s)" % e
        for k in sorted(set(ta) | set(tb)):
            if ta.get(k) != tb.get(k):
                return "tensor %s differs" % k
        for f in ("metrics.json",):
            try:
                with open(os.path.join(path, f)) as a, open(os.path.join(ref, f)) as b:
                    ea, eb = len(json.load(a).get("epochs", [])), len(json.load(b).get("epochs", []))
                if ea != eb:
                    return "metrics.json lists %d epochs, the reference %d" % (ea, eb)
            except (OSError, ValueError, AttributeError):
                return "metrics.json unreadable"
        return ""
    raise ValueError(what)


def first_line(text, n=160):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:n]
    return ""
