"""Case families. Each generator makes case k of its family from the fixtures and a random generator
seeded by (seed, family, k), so a case is the same whatever the budget (the CI cases are the first
ones of the full run) and `--case ID` rebuilds exactly one.

Names in the working folder are chosen to be distinctive so that an error naming its input can be
recognised: cfg.yaml, mymodel/, mysnn/, mydata/, net.nmnet, outdir."""

import gzip
import json
import os
import random
import re
import signal
import struct
import zlib

import formats
import mutators as mu
from runner import Case, Step, w

CFG, MODEL, SNN, DATA, NET, OUT = "cfg.yaml", "mymodel", "mysnn", "mydata", "net.nmnet", "outdir"

POSITIVE_KEYS = {"size", "dt", "duration", "k", "bin", "every", "C_m", "tau_m", "tau_syn_exc", "tau_syn_inh", "rate", "std", "tau_w"}
SCALAR_ONLY = {"size", "model", "p", "k", "dt", "duration", "seed", "rule", "pre", "post", "receptor", "rate", "tau_m", "C_m",
               "g_L", "E_L", "V_th", "V_reset", "t_ref", "bin", "every", "kind", "target", "amplitude", "start", "stop",
               "population", "multapses", "autapses", "name"}
UNIT_DIMS = {"ms": "time", "s": "time", "us": "time", "μs": "time", "mV": "voltage", "V": "voltage", "nS": "conductance",
             "pS": "conductance", "pA": "current", "nA": "current", "pF": "capacitance", "Hz": "rate", "kHz": "rate"}
# free text: any scalar is a valid value ("name: nan" names a run "nan"; "name: 1 Gms" is a name, not a quantity;
# network.json's "source" names the model folder it was converted from)
FREE_TEXT_KEYS = {"name", "source"}
CONTEXT_UNIT_KEYS = {"weight", "weights", "mean", "std", "min", "max", "low", "high", "I_e", "c", "d", "amplitudes"}


def weighted(rng, table):
    total = sum(wt for _, wt in table)
    x = rng.uniform(0, total)
    for item, wt in table:
        x -= wt
        if x <= 0:
            return item
    return table[-1][0]


def product(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def number_of(text):
    try:
        return float(text.replace(".nan", "nan").replace(".inf", "inf"))
    except ValueError:
        try:
            return float(int(text, 0))
        except ValueError:
            return None


# ---- simulation configs ----------------------------------------------------------------------------

def set_first(text, key, value, base_spans=None):
    _, spans = mu.yaml_keys(text)
    for s in spans:
        if text.split("\n")[s.line][s.k0:s.k1] == key:
            return mu.yaml_set_value(text, s, value)
    raise KeyError(key)


TARGETED = [
    ("zoo", "fixed_indegree k = 3e9 (Int32(k) trap)", lambda t: set_first(t, "k", "3000000000"), None),
    ("cuba", "run.duration = 1e300 s", lambda t: set_first(t, "duration", "1e300 s"), "a duration whose step count overflows"),
    ("zoo", "state monitor every = 1e10 ms", lambda t: set_first(t, "every", "1e10 ms"), None),
    ("zoo", "spike_times [[1e20 s]]", lambda t: set_first(t, "spike_times", "[[1e20 s]]"), None),
    ("coba", "weight = 1e38 nS (NaN membranes)", lambda t: set_first(t, "weight", "1e38 nS"), None),
    ("coba", "C_m = 1e300 GF (+inf)", lambda t: set_first(t, "C_m", "1e300 GF"), "C_m overflows to inf"),
    ("cuba", "size 99999999 at p = 0.02", lambda t: set_first(t, "size", "99999999"), None),
    ("cuba", "all_to_all on 50000 neurons", lambda t: set_first(set_first(t, "size", "50000"), "connect", "{rule: all_to_all}"), None),
    ("zoo", "input neurons 0:2000000000 on 10 neurons", lambda t: set_first(t, "neurons", "0:2000000000"), "neuron range beyond the population"),
    ("zoo", "AdEx I_e = 1e9 pA (RKF45 collapse)", lambda t: t.replace("params: {I_e: 500 pA}", "params: {I_e: 1e9 pA}"), None),
    ("zoo", "dt = 1e-300 ms", lambda t: set_first(t, "dt", "1e-300 ms"), "a step count that overflows"),
    ("zoo", "delay = 1e300 ms", lambda t: set_first(t, "delay", "1e300 ms"), "a delay whose ring buffer cannot exist"),
    ("zoo", "rates bin = 1e-300 ms", lambda t: set_first(t, "bin", "1e-300 ms"), "a rate bin shorter than dt"),
    ("zoo", "p = .nan", lambda t: set_first(t, "p", ".nan"), "p is NaN"),
    ("cuba", "weight = 1e30 mV", lambda t: set_first(t, "weight", "1e30 mV"), None),
    ("zoo", "rate = 1e300 Hz", lambda t: set_first(t, "rate", "1e300 Hz"), None),
]
CONFIG_OPS = [("delete", 10), ("duplicate", 7), ("rename", 7), ("extreme", 22), ("wrongtype", 9), ("unit", 8), ("huge", 8),
              ("targeted", 12), ("bomb", 5), ("truncate", 5), ("garbage", 4), ("binary", 2), ("encoding", 3), ("empty", 1),
              ("longdoc", 1)]


def config_case(fx, rng, cid):
    base = rng.choice(["cuba", "coba", "cobahh", "zoo", "zoo", "zoo-save"])
    text = fx.configs[base]
    lines, spans = mu.yaml_keys(text)
    pops = set(re.findall(r"^  (\w+):\s*$", text, re.M))
    op = weighted(rng, CONFIG_OPS)
    must, key, tag = None, None, op
    span = rng.choice(spans)
    key = lines[span.line][span.k0:span.k1]
    scalar_spans = [s for s in spans if s.block_end is None and s.v1 > s.v0 and lines[s.line][s.v0] not in "{["]
    if op == "delete":
        new = mu.yaml_delete(text, span)
        desc = "delete key '%s' (line %d)" % (key, span.line + 1)
    elif op == "duplicate":
        new = mu.yaml_duplicate(text, span)
        desc = "duplicate key '%s' (line %d)" % (key, span.line + 1)
        must = "duplicate key '%s'" % key
    elif op == "rename":
        newkey = rng.choice([key + "_x", key.upper() if key.upper() != key else key.lower() + "x", key[:-1] or "q", "x" + key,
                             key + " extra", "'%s'" % (key + "2")])
        new = mu.yaml_rename(text, span, newkey)
        desc = "rename key '%s' -> '%s' (line %d)" % (key, newkey, span.line + 1)
        if key not in pops:
            must = "unknown key '%s'" % newkey
    elif op in ("extreme", "wrongtype", "unit", "huge"):
        span = rng.choice(scalar_spans)
        key = lines[span.line][span.k0:span.k1]
        old = mu.yaml_value(text, span)
        m = mu.UNIT_RE.match(old)
        unit = m.group(2) if m else None
        if op == "extreme":
            num = rng.choice(mu.EXTREME_NUMBERS)
            keep_unit = unit and rng.random() < 0.65
            val = num + (" " + unit if keep_unit else "")
            n = number_of(num)
            if key in FREE_TEXT_KEYS:
                must = None
            elif num in mu.NAN_TEXT:
                must = "NaN for '%s'" % key
            elif unit and not keep_unit and num not in ("0", "-0"):
                must = "bare number for '%s' (needs a unit like %s)" % (key, unit)
            elif key in POSITIVE_KEYS and n is not None and n < 0:
                must = "negative '%s'" % key
            elif key == "p" and n is not None and (n < 0 or n > 1):
                must = "p outside [0, 1]"
            tag = "extreme %s" % num
        elif op == "wrongtype":
            val = rng.choice(mu.WRONG_TYPES)
            if key in SCALAR_ONLY and val in ("[1, 2]", "{a: 1}", "[]", "{}", "[[[[]]]]"):
                must = "'%s' is not a scalar" % key
            tag = "wrong type"
        elif op == "unit":
            num = m.group(1) if m else (old if number_of(old) is not None else "1")
            nu = rng.choice(mu.UNITS)
            val = num + " " + nu
            if key in FREE_TEXT_KEYS:
                must = None
            elif nu not in UNIT_DIMS:
                must = "unknown unit '%s'" % nu
            elif unit and UNIT_DIMS.get(unit) and UNIT_DIMS[nu] != UNIT_DIMS[unit] and key not in CONTEXT_UNIT_KEYS:
                must = "'%s' takes a %s, not %s" % (key, UNIT_DIMS[unit], nu)
            tag = "unit"
        else:
            val = rng.choice(mu.HUGE_SIZES)
            if unit and rng.random() < 0.5 and ":" not in val and "[" not in val:
                val += " " + unit
            tag = "huge %s" % val
        new = mu.yaml_set_value(text, span, val)
        desc = "%s: %s = %s (was %s, line %d)" % (op, key, val, old, span.line + 1)
    elif op == "targeted":
        b, what, fn, mr = rng.choice(TARGETED)
        base, text = b, fx.configs[b]
        new = fn(text)
        desc = "targeted: %s" % what
        must = mr
        key = re.findall(r"\w+", what)[0]
        tag = "targeted " + what
    elif op == "bomb":
        levels, fan = rng.choice([(8, 9), (9, 9), (10, 10), (6, 30), (12, 6)])
        bomb = mu.alias_bomb(levels, fan)
        how = rng.choice(["unused", "value", "key"])
        body = text
        if how == "value":
            body = mu.yaml_set_value(text, rng.choice(scalar_spans), "*b%d" % levels)
        new = bomb + "\n" + body + ("\n? *b%d\n: 1\n" % levels if how == "key" else "")
        desc = "alias bomb %d^%d used as %s" % (fan, levels, {"unused": "an unknown top-level key", "value": "a value", "key": "a mapping key"}[how])
        must = "alias bomb"
        key = "x_bomb"
        tag = "bomb as " + how
    elif op == "truncate":
        cut = rng.randrange(1, len(text))
        new = text[:cut]
        desc = "truncated at byte %d of %d" % (cut, len(text))
    elif op == "garbage":
        a = rng.randrange(len(text))
        b = min(len(text), a + rng.randrange(1, 40))
        new = text[:a].encode() + mu.garbage(rng, b - a) + text[b:].encode()
        desc = "bytes %d..%d replaced by random bytes" % (a, b)
    elif op == "binary":
        new = mu.garbage(rng, rng.choice([16, 300, 5000]))
        desc = "whole file random bytes"
        must = "not a config"
    elif op == "encoding":
        kind = rng.choice(["nul", "invalid utf-8", "bom", "utf-16", "tabs", "crlf"])
        if kind == "nul":
            i = rng.randrange(len(text))
            new = text[:i] + "\x00" + text[i:]
        elif kind == "invalid utf-8":
            i = rng.randrange(len(text))
            new = text[:i].encode() + b"\xff\xfe\xc3" + text[i:].encode()
        elif kind == "bom":
            new = "\ufeff" + text
        elif kind == "utf-16":
            new = text.encode("utf-16")
        elif kind == "tabs":
            new = text.replace("  ", "\t")
        else:
            new = text.replace("\n", "\r\n")
        desc = "encoding: %s" % kind
        tag = "encoding " + kind
    elif op == "empty":
        new = rng.choice(["", "\n", "---\n", "# only a comment\n", "~\n", "[]\n", "{}\n"])
        desc = "empty config %r" % new
        must = "no populations"
    else:
        new = text + "\n# " + "a" * rng.choice([100000, 3000000]) + "\n"
        desc = "a %d-byte comment line" % (len(new) - len(text))
    files = {w(CFG): new}
    r = rng.random()
    names = [CFG] + ([key] if key and op not in ("truncate", "garbage", "binary", "encoding", "empty", "longdoc") else [])
    # a free-text value ("name: nan") comes back in summary.json and on stdout as the text it is
    echo = None
    if op in ("extreme", "unit") and key in FREE_TEXT_KEYS:
        echo = val
    if base == "zoo-save" and r < 0.4 or r < 0.12:
        steps = [Step(["neuromorph", "simulate", CFG, "--save-network", NET], out=(NET, "netfile"), names=names, must_refuse=must,
                      echo=echo),
                 Step(["neuromorph-run", NET, "--duration", "0.02", "--threads", "1", "--out", OUT], out=(OUT, "run"), names=[NET],
                      only_if_ok=True, echo=echo)]
    elif r < 0.2:
        steps = [Step(["neuromorph", "simulate", CFG, "--json"], names=names, must_refuse=must, echo=echo)]
    else:
        steps = [Step(["neuromorph", "simulate", CFG, "--out", OUT], out=(OUT, "sim"), names=names, must_refuse=must, echo=echo)]
    return Case(cid, "config", tag, "%s.yaml: %s" % (base, desc), files, steps)


# ---- model folders and converted-network folders ----------------------------------------------------

MODEL_TARGETS = [("model.json", 25), ("model.safetensors", 30), ("network.json", 15), ("weights.safetensors", 15),
                 ("checkpoint.safetensors", 8), ("files", 7)]
SHAPE_KEYS = {"in_features", "out_features", "in_channels", "out_channels", "kernel_size", "stride", "padding", "input_shape",
              "classes"}


def model_commands(target, rng, names, must, echo=None):
    ev = Step(["neuromorph", "eval", MODEL, "--data", DATA, "--limit", "20", "--json", "ev.json"], out=("ev.json", "json"),
              names=names, must_refuse=must, echo=echo)
    cv = Step(["neuromorph", "convert", MODEL, "--data", DATA, "--calibration", "20", "--out", OUT], out=(OUT, "convert"),
              names=names, must_refuse=must, echo=echo)
    cm = Step(["neuromorph", "compare", MODEL, "--data", DATA, "--calibration", "20", "--limit", "5", "--timesteps", "4,8",
               "--out", OUT], out=(OUT, "compare"), names=names, must_refuse=must, echo=echo)
    sim = Step(["neuromorph", "simulate", SNN, "--data", DATA, "--image", "2", "--timesteps", "8", "--out", OUT], out=(OUT, "sim"),
               names=names, must_refuse=must, echo=echo)
    cms = Step(["neuromorph", "compare", MODEL, SNN, "--data", DATA, "--limit", "5", "--timesteps", "4,8", "--out", OUT],
               out=(OUT, "compare"), names=names, must_refuse=must, echo=echo)
    if target in ("model.json", "model.safetensors"):
        return [rng.choice([ev, ev, cv, cm])]
    return [rng.choice([sim, cms])]


def json_mutation(doc, rng, text):
    """(new text, description, path text, key, value) of a random JSON mutation."""
    op = weighted(rng, [("set", 45), ("delete", 15), ("text", 15), ("list", 10), ("addkey", 5), ("rename", 5), ("nan", 5)])
    paths = mu.json_paths(doc)
    path = rng.choice(paths)
    key = str(path[-1]) if not isinstance(path[-1], int) else str(next((p for p in reversed(path) if not isinstance(p, int)), ""))
    d = json.loads(json.dumps(doc))
    if op == "set":
        old = mu.json_get(d, path)
        val = rng.choice(mu.JSON_VALUES)
        mu.json_set(d, path, val)
        return mu.json_text(d, rng), "%s = %s (was %s)" % (mu.path_text(path), json.dumps(val), json.dumps(old)[:40]), path, key, (old, val)
    if op == "nan":
        val = rng.choice([float("nan"), float("inf"), float("-inf")])
        mu.json_set(d, path, val)
        return mu.json_text(d, rng), "%s = %s (not JSON)" % (mu.path_text(path), val), path, key, ("nan", val)
    if op == "delete":
        mu.json_delete(d, path)
        return mu.json_text(d, rng), "delete %s" % mu.path_text(path), path, key, None
    if op == "addkey":
        target = rng.choice([p for p in [()] + paths if isinstance(mu.json_get(d, p), dict)])
        mu.json_get(d, target)["zz_unknown"] = 1
        return mu.json_text(d, rng), "add key %s.zz_unknown" % mu.path_text(target), target, "zz_unknown", None
    if op == "rename":
        dict_paths = [p for p in paths if not isinstance(p[-1], int)]
        p = rng.choice(dict_paths)
        parent = mu.json_get(d, p[:-1])
        parent[str(p[-1]) + "_x"] = parent.pop(p[-1])
        return mu.json_text(d, rng), "rename %s -> %s_x" % (mu.path_text(p), p[-1]), p, str(p[-1]), None
    if op == "list":
        lists = [p for p in [()] + paths if isinstance(mu.json_get(d, p), list) and mu.json_get(d, p)]
        p = rng.choice(lists)
        lst = mu.json_get(d, p)
        how = rng.choice(["dup", "drop", "swap", "empty"])
        if how == "dup":
            i = rng.randrange(len(lst))
            lst.insert(i, json.loads(json.dumps(lst[i])))
        elif how == "drop":
            lst.pop(rng.randrange(len(lst)))
        elif how == "swap" and len(lst) > 1:
            i, j = rng.sample(range(len(lst)), 2)
            lst[i], lst[j] = lst[j], lst[i]
        else:
            lst.clear()
        key = str(next((x for x in reversed(p) if not isinstance(x, int)), "layers"))
        return mu.json_text(d, rng), "%s list %s" % (how, mu.path_text(p) or "(root)"), p, key, ("list", how)
    how = rng.choice(["truncate", "garbage", "empty", "utf8", "nesting", "bignum", "duplicate-key"])
    if how == "truncate":
        last = text.rstrip().rfind("}")
        cut = rng.randrange(1, max(2, last))
        return text[:cut], "truncated at byte %d of %d" % (cut, len(text)), (), "", ("text", "invalid")
    if how == "garbage":
        i = rng.randrange(len(text))
        return text[:i].encode() + mu.garbage(rng, 8) + text[i + 8:].encode(), "8 random bytes at %d" % i, (), "", None
    if how == "empty":
        return "", "empty file", (), "", ("text", "invalid")
    if how == "utf8":
        i = rng.randrange(len(text))
        return text[:i].encode() + b"\xff\xfe" + text[i:].encode(), "invalid UTF-8 at %d" % i, (), "", None
    if how == "nesting":
        n = rng.choice([1000, 100000])
        return "[" * n + "]" * n, "nesting depth %d" % n, (), "", ("text", "invalid")
    if how == "bignum":
        return re.sub(r"(\d+)", lambda m: "9" * 400 if rng.random() < 0.2 else m.group(1), text), "400-digit numbers", (), "", None
    return text.replace("{", '{"classes": 3, ', 1), "duplicate key 'classes' at the top", (), "classes", None


def safetensors_mutation(data, rng, nan_ok=False, strict_shapes=True):
    """(new bytes, description, tensor name or '', must-refuse reason or None)."""
    header, body = formats.parse_safetensors(data)
    names = sorted(k for k in header if k != "__metadata__")
    name = rng.choice(names)
    t = header[name]
    op = weighted(rng, [("shape", 15), ("offsets", 12), ("dtype", 8), ("hlen", 8), ("drop", 5), ("rename", 4), ("nan", 14),
                        ("flip", 10), ("flip-header", 5), ("truncate", 8), ("append", 3), ("empty", 2), ("meta", 3), ("overlap", 3)])
    h = json.loads(json.dumps(header))
    if op == "shape":
        shape = list(t["shape"])
        how = rng.choice(["zero", "neg", "huge", "addone", "drop", "x3", "big3"])
        if how == "zero" and shape:
            shape[rng.randrange(len(shape))] = 0
        elif how == "neg" and shape:
            shape[rng.randrange(len(shape))] = -1
        elif how == "huge" and shape:
            shape[rng.randrange(len(shape))] = rng.choice([2 ** 31, 2 ** 32, 2 ** 62, 2 ** 64 + 1])
        elif how == "addone":
            shape.append(1)
        elif how == "drop" and len(shape) > 1:
            shape.pop()
        elif how == "big3":
            shape = [4294967296, 4294967296, 4294967296]
        else:
            shape = [s * 3 for s in shape] or [3]
        h[name]["shape"] = shape
        changed = shape != t["shape"] and (strict_shapes or product(shape) != product(t["shape"]))
        return formats.build_safetensors(h, body), "%s shape %s -> %s" % (name, t["shape"], shape), name, \
            "a tensor shape changed" if changed else None
    if op == "offsets":
        lo, hi = t["data_offsets"]
        new = rng.choice([[hi, lo], [lo, hi + 4], [lo, len(body) + 64], [0, 0], [-4, hi], [lo + 4, hi + 4], [lo, 2 ** 63],
                          [lo, 2 ** 64 + 8], [lo + 0.5, hi]])
        h[name]["data_offsets"] = new
        return formats.build_safetensors(h, body), "%s data_offsets %s -> %s" % (name, [lo, hi], new), name, \
            None if new == [lo, hi] or new == [lo + 4, hi + 4] else "inconsistent data_offsets"
    if op == "dtype":
        dt = rng.choice(["F16", "F64", "I32", "BF16", "U8", "BOGUS", "", 7])
        h[name]["dtype"] = dt
        return formats.build_safetensors(h, body), "%s dtype F32 -> %s" % (name, dt), name, "a tensor's dtype changed"
    if op == "hlen":
        n = struct.unpack("<Q", data[:8])[0]
        v = rng.choice([0, 1, 7, n - 1, n + 1, len(data), 2 ** 63, 2 ** 64 - 1, n * 1000])
        return struct.pack("<Q", v) + data[8:], "header length %d -> %d" % (n, v), "", "header length field wrong"
    if op == "drop":
        del h[name]
        return formats.build_safetensors(h, body), "tensor %s removed" % name, name, "a tensor is missing"
    if op == "rename":
        h[name + "_x"] = h.pop(name)
        return formats.build_safetensors(h, body), "tensor %s renamed %s_x" % (name, name), name, "a tensor is missing (renamed)"
    if op == "nan":
        name = rng.choice([n for n in names if header[n]["dtype"] == "F32"] or [name])
        t = header[name]
        lo, hi = t["data_offsets"]
        count = (hi - lo) // 4
        b = bytearray(body)
        val = rng.choice([float("nan"), float("inf"), float("-inf")])
        i = rng.randrange(count) if count else 0
        if count:
            struct.pack_into("<f", b, lo + 4 * i, val)
        why = None if nan_ok or not count else "a non-finite weight"
        return formats.build_safetensors(header, bytes(b)), "%s[%d] = %s" % (name, i, val), name, why
    if op == "flip":
        nb, where = mu.flip_bytes(body, rng, rng.choice([1, 2, 8]))
        return formats.build_safetensors(header, nb), "bit flips in the data at %s" % where[:4], "", None
    if op == "flip-header":
        n = struct.unpack("<Q", data[:8])[0]
        b = bytearray(data)
        i = 8 + rng.randrange(n)
        b[i] ^= 1 << rng.randrange(8)
        return bytes(b), "bit flip in the header at byte %d" % i, "", None
    if op == "truncate":
        cut = rng.randrange(0, len(data) - 1)
        return data[:cut], "truncated at byte %d of %d" % (cut, len(data)), "", "truncated file"
    if op == "append":
        return data + mu.garbage(rng, rng.choice([1, 100])), "random bytes appended", "", None
    if op == "empty":
        return b"", "empty file", "", "empty file"
    if op == "meta":
        h["__metadata__"] = rng.choice([{"format": 5}, [], "x", {"format": "pt", "k": {"nested": 1}}, None])
        return formats.build_safetensors(h, body), "__metadata__ = %s" % json.dumps(h["__metadata__"]), "", None
    other = rng.choice([n for n in names if header[n]["data_offsets"][1] - header[n]["data_offsets"][0] >= t["data_offsets"][1] - t["data_offsets"][0]] or [name])
    lo = header[other]["data_offsets"][0]
    h[name]["data_offsets"] = [lo, lo + t["data_offsets"][1] - t["data_offsets"][0]]
    return formats.build_safetensors(h, body), "%s data overlaps %s" % (name, other), name, \
        None if other == name else "overlapping tensor data"


# stride and padding size no weight: in model.json a changed one may still give shapes that chain (a conv
# output 13 wide instead of 12, pooled by 2 to 6 either way: seed 53 model-0195), a different but valid model
MODEL_GEOMETRY = (SHAPE_KEYS - {"stride", "padding"}) | {"format", "version", "type", "layers"}
SNN_GEOMETRY = {"stride", "kernel", "input_shape", "output_shape", "neurons", "classes", "format", "version", "padding",
                "first_layer_shape", "first_layer_stride", "first_layer_padding", "kind", "is_output", "layers", "scale"}


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def model_must_refuse_json(path, vals, spec_name):
    """Why a JSON mutation of model.json / network.json must be refused, or None when it may be valid."""
    if vals is None:
        return None
    old, new = vals
    if old == "text":
        return "not valid JSON"
    if old == "nan":
        return "NaN/Infinity is not JSON"
    keys = [str(p) for p in path if not isinstance(p, int)]
    geometry = MODEL_GEOMETRY if spec_name == "model.json" else SNN_GEOMETRY
    if old == "list":
        if new != "swap" and keys and keys[-1] in geometry:
            return "%s list changed (no longer matches the weights)" % keys[-1] if keys else "list changed"
        return None
    if type(new) is type(old) and new == old:
        return None
    if new is None and old is not None:
        # JSON's way of saying absent: a key with a default (model.json "classes": 10) reads it as a deletion,
        # which is never required to be refused; a required key is refused by the loader anyway
        return None
    if is_number(new) and is_number(old) and float(new) == float(old):
        return None
    if spec_name == "model.json" and keys[-2:] == ["normalization", "std"] and not (is_number(new) and new > 0):
        return "normalization std must be > 0"
    if spec_name == "network.json" and "scale" in keys and not (is_number(new) and new > 0):
        return "scale must be > 0"
    if keys and keys[-1] in geometry - {"scale"}:
        return "%s changed (geometry no longer matches the weights)" % keys[-1]
    return None


def safetensors_tag(desc):
    for needle, tag in (("shape", "shape"), ("data_offsets", "data_offsets"), ("dtype", "dtype"), ("header length", "header length"),
                        ("removed", "tensor removed"), ("renamed", "tensor renamed"), ("= nan", "non-finite weight"),
                        ("= inf", "non-finite weight"), ("= -inf", "non-finite weight"), ("bit flips in the data", "data bit flips"),
                        ("bit flip in the header", "header bit flip"), ("truncated", "truncated"), ("appended", "bytes appended"),
                        ("empty", "empty"), ("__metadata__", "metadata"), ("overlaps", "overlapping data")):
        if needle in desc:
            return tag
    return "other"


def json_tag(desc):
    if "(not JSON)" in desc:
        return "NaN/Infinity"
    m = re.match(r"(\S+) = ", desc)
    if m:
        return "set " + re.sub(r"\[\d+\]", "[i]", m.group(1))
    for w0 in ("delete", "add key", "rename"):
        if desc.startswith(w0):
            return w0 + " " + re.sub(r"\[\d+\]", "[i]", desc.split(" ")[1 if w0 != "add key" else 2])
    m = re.match(r"(\w+) list (\S+)", desc)
    if m:
        return "%s list %s" % (m.group(1), re.sub(r"\[\d+\]", "[i]", m.group(2)))
    return " ".join(desc.split(" ")[:2])


def model_case(fx, rng, cid):
    target = weighted(rng, MODEL_TARGETS)
    arch = rng.choice(["mlp", "cnn", "cnnbn"])
    files = {w(MODEL): ("copy", fx.path("model-" + arch)), w(SNN): ("copy", fx.path("snn-" + arch)), w(DATA): ("copy", fx.path("data"))}
    must, names, tag = None, [], target
    replaceable, bare = [], []
    if target in ("model.json", "network.json"):
        folder = MODEL if target == "model.json" else SNN
        text = fx.bytes(("model-" if folder == MODEL else "snn-") + arch, target).decode()
        new, desc, path, key, vals = json_mutation(json.loads(text), rng, text)
        files[w(folder, target)] = new
        must = model_must_refuse_json(path, vals, target)
        names = [folder, target] + ([key] if key and len(key) > 2 else [])
        # a layer's name is free text: "NaN" comes back as a population name, not as a number
        echo = vals[1] if vals and key in FREE_TEXT_KEYS and isinstance(vals[1], str) and vals[1] else None
        steps = model_commands(target, rng, names, must, echo=echo)
        tag = "%s: %s" % (target, json_tag(desc))
        desc = "%s/%s: %s" % (arch, target, desc)
    elif target in ("model.safetensors", "weights.safetensors", "checkpoint.safetensors"):
        folder = SNN if target == "weights.safetensors" else MODEL
        if target == "checkpoint.safetensors":
            arch = "mlp1"
            files[w(MODEL)] = ("copy", fx.path("model-mlp1"))
        data = fx.bytes(("snn-" if folder == SNN else "model-") + arch, target)
        new, desc, tensor, must = safetensors_mutation(data, rng, nan_ok=target == "checkpoint.safetensors",
                                                       strict_shapes=target != "weights.safetensors")
        files[w(folder, target)] = new
        names = [folder, target] + ([tensor] if tensor else [])
        tag = "%s: %s" % (target, safetensors_tag(desc))
        desc = "%s/%s: %s" % (arch, target, desc)
        if target == "checkpoint.safetensors":
            files[w("mlp.yaml")] = fx.train_configs["mlp"].replace("folder: data", "folder: " + DATA)
            steps = [Step(["neuromorph", "train", "mlp.yaml", "--out", MODEL, "--epochs", "2", "--resume"], out=(MODEL, "train"),
                          names=names, must_refuse=must and "corrupt checkpoint: %s" % must)]
            replaceable, bare = [MODEL], [MODEL]
        else:
            steps = model_commands(target, rng, names, must)
    else:
        folder = rng.choice([MODEL, SNN])
        src = ("model-" if folder == MODEL else "snn-") + arch
        fname = rng.choice(["model.json", "model.safetensors"] if folder == MODEL else ["network.json", "weights.safetensors"])
        how = rng.choice(["missing", "directory", "symlink-loop", "dangling", "empty-folder", "folder-is-file", "missing-both"])
        del files[w(folder)]
        if how in ("empty-folder", "folder-is-file", "missing-both"):
            files[w(folder)] = ("dir",) if how != "folder-is-file" else b"not a folder\n"
            if how == "missing-both":
                files[w(folder, "notes.txt")] = "unrelated\n"
        else:
            for f in sorted(os.listdir(fx.path(src))):
                if f != fname:
                    files[w(folder, f)] = ("copy", fx.path(src, f))
            files[w(folder, fname)] = {"missing": None, "directory": ("dir",), "symlink-loop": ("symlink", fname),
                                       "dangling": ("symlink", "nowhere.json")}[how]
            if how == "missing":
                del files[w(folder, fname)]
        desc = {"missing": "%s missing" % fname, "directory": "%s is a folder" % fname, "symlink-loop": "%s is a symlink to itself" % fname,
                "dangling": "%s is a dangling symlink" % fname, "empty-folder": "the folder is empty", "folder-is-file": "the folder is a file",
                "missing-both": "the folder holds no model files"}[how]
        names = [folder, fname]
        must = desc
        steps = model_commands("model.json" if folder == MODEL else "network.json", rng, names, must)
        desc = "%s/%s: %s" % (arch, folder, desc)
        tag = "files " + how
    case = Case(cid, "model", tag, desc, files, steps, replaceable=replaceable, bare=bare)
    return case


# ---- saved networks -------------------------------------------------------------------------------------

def input_must_refuse(lay, name, i, new, fin):
    """Why a Poisson input (format 4) with field `name`[i] set to `new` must be refused (nm_check_poisson_input),
    or None."""
    k, f = int(name[5:name.index(".")]), name[name.index(".") + 1:]
    def val(fld):
        off, fmt, _ = lay.fields["input%d.%s" % (k, fld)]
        return struct.unpack_from(fmt, lay.data, off)[0]
    v = {fld: val(fld) for fld in ("pop", "port", "sources", "binomial", "flags", "zero", "p", "weight")}
    if f in v:
        v[f] = new
    if v["flags"] & ~1:
        return "unknown input flags %#x" % v["flags"]
    if v["zero"] != 0:
        return "reserved input word %d" % v["zero"]
    if not 0 <= v["pop"] < len(lay.pops):
        return "input target population %d out of range" % v["pop"]
    target = lay.pops[v["pop"]]
    if not 0 <= v["port"] < formats.MODEL_PORTS.get(target["model"], 0):
        return "input port %d of a %s population" % (v["port"], target["model"])
    if f == "pop" and v["flags"] & 1 and target["n"] != lay.pops[val("pop")]["n"]:
        return "input mask of another size than its new target"
    if v["sources"] < 1:
        return "%d sources" % v["sources"]
    if v["binomial"] not in (0, 1):
        return "binomial = %d" % v["binomial"]
    if not fin(v["p"]) or v["p"] < 0 or v["binomial"] and v["p"] > 1 or v["sources"] * v["p"] > formats.PINPUT_MAX_MEAN:
        return "input p = %r (sources %d, binomial %d)" % (v["p"], v["sources"], v["binomial"])
    if not fin(v["weight"]):
        return "non-finite input weight"
    if f == "mask" and new > 1:
        return "input mask entry %d" % new
    return None


def field_must_refuse(lay, name, i, old, new):
    """Why a re-signed saved network with field `name`[i] changed from old to new must be refused (the
    checksum no longer helps: the loader's validation must), or None when the edit may be valid."""
    kind = re.sub(r"^(pop|proj|mon|input)\d+\.", "", name)
    fin = lambda x: isinstance(x, float) and x == x and abs(x) != float("inf")
    if isinstance(new, float) and not fin(new) and kind in ("dt", "params", "iext", "w0", "w", "rates", "scale") or \
            kind.startswith("var") and kind[3:].isdigit() and not fin(new):
        return "non-finite %s" % kind
    if kind.startswith("param.") and isinstance(new, float) and new != new:
        # format 3's parameters by name: NaN never; +-inf only where a model allows it (a threshold of +inf)
        return "NaN %s" % kind
    def layout_breaks():
        """Whether the edit moves what follows (the file no longer parses as saved). A count whose array
        keeps its padded size (items are padded to 8 bytes: 3 -> 4 int32 indices) still parses, the new
        item read from zero padding: a different but well-formed network, for the loader to judge."""
        edited = bytearray(lay.data)
        off, fmt, _ = lay.fields[name]
        struct.pack_into(fmt, edited, off + struct.calcsize(fmt) * i, new)
        try:
            formats.NetLayout(formats.resign(edited) if getattr(lay, "signed", False) else bytes(edited))
            return False
        except Exception:   # ValueError, struct.error, ...: any failure to parse
            return True
    if name.startswith("input"):
        why = input_must_refuse(lay, name, i, new, fin)
        if why or not name.endswith((".flags", ".len")):
            return why
        if name.endswith(".flags"):   # a mask added or dropped moves what follows
            return "input flags changed: the file no longer parses as saved" if layout_breaks() else None
    if kind in ("rowptr", "src_ptr"):
        # an index array [n + 1]: its last entry sizes the array that follows and its first must be 0; an
        # inner entry that stays between its neighbours only moves synapses (spike times) from one row to
        # the next: a different but valid network, which the loader cannot tell from the saved one once
        # the checksum is recomputed
        off, fmt, count = lay.fields[name]
        vals = struct.unpack_from("<%dq" % count, lay.data, off)
        if i == count - 1:
            return "%s changed: the file no longer parses as saved" % kind if layout_breaks() else None
        if i == 0:
            return "%s[0] = %d: row pointers start at 0" % (kind, new) if new != 0 else None
        if not vals[i - 1] <= new <= vals[i + 1]:
            return "%s[%d] = %d outside [%d, %d]: not monotone" % (kind, i, new, vals[i - 1], vals[i + 1])
        return None
    if kind in ("npops", "nprojs", "nmons", "ninputs", "n", "nvars", "nidx", "kind", "nparams", "nblocks") or kind.startswith("varname") \
            or kind.endswith(".len") or kind.endswith(".count"):
        return "%s changed: the file no longer parses as saved" % kind if layout_breaks() else None
    if name == "end":
        return "end marker changed"
    if kind == "dt" and not (isinstance(new, float) and 1e-9 < new < 1e9):
        return "dt = %r" % new
    if kind in ("pre", "post"):
        j = int(name[4:name.index(".")])
        pops, proj = lay.pops, lay.projs[j]
        if not 0 <= new < len(pops):
            return "projection %s population %d out of range" % (kind, new)
        if kind == "pre" and pops[new]["n"] != pops[old]["n"]:
            return "projection source of another size (row pointers no longer fit)"
        if kind == "post" and proj["kind"] == formats.KIND_SPARSE:
            off, _, nnz = lay.fields["proj%d.col" % j]
            cols = struct.unpack_from("<%di" % nnz, lay.data, off) if nnz else ()
            if cols and max(cols) >= pops[new]["n"]:
                return "targets beyond the new target population (%d neurons)" % pops[new]["n"]
        elif kind == "post" and pops[new]["n"] != pops[old]["n"]:
            return "projection target of another size"
    if kind == "col":
        j = lay.projs[int(name[4:name.index(".")])]
        if not 0 <= new < j["npost"]:
            return "target index %d outside [0, %d)" % (new, j["npost"])
    if kind == "delay" and (new < 0 or new > 1 << 24):
        return "delay of %d steps" % new
    if kind == "rates" and fin(new) and new < 0:
        return "negative rate"
    if kind == "src_steps" and new < 0:
        return "negative spike step"
    if kind in ("pop", "var", "every", "idx") and name.startswith("mon"):
        m = int(name[3:name.index(".")])
        pop = struct.unpack_from("<i", lay.data, lay.fields["mon%d.pop" % m][0])[0]
        if kind == "pop" and not 0 <= new < len(lay.pops):
            return "monitor of population %d" % new
        if kind == "every" and new <= 0:
            return "monitor every %d steps" % new
        if kind == "var" and not 0 <= new < lay.pops[pop]["nvars"]:
            return "monitor of variable %d" % new
        if kind == "idx" and not 0 <= new < lay.pops[pop]["n"]:
            return "monitor of neuron %d" % new
    return None


def saved_case(fx, rng, cid):
    base = rng.choice(["cuba", "coba", "zoo-save", "zoo-save"])
    data = fx.bytes(base + ".nmnet")
    lay = fx.layouts.get(base)
    if lay is not None:
        lay.data = data
    op = weighted(rng, [("flip", 20), ("truncate", 10), ("append", 3), ("field", 45 if lay else 0), ("rowptr", 8 if lay else 0),
                        ("unsorted", 6 if lay else 0), ("garbage", 3), ("empty", 1)])
    b = bytearray(data)
    threads = rng.choice(["1", "2"])
    extra = []
    resigned = False
    if op == "flip":
        n = rng.choice([1, 1, 2, 4, 16])
        nb, where = mu.flip_bytes(data, rng, n)
        b = bytearray(nb)
        desc = "%d bit flip(s) at byte %s" % (n, where[:4])
        tag = "bit flips"
        must = "flipped bits must fail the payload checksum"
    elif op == "truncate":
        cut = rng.randrange(0, len(data))
        b = b[:cut]
        desc = "truncated at byte %d of %d" % (cut, len(data))
        tag = "truncate"
        must = "truncated file"
    elif op == "append":
        b += mu.garbage(rng, rng.choice([1, 8, 1000]))
        desc = "random bytes appended"
        tag = "bytes appended"
        must = "trailing bytes after the end marker"
    elif op == "garbage":
        b = bytearray(data[:8] + mu.garbage(rng, rng.choice([20, 2000])))
        desc = "magic followed by random bytes"
        tag = "garbage"
        must = "random bytes after the magic"
    elif op == "empty":
        b = bytearray()
        desc = "empty file"
        tag = "empty"
        must = "empty file"
    else:
        fields = lay.fields
        # with the checksum recomputed the edit reaches the loader's validation; without, the checksum must catch it
        resigned = getattr(lay, "signed", False) and rng.random() < 0.7
        if op == "field":
            name = rng.choice(sorted(k for k in fields if k != "end"))
        elif op == "rowptr":
            name = rng.choice(sorted(k for k in fields if k.endswith(".rowptr")) or ["dt"])
        else:
            name = rng.choice(sorted(k for k in fields if k.endswith(".col")) or ["dt"])
        off, fmt, count = fields[name]
        if count == 0:
            name, (off, fmt, count) = "dt", fields["dt"]
        size = struct.calcsize(fmt)
        i = rng.randrange(count)
        old = struct.unpack_from(fmt, data, off + size * i)[0]
        must = None
        if op == "unsorted" and name.endswith(".col"):
            j = lay.projs[int(name[4:name.index(".")])]
            rp_off = fields[name.replace(".col", ".rowptr")][0]
            rows = [struct.unpack_from("<q", data, rp_off + 8 * r)[0] for r in range(j["npre"] + 1)]
            # rows whose first two targets differ (with multapses a row may start [5, 5]: swapping those is no edit)
            long_rows = [r for r in range(j["npre"]) if rows[r + 1] - rows[r] >= 2
                         and struct.unpack_from("<2i", data, off + 4 * rows[r]) != struct.unpack_from("<2i", data, off + 4 * rows[r])[::-1]]
            if long_rows:
                r = rng.choice(long_rows)
                a, c = rows[r], rows[r] + 1
                va, vc = struct.unpack_from("<i", data, off + 4 * a)[0], struct.unpack_from("<i", data, off + 4 * c)[0]
                struct.pack_into("<i", b, off + 4 * a, vc)
                struct.pack_into("<i", b, off + 4 * c, va)
                desc = "%s: targets of row %d swapped (unsorted row)" % (name, r)
                must = "unsorted targets in a CSR row (non-deterministic with --threads 2)"
                extra = [Step(["neuromorph-run", NET, "--duration", "0.02", "--threads", "2", "--out", OUT + "2"], out=(OUT + "2", "run"),
                              names=[NET], must_refuse=must, same_as=("spikes", OUT), only_if_ok=True)]
                threads = "1"
            else:
                desc = "%s: no row with two different targets; unchanged" % name
            tag = "unsorted row"
        else:
            if fmt in ("<d", "<f"):
                new = rng.choice([float("nan"), float("inf"), -1.0, 0.0, 1e300 if fmt == "<d" else 3e38, -1e30, 1e-300 if fmt == "<d" else 1e-40])
            elif fmt == "<q":
                new = rng.choice([-1, old + 1, old - 1, 2 ** 62, -(2 ** 63), old + 1000, 0])
            elif fmt == "<Q":
                new = rng.choice([0, 2 ** 64 - 1, old + 1])
            elif fmt == "<H":
                new = rng.choice([0, 65535, old + 1])
            elif fmt == "<B":
                new = rng.choice([2, 255, old ^ 1])
            else:
                new = rng.choice([-1, 0, old + 1, old - 1, 2 ** 31 - 1, -(2 ** 31), 1 << 30, old * 1000 % (2 ** 31)])
            if op == "rowptr":
                new = rng.choice([old + 5, old - 1, 2 ** 62, -1, 0 if i else 1])
            if new == old or (isinstance(new, float) and isinstance(old, float) and new != new and old != old):
                new = old + 1 if fmt not in ("<d", "<f") else (old * 2 + 1.0)
            if fmt == "<H":
                new &= 0xFFFF
            elif fmt == "<B":
                new &= 0xFF
            elif fmt == "<Q":
                new &= (1 << 64) - 1
            struct.pack_into(fmt, b, off + size * i, new)
            desc = "%s[%d] = %r (was %r)" % (name, i, new, old)
            tag = "field " + re.sub(r"(pop|proj|mon)\d+", r"\1", re.sub(r"(var|varname)\d+", r"\1", name))
            if resigned:
                must = field_must_refuse(lay, name, i, old, new)
        if not resigned and desc.find("unchanged") < 0:
            must = must or "an edited field must fail the payload checksum"
        if resigned:
            b = bytearray(formats.resign(b))
            desc += ", checksum recomputed"
            tag += " (re-signed)"
    files = {w(NET): bytes(b)}
    steps = [Step(["neuromorph-run", NET, "--duration", "0.02", "--threads", threads, "--out", OUT], out=(OUT, "run"), names=[NET],
                  must_refuse=must)] + extra
    return Case(cid, "saved", tag, "%s.nmnet: %s" % (base, desc), files, steps)


# ---- IDX data ----------------------------------------------------------------------------------------

IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx_commands(fname, rng, names, must, must_labels):
    """A command that reads the mutated file: the training split is read by train (and as calibration
    images by convert/compare), the test split by train, eval, compare and simulate SNN_DIR."""
    train_split = fname.startswith("train")
    tr = Step(["neuromorph", "train", "mlp.yaml", "--out", OUT, "--epochs", "1"], out=(OUT, "train"), names=names,
              must_refuse=must or must_labels)
    ev = Step(["neuromorph", "eval", MODEL, "--data", DATA, "--limit", "20", "--json", "ev.json"], out=("ev.json", "json"), names=names,
              must_refuse=must or must_labels)
    cv = Step(["neuromorph", "convert", MODEL, "--data", DATA, "--calibration", "20", "--out", OUT], out=(OUT, "convert"), names=names,
              must_refuse=must)
    cm = Step(["neuromorph", "compare", MODEL, "--data", DATA, "--calibration", "20", "--limit", "5", "--timesteps", "4,8", "--out", OUT],
              out=(OUT, "compare"), names=names, must_refuse=must if train_split else (must or must_labels))
    sim = Step(["neuromorph", "simulate", SNN, "--data", DATA, "--image", "2", "--timesteps", "8", "--out", OUT], out=(OUT, "sim"),
               names=names, must_refuse=must or must_labels)
    if train_split:
        return [rng.choice([tr, tr, cv, cm])]
    return [rng.choice([tr, ev, ev, cm, sim])]


def idx_case(fx, rng, cid):
    fname = rng.choice(IDX_FILES)
    arch = rng.choice(["mlp", "cnn"])
    orig = {f: fx.bytes("data", f) for f in IDX_FILES}
    is_labels = "labels" in fname
    typ, dims, payload = formats.parse_idx(orig[fname])
    op = weighted(rng, [("dim", 25), ("reshape", 8), ("count", 8), ("magic", 10), ("truncate", 12), ("labels", 12 if is_labels else 0),
                        ("trailing", 4), ("gzip", 10), ("missing", 5), ("empty", 3), ("isdir", 2), ("ambiguous", 3), ("gzbomb", 1)])
    files = {}
    must, must_labels, tag = None, None, op
    new = orig[fname]
    out_name = fname
    if op == "dim":
        k = rng.randrange(len(dims))
        v = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, dims[k] + 1, dims[k] - 1, 27, 32, 65536])
        nd = list(dims)
        nd[k] = v
        new = formats.idx_bytes(nd, payload, typ)
        desc = "dimension %d: %d -> %d (payload unchanged)" % (k, dims[k], v)
        size = 1
        for x in nd:
            size *= x
        if size != len(payload):
            must = "dimensions do not match the payload"
        tag = "dim %d -> %s" % (k, v if v in (0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 27, 32, 65536) else "n%+d" % (v - dims[k]))
    elif op == "reshape" and not is_labels:
        side = rng.choice([14, 32, 1])
        n = dims[0]
        img = bytes((payload[(i % len(payload))]) for i in range(n * side * side))
        new = formats.idx_bytes([n, side, side], img, typ)
        desc = "images reshaped to %dx%d (valid IDX)" % (side, side)
        must = "images are %dx%d, the model expects 28x28" % (side, side)
        tag = "reshape %dx%d" % (side, side)
    elif op in ("count", "reshape"):
        n = dims[0] + rng.choice([-1, 1, -dims[0] + 1])
        if is_labels:
            new = formats.idx_bytes([n], (payload * 2)[:n], typ)
        else:
            new = formats.idx_bytes([n] + dims[1:], (payload * 2)[:n * 784], typ)
        desc = "%d samples instead of %d (images and labels disagree)" % (n, dims[0])
        must = "images and labels counts differ"
        tag = "count mismatch"
    elif op == "magic":
        t2, r2 = rng.choice([(0x09, len(dims)), (0x0D, len(dims)), (0xFF, len(dims)), (typ, 0), (typ, len(dims) + 1), (typ, 255), (typ, 2 if len(dims) != 2 else 4)])
        new = bytes([0, 0, t2, r2]) + orig[fname][4:]
        desc = "magic 0x%02X%02X -> 0x%02X%02X" % (typ, len(dims), t2, r2)
        must = "wrong IDX magic"
        tag = "magic"
    elif op == "truncate":
        cut = rng.randrange(0, len(new) - 1)
        new = new[:cut]
        desc = "truncated at byte %d of %d" % (cut, len(orig[fname]))
        must = "truncated file"
    elif op == "labels":
        b = bytearray(new)
        hdr = 4 + 4 * len(dims)
        for i in [2] + [rng.randrange(2) for _ in range(rng.choice([0, 2]))]:   # sample 2 is the image `simulate` shows
            b[hdr + i] = rng.choice([10, 11, 127, 255])
        new = bytes(b)
        desc = "label bytes >= 10 in the first 3 samples"
        must_labels = "labels must be < classes (10)"
    elif op == "trailing":
        new = new + mu.garbage(rng, rng.choice([1, 784]))
        desc = "trailing bytes after the payload"
    elif op == "gzip":
        how = rng.choice(["valid", "corrupt", "truncated", "not-gzip", "both"])
        gz = gzip.compress(new, mtime=0)
        out_name = fname + ".gz"
        if how == "valid":
            new, desc = gz, "gzip-compressed (valid)"
        elif how == "corrupt":
            b = bytearray(gz)
            i = 10 + rng.randrange(len(gz) - 18)
            b[i] ^= 0xFF
            new, desc, must = bytes(b), "gzip stream with a flipped byte", "corrupt gzip stream"
        elif how == "truncated":
            new, desc, must = gz[:len(gz) // 2], "gzip stream cut in half", "truncated gzip stream"
        elif how == "not-gzip":
            new, desc, must = orig[fname], "raw IDX named .gz", None
        else:
            files[w(DATA, fname + ".gz")] = formats.idx_bytes([1] + dims[1:], payload[:max(1, len(payload) // dims[0])], typ)
            new, out_name, desc = orig[fname], fname, "raw and a different .gz both present"
        tag = "gzip " + how
    elif op == "missing":
        new = None
        desc = "file missing"
        must = "missing file"
    elif op == "empty":
        new = b""
        desc = "empty file"
        must = "empty file"
    elif op == "isdir":
        new = ("dir",)
        desc = "a folder in place of the file"
        must = "not a file"
    elif op == "ambiguous":
        files[w(DATA, "emnist-" + fname)] = orig[fname]
        desc = "a second family (emnist-%s) in the folder" % fname
        must = "several files match"
    else:
        n = 255102
        raw = formats.idx_bytes([n] + dims[1:], bytes(n * 784), typ) if not is_labels else formats.idx_bytes([n * 784], bytes(n * 784), typ)
        new = gzip.compress(raw, compresslevel=1, mtime=0)
        out_name = fname + ".gz"
        desc = "gzip of %d MB of zeros (%d samples)" % (len(raw) >> 20, n if not is_labels else n * 784)
        must = "images and labels counts differ"
    for f in IDX_FILES:
        if f != fname:
            files[w(DATA, f)] = orig[f]
    if new is not None:
        files[w(DATA, out_name)] = new
    files[w(MODEL)] = ("copy", fx.path("model-" + arch))
    files[w(SNN)] = ("copy", fx.path("snn-" + arch))
    files[w("mlp.yaml")] = fx.train_configs["mlp"].replace("folder: data", "folder: " + DATA)
    names = [DATA, fname]
    steps = idx_commands(fname, rng, names, must, must_labels)
    return Case(cid, "idx", tag, "%s: %s" % (fname, desc), files, steps)


# ---- command-line flags and output paths ------------------------------------------------------------------

def base_inputs(fx):
    return {w(CFG): fx.configs["zoo"], w(MODEL): ("copy", fx.path("model-cnn")), w(SNN): ("copy", fx.path("snn-cnn")),
            w(DATA): ("copy", fx.path("data")), w(NET): fx.bytes("zoo-save.nmnet"),
            w("mlp.yaml"): fx.train_configs["mlp"].replace("folder: data", "folder: " + DATA)}


COMMANDS = {
    # name: (argv before the output flag, output kind, output flag, inputs named by a refusal)
    "simulate": (["neuromorph", "simulate", CFG], "sim", "--out", [CFG]),
    "simulate-snn": (["neuromorph", "simulate", SNN, "--data", DATA, "--image", "1", "--timesteps", "8"], "sim", "--out", [SNN]),
    "train": (["neuromorph", "train", "mlp.yaml", "--epochs", "1"], "train", "--out", ["mlp.yaml"]),
    "convert": (["neuromorph", "convert", MODEL, "--data", DATA, "--calibration", "20"], "convert", "--out", [MODEL]),
    "compare": (["neuromorph", "compare", MODEL, SNN, "--data", DATA, "--limit", "5", "--timesteps", "4,8"], "compare", "--out", [MODEL, SNN]),
    "eval": (["neuromorph", "eval", MODEL, "--data", DATA, "--limit", "20"], "json", "--json", [MODEL]),
    "run": (["neuromorph-run", NET, "--duration", "0.02", "--threads", "1"], "run", "--out", [NET]),
    "save": (["neuromorph", "simulate", "zoo-save.yaml"], "netfile", "--save-network", ["zoo-save.yaml"]),
}
FOLDER_KINDS = {"sim", "train", "convert", "compare", "run"}


def output_path_cases():
    """(command, how) pairs of the output-path checks, the highest-stake cases first."""
    hows = ["dot", "empty", "dotdot", "input-file", "input-folder", "contains-input", "existing-file", "sentinel-folder",
            "same-kind", "other-kind", "cwd-via-parent", "trailing-slash", "long-name", "nested-new", "newline"]
    return [(c, h) for h in hows for c in COMMANDS]


FLAG_VALUES = ["-1", "0", "2147483648", "9223372036854775807", "9223372036854775808", "1e300", "nan", "inf", "-inf", "abc", "",
               " ", "1.5", "0x10", "-0", "1e-300", "+5", "\u0663", "100000"]
FLAGS = {
    "simulate": [("--duration", "duration"), ("--seed", "seed"), ("--threads", "threads")],
    "simulate-snn": [("--image", "index"), ("--timesteps", "steps"), ("--seed", "seed"), ("--threads", "threads"), ("--duration", "duration")],
    "train": [("--epochs", "epochs"), ("--seed", "seed"), ("--batch-size", "count"), ("--threads", "threads"),
              ("--limit-train", "count"), ("--limit-test", "count")],
    "eval": [("--limit", "count"), ("--batch-size", "count"), ("--threads", "threads"), ("--split", "word")],
    "convert": [("--calibration", "count"), ("--percentile", "real"), ("--initial-potential", "real"), ("--threads", "threads"),
                ("--percentile-of", "word"), ("--normalization", "word"), ("--reset", "word"), ("--encoding", "word"),
                ("--decoding", "word"), ("--maxpool", "word")],
    "compare": [("--timesteps", "list"), ("--limit", "count"), ("--threads", "threads"), ("--seed", "seed"), ("--mac-pj", "real"),
                ("--add-pj", "real"), ("--calibration", "count"), ("--percentile", "real")],
    "run": [("--duration", "duration"), ("--threads", "threads")],
}


def flag_must_refuse(kind, value):
    v = value.strip()
    n = number_of(v) if v else None
    if kind == "word":
        return "invalid value %r" % value
    if v == "" or n is None or n != n or v in ("inf", "-inf"):
        return "not a number: %r" % value
    if kind in ("count", "epochs", "threads", "steps", "index", "seed") and (n < 0 or n != int(n)):
        return "negative or fractional %r" % value
    if kind in ("count", "epochs", "threads", "steps") and n == 0:
        return "zero"
    if kind == "threads" and n > 1024:
        return "--threads beyond any machine"
    if kind == "duration" and n <= 0:
        return "non-positive duration"
    if kind == "duration" and n > 1e15:
        return "a duration whose step count overflows"
    if kind == "steps" and n >= 2 ** 31:
        return "a step count beyond 32 bits"
    if kind == "list" and (n <= 0 or n != int(n) or n >= 2 ** 31):
        return "invalid time steps"
    if kind == "index" and n >= 50:
        return "image index beyond the 50 test images"
    return None


def flag_cases():
    out = []
    for cmd, flags in FLAGS.items():
        for flag, kind in flags:
            for v in FLAG_VALUES:
                n = number_of(v.strip()) if v.strip() else None
                if n is not None and n == n and abs(n) != float("inf"):
                    # valid but absurdly long runs are what the user asked for: leave them out
                    if kind == "duration" and 30 < n <= 1e15:
                        continue
                    if kind in ("epochs", "steps", "list") and 1000 < n < 2 ** 31:
                        continue
                    if kind == "epochs" and n > 1000:
                        continue
                out.append((cmd, flag, kind, v))
    for cmd in COMMANDS:
        out.append((cmd, "--no-such-flag", "unknown", "1"))
        out.append((cmd, "--seed", "repeat", "1"))
        out.append((cmd, "", "missing-value", ""))
    return out


def cli_case(fx, rng, cid, k, order):
    files = base_inputs(fx)
    files[w("zoo-save.yaml")] = fx.configs["zoo-save"]
    if k % 2 == 0:
        cmd, how = order["paths"][(k // 2) % len(order["paths"])]
        argv, kind, flag, inputs = COMMANDS[cmd]
        argv = list(argv)
        must, dest, replaceable, bare = None, None, [], []
        names = [flag]
        if how == "dot":
            dest, must = ".", "the working folder as output"
        elif how == "empty":
            dest, must = "", "an empty output path"
        elif how == "dotdot":
            dest, must = "..", "the parent of the working folder as output"
        elif how == "cwd-via-parent":
            dest, must = "../work", "the working folder (as ../work) as output"
        elif how == "input-file":
            dest = inputs[0] if not inputs[0] in (MODEL, SNN) else MODEL + "/model.json"
            must = "an input of the command as output"
            names.append(dest)
        elif how == "input-folder":
            dest = MODEL if cmd in ("convert", "compare", "eval") else (SNN if cmd == "simulate-snn" else DATA)
            must = "an input folder as output" if dest != DATA or cmd == "train" else "an existing data folder as output"
            names.append(dest)
        elif how == "contains-input":
            sub = "in"
            if cmd in ("simulate", "train", "save", "run"):
                src = inputs[0]
                files[w(sub, src)] = files[w(src)] if src in (CFG, NET, "mlp.yaml") else fx.configs["zoo-save"]
                argv = [a if a != src else "%s/%s" % (sub, src) for a in argv]
            else:
                files[w(sub, MODEL)] = files[w(MODEL)]
                files[w(sub, SNN)] = files[w(SNN)]
                argv = [("%s/%s" % (sub, a)) if a in (MODEL, SNN) else a for a in argv]
            dest, must = sub, "a folder containing an input as output"
            names.append("in/")
        elif how == "existing-file":
            files[w("notes.txt")] = "a user's file\n"
            dest, must = "notes.txt", "an existing file as output"
            names.append("notes.txt")
            if kind in ("json", "netfile"):
                must = None   # a file output may replace a file (like cp); the sentinel check still guards inputs
                replaceable = ["notes.txt"]
        elif how == "sentinel-folder":
            files[w("results", "keep.txt")] = "a user's result\n"
            dest, must = "results", "an existing folder that neuromorph did not write"
            names.append("results")
        elif how == "same-kind":
            src = {"sim": "sim-zoo", "train": "model-mlp", "convert": "snn-cnn", "compare": "ref-compare", "run": "run-zoo-save",
                   "json": None, "netfile": "zoo-save.nmnet"}[kind]
            dest = "previous"
            if src:
                files[w(dest)] = ("copy", fx.path(src))
            else:
                files[w(dest)] = json.dumps({"accuracy": 0.5})
            bare = [dest]
            if kind in FOLDER_KINDS:
                must = "replaces an existing output folder without --force"
            else:
                replaceable = [dest]
            names.append(dest)
        elif how == "other-kind":
            dest = "previous"
            files[w(dest)] = ("copy", fx.path("snn-cnn" if kind != "convert" else "sim-zoo"))
            bare = [dest]
            must = "replaces an output folder of another kind"
            names.append(dest)
        elif how == "trailing-slash":
            dest = OUT + "/"
        elif how == "long-name":
            dest = "x" * 300
            names.append("x" * 40)
        elif how == "nested-new":
            dest = "new/deeper/" + OUT
        else:
            dest = "out\nput"
        argv += [flag, dest]
        names.append(os.path.join("{cwd}", dest))
        if dest in (".", ".."):
            names.append("=" + dest)
        elif len(dest.strip("/")) >= 3 and dest not in names:
            names.append(dest[:40])
        step = Step(argv, out=(dest, kind), names=names, must_refuse=must)
        return Case(cid, "cli", "output path: %s" % how, "%s %s %r" % (cmd, flag, dest), files, [step],
                    replaceable=replaceable, bare=bare)
    cmd, flag, fkind, value = order["flags"][(k // 2) % len(order["flags"])]
    argv, kind, oflag, inputs = COMMANDS[cmd]
    argv = list(argv)
    names = [flag] if flag else []
    if fkind == "unknown":
        argv += [flag, value]
        must = "unknown flag"
    elif fkind == "repeat":
        argv += ["--seed", "1", "--seed", "2"] if cmd != "run" else ["--threads", "1", "--threads", "2"]
        must = None
        names = ["--seed", "--threads"]
    elif fkind == "missing-value":
        argv += [oflag]
        must = "missing value"
        names = [oflag]
        return Case(cid, "cli", "missing value %s" % cmd, "%s %s (no value)" % (cmd, oflag), files,
                    [Step(argv, names=names, must_refuse=must)])
    else:
        argv += [flag, value]
        must = flag_must_refuse(fkind, value)
    argv += [oflag, OUT]
    step = Step(argv, out=(OUT, kind), names=names, must_refuse=must)
    tag = "%s %s %s" % (cmd, flag, "bad value" if must else "value")
    return Case(cid, "cli", tag, "%s %s %r" % (cmd, flag, value), files, [step])


# ---- kills -----------------------------------------------------------------------------------------------

def kill_case(fx, rng, cid):
    what = weighted(rng, [("simulate", 25), ("train", 25), ("convert", 12), ("compare", 12), ("run", 14), ("save", 6), ("concurrent", 12)])
    sig = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
    files = {w("kill.yaml"): fx.configs["kill"], w(MODEL): ("copy", fx.path("model-cnnbn")), w("mlp3.yaml"):
             fx.train_configs["mlp3"].replace("folder: data", "folder: " + DATA), w(DATA): ("copy", fx.path("data")),
             w(NET): fx.bytes("kill.nmnet"), w("cnn"): ("copy", fx.path("model-cnn"))}
    if what == "concurrent":
        which = rng.choice(["simulate", "train", "convert", "run"])
        argv, out, dt = fx.refs[which]
        argv, kind = retarget(argv, out, OUT)
        steps = [Step(argv, out=(OUT, kind), names=["--out", OUT], group=1), Step(argv, out=(OUT, kind), names=["--out", OUT], group=1)]
        return Case(cid, "kill", "concurrent %s" % which, "two `%s` into one folder at once" % which, files, steps)
    argv, out, dt = fx.refs[what]
    argv, kind = retarget(argv, out, OUT if what != "save" else NET + "2")
    dest = OUT if what != "save" else NET + "2"
    delay = rng.uniform(0.02, 1.3) * dt
    first = Step(argv, out=(dest, kind), names=["--out", dest], kill=(sig, delay))
    again = list(argv) + (["--resume"] if what == "train" else [])
    ref = fx.path(out[0])
    same = ("spikes", ref) if what in ("simulate", "run") else (("weights", ref) if what == "train" else None)
    second = Step(again, out=(dest, kind), names=["--out", dest, "exists"], same_as=same)
    signame = signal.Signals(sig).name
    return Case(cid, "kill", "%s %s" % (what, signame), "%s killed by %s after %.2f s of ~%.2f s, then run again%s" % (
        what, signame, delay, dt, " with --resume" if what == "train" else ""), files, [first, second])


def retarget(argv, out, dest):
    """The reference command writing to `dest` instead, with its inputs' names in the case folder."""
    path, kind = out
    ren = {path: dest, "model-cnnbn": MODEL, "model-cnn": "cnn", "data": DATA, "kill.nmnet": NET}
    return [ren.get(a, a) for a in argv], kind


FAMILIES = ["config", "model", "saved", "idx", "cli", "kill"]
BUDGETS = {"full": {"config": 400, "model": 330, "saved": 220, "idx": 130, "cli": 240, "kill": 180},
           "ci": {"config": 80, "model": 64, "saved": 40, "idx": 26, "cli": 50, "kill": 30}}


def generate(fx, seed, budget, only=None):
    """The cases of a budget (or only the listed ids), in a stable order."""
    order_rng = random.Random("%s/cli/order" % seed)
    paths = output_path_cases()
    order_rng.shuffle(paths)
    flags = flag_cases()
    order_rng.shuffle(flags)
    order = {"paths": paths, "flags": flags}
    counts = BUDGETS[budget] if isinstance(budget, str) else budget
    cases = []
    for fam in FAMILIES:
        n = counts.get(fam, 0)
        ks = range(n)
        if only is not None:
            ks = [int(c.split("-")[1]) for c in only if c.split("-")[0] == fam]
        for k in ks:
            cid = "%s-%04d" % (fam, k)
            rng = random.Random("%s/%s/%d" % (seed, fam, k))
            if fam == "config":
                cases.append(config_case(fx, rng, cid))
            elif fam == "model":
                cases.append(model_case(fx, rng, cid))
            elif fam == "saved":
                cases.append(saved_case(fx, rng, cid))
            elif fam == "idx":
                cases.append(idx_case(fx, rng, cid))
            elif fam == "cli":
                cases.append(cli_case(fx, rng, cid, k, order))
            else:
                cases.append(kill_case(fx, rng, cid))
    return cases
