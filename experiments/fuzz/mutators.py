"""Mutation operators: YAML text (key-aware, without a YAML parser), JSON documents, raw bytes.
Every operator takes a ``random.Random`` and returns (new content, description, info) where info
holds what an error message may name (the key) and whether the result must be refused."""

import json
import re

EXTREME_NUMBERS = ["0", "-1", "1e300", "-1e300", "nan", ".nan", "inf", ".inf", "-.inf", "1e-300", "-0",
                   "2147483648", "4294967296", "9223372036854775807", "9223372036854775808", "1e19",
                   "99999999", "2147483647", "0x7fffffff", "1e999"]
NONFINITE = {"nan", ".nan", "inf", ".inf", "-.inf", "1e999", "-1e300", "1e300"}
NAN_TEXT = {"nan", ".nan"}
WRONG_TYPES = ["[1, 2]", "{a: 1}", "true", "null", "~", "''", "'x'", "\"10 ms\"", "[]", "{}", "[[[[]]]]",
               "!!binary aGVsbG8=", "&anc 5", "*nowhere", "'\\u0000'", "- x", "|\n  block"]
UNITS = ["ms", "s", "us", "mV", "V", "nS", "pS", "pA", "nA", "pF", "Hz", "kHz", "furlong", "Gms", "ms ms", "m s", "μs"]
HUGE_SIZES = ["99999999", "2000000000", "0:2000000000", "[0, 2147483647]", "-5:3", "3:1", "4294967296:4294967297",
              "[4294967296]", "1e10", "50000"]
UNIT_RE = re.compile(r"^\s*([-+0-9.eE]+)\s*([A-Za-zμ]+)\s*$")


# ---- YAML text ----------------------------------------------------------------------------------

class KeySpan:
    """A `key: value` occurrence in YAML text: line index, key columns, value columns, flow depth,
    indentation and (block keys with children) the end line of the block."""

    def __init__(self, line, k0, k1, v0, v1, depth, indent, block_end):
        self.line, self.k0, self.k1, self.v0, self.v1 = line, k0, k1, v0, v1
        self.depth, self.indent, self.block_end = depth, indent, block_end


def _code_end(line):
    """Column where a comment starts (a # outside quotes preceded by whitespace), else len(line)."""
    q = None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return len(line)


def yaml_keys(text):
    """All key spans of a YAML text (flow and block mappings; one-line flow collections)."""
    lines = text.split("\n")
    spans = []
    for li, line in enumerate(lines):
        end = _code_end(line)
        code = line[:end]
        depth = [0] * (len(code) + 1)
        d = 0
        for i, c in enumerate(code):
            depth[i] = d
            if c in "{[":
                d += 1
            elif c in "}]":
                d -= 1
        depth[len(code)] = d
        for m in re.finditer(r"(?:(?<=[{,\s])|^|(?<=- ))([A-Za-z_][A-Za-z0-9_]*):(?=\s|$)", code):
            k0, k1 = m.start(1), m.end(1)
            dk = depth[k0]
            v0 = m.end()
            while v0 < len(code) and code[v0] == " ":
                v0 += 1
            if v0 < len(code) and code[v0] in "{[":
                lvl, v1 = 0, len(code)
                for i in range(v0, len(code)):
                    if code[i] in "{[":
                        lvl += 1
                    elif code[i] in "}]":
                        lvl -= 1
                        if lvl == 0:
                            v1 = i + 1
                            break
            elif dk > 0:
                v1 = v0
                while v1 < len(code) and not (code[v1] in ",}]" and depth[v1] == dk):
                    v1 += 1
            else:
                v1 = len(code.rstrip())
            block_end = None
            indent = len(line) - len(line.lstrip(" -"))
            if v0 >= len(code.rstrip()) and dk == 0:
                j = li + 1
                while j < len(lines) and (not lines[j].strip() or lines[j].lstrip().startswith("#")
                                          or len(lines[j]) - len(lines[j].lstrip()) > indent
                                          or (lines[j].lstrip().startswith("- ") and len(lines[j]) - len(lines[j].lstrip()) >= indent)):
                    j += 1
                block_end = j
                v1 = v0
            spans.append(KeySpan(li, k0, k1, v0, max(v0, v1), dk, indent, block_end))
    return lines, spans


def _join(lines):
    return "\n".join(lines)


def yaml_delete(text, span):
    lines = text.split("\n")
    if span.block_end is not None:
        del lines[span.line:span.block_end]
    elif span.depth > 0:
        line = lines[span.line]
        a, b = span.k0, span.v1
        rest = line[b:]
        if rest.startswith(","):
            b += 1
            while b < len(line) and line[b] == " ":
                b += 1
        else:
            j = a - 1
            while j >= 0 and line[j] == " ":
                j -= 1
            if j >= 0 and line[j] == ",":
                a = j
        lines[span.line] = line[:a] + line[b:]
    else:
        line = lines[span.line]
        if line.lstrip().startswith("- "):
            lines[span.line] = line[:span.k0] + line[span.v1:].lstrip()
        else:
            del lines[span.line]
    return _join(lines)


def yaml_duplicate(text, span):
    lines = text.split("\n")
    line = lines[span.line]
    if span.block_end is not None:
        block = lines[span.line:span.block_end]
        if block and block[0].lstrip().startswith("- "):
            first = block[0]
            block[0] = " " * (len(first) - len(first.lstrip(" -"))) + first.lstrip(" -")
        lines[span.block_end:span.block_end] = block
    elif span.depth > 0:
        lines[span.line] = line[:span.v1] + ", " + line[span.k0:span.v1] + line[span.v1:]
    else:
        lines.insert(span.line + 1, " " * span.indent + line[span.k0:])
    return _join(lines)


def yaml_rename(text, span, new):
    lines = text.split("\n")
    line = lines[span.line]
    lines[span.line] = line[:span.k0] + new + line[span.k1:]
    return _join(lines)


def yaml_set_value(text, span, value):
    lines = text.split("\n")
    line = lines[span.line]
    if span.block_end is not None:
        lines[span.line] = line[:span.k1] + ": " + value
        del lines[span.line + 1:span.block_end]
    else:
        lines[span.line] = line[:span.v0] + value + line[span.v1:]
    return _join(lines)


def yaml_value(text, span):
    return text.split("\n")[span.line][span.v0:span.v1]


def alias_bomb(levels, fanout):
    """A billion-laughs block: anchors b0..b{levels} each a list of `fanout` aliases of the previous."""
    rows = ["x_bomb:", "  - &b0 \"lol\""]
    for i in range(1, levels + 1):
        rows.append("  - &b%d [%s]" % (i, ", ".join(["*b%d" % (i - 1)] * fanout)))
    return "\n".join(rows)


# ---- JSON documents -----------------------------------------------------------------------------

def json_paths(doc, prefix=()):
    """Every path (tuple of keys/indices) to a value of a JSON document, containers included."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append(prefix + (k,))
            out.extend(json_paths(v, prefix + (k,)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append(prefix + (i,))
            out.extend(json_paths(v, prefix + (i,)))
    return out


def json_get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def json_set(doc, path, value):
    parent = json_get(doc, path[:-1])
    parent[path[-1]] = value


def json_delete(doc, path):
    parent = json_get(doc, path[:-1])
    del parent[path[-1]]


JSON_VALUES = [0, -1, 1, 2, 3, 1e300, -1e300, 1e-300, 2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, -(2 ** 63), 0.5, "nan",
               "", "x", None, True, [], {}, [0], [-1, -1], [2 ** 32, 2 ** 32, 2 ** 32], {"a": 1}, "NaN", "1"]


def json_text(doc, rng):
    """JSON text of a mutated document; float('nan')/inf are written as bare NaN / Infinity / 1e999."""
    t = json.dumps(doc, indent=1, allow_nan=True)
    return t.replace("Infinity", rng.choice(["Infinity", "1e999"])) if "Infinity" in t else t


def path_text(path):
    s = ""
    for p in path:
        s += "[%d]" % p if isinstance(p, int) else ("." if s else "") + str(p)
    return s


# ---- bytes --------------------------------------------------------------------------------------

def flip_bytes(data, rng, count):
    b = bytearray(data)
    where = []
    for _ in range(count):
        i = rng.randrange(len(b))
        bit = 1 << rng.randrange(8)
        b[i] ^= bit
        where.append(i)
    return bytes(b), where


def garbage(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))
