"""Readers and writers of the file formats the fuzz harness checks and mutates (standard library only):
NumPy .npy, safetensors, IDX and neuromorph's saved-network file (``simulate --save-network``)."""

import array
import json
import math
import struct
import sys

LITTLE = sys.byteorder == "little"


# ---- NumPy .npy ---------------------------------------------------------------------------------

def parse_npy(data):
    """Returns (descr, shape, values) of a format-1/2 .npy file, values as a list of floats for
    float dtypes (None otherwise). Raises ValueError when the file is not complete and well formed."""
    if len(data) < 10 or data[:6] != b"\x93NUMPY":
        raise ValueError("not a .npy file (bad magic)")
    major = data[6]
    if major == 1:
        hl, off = struct.unpack("<H", data[8:10])[0], 10
    elif major in (2, 3):
        hl, off = struct.unpack("<I", data[8:12])[0], 12
    else:
        raise ValueError("unknown .npy version %d" % major)
    header = data[off:off + hl].decode("latin-1")
    if len(header) != hl:
        raise ValueError("truncated .npy header")
    try:
        import ast
        h = ast.literal_eval(header.strip())
    except Exception as e:  # noqa: BLE001 - any parse problem means a broken file
        raise ValueError("unreadable .npy header: %s" % e)
    descr, shape = h.get("descr"), tuple(h.get("shape", ()))
    sizes = {"<f8": 8, "<f4": 4, "<i4": 4, "<i8": 8, "|u1": 1, "<u2": 2, "|b1": 1, "<i2": 2}
    if descr not in sizes:
        raise ValueError("unexpected dtype %r" % descr)
    count = 1
    for s in shape:
        if not isinstance(s, int) or s < 0:
            raise ValueError("bad shape %r" % (shape,))
        count *= s
    body = data[off + hl:]
    if len(body) != count * sizes[descr]:
        raise ValueError("payload has %d bytes, shape %r needs %d" % (len(body), shape, count * sizes[descr]))
    values = None
    if descr in ("<f8", "<f4"):
        a = array.array("d" if descr == "<f8" else "f")
        a.frombytes(body)
        if not LITTLE:
            a.byteswap()
        values = a
    return descr, shape, values


# ---- safetensors --------------------------------------------------------------------------------

DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def parse_safetensors(data):
    """Returns (header dict, data section bytes); raises ValueError for anything a reader must refuse."""
    if len(data) < 8:
        raise ValueError("shorter than the 8-byte header length")
    n = struct.unpack("<Q", data[:8])[0]
    if n > len(data) - 8:
        raise ValueError("header length %d beyond the file (%d bytes)" % (n, len(data)))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except Exception as e:  # noqa: BLE001
        raise ValueError("header is not JSON: %s" % e)
    body = data[8 + n:]
    for name, t in header.items():
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        count = 1
        for s in t["shape"]:
            count *= s
        if t["dtype"] not in DTYPE_SIZES or hi - lo != count * DTYPE_SIZES[t["dtype"]] or not 0 <= lo <= hi <= len(body):
            raise ValueError("tensor %s: inconsistent dtype/shape/offsets" % name)
    return header, body


def build_safetensors(header, body):
    """Serializes a header dict and a data section (the header padded with spaces to 8 bytes)."""
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body


def float_tensors(data):
    """(name, array of floats) of every F32/F64 tensor of a valid safetensors file."""
    header, body = parse_safetensors(data)
    for name, t in sorted(header.items()):
        if name == "__metadata__" or t["dtype"] not in ("F32", "F64"):
            continue
        lo, hi = t["data_offsets"]
        a = array.array("f" if t["dtype"] == "F32" else "d")
        a.frombytes(body[lo:hi])
        if not LITTLE:
            a.byteswap()
        yield name, a


def tensor_bytes(data):
    """{name: raw bytes} of every tensor (to compare weights ignoring metadata)."""
    header, body = parse_safetensors(data)
    return {k: (v["dtype"], tuple(v["shape"]), body[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}


def first_nonfinite(values):
    for i, v in enumerate(values):
        if not math.isfinite(v):
            return i, v
    return None


# ---- IDX ----------------------------------------------------------------------------------------

def idx_bytes(dims, payload, type_byte=0x08):
    """An IDX file: magic 0x0000TTDD, big-endian 32-bit dims, payload."""
    return struct.pack(">BBBB", 0, 0, type_byte, len(dims)) + b"".join(struct.pack(">I", d & 0xFFFFFFFF) for d in dims) + payload


def parse_idx(data):
    """(type byte, dims, payload) of a well-formed IDX file."""
    if len(data) < 4 or data[0] or data[1]:
        raise ValueError("bad IDX magic")
    rank = data[3]
    dims = list(struct.unpack(">%dI" % rank, data[4:4 + 4 * rank]))
    return data[2], dims, data[4 + 4 * rank:]


# ---- saved networks (nm_engine_save) ------------------------------------------------------------

NM_MAX_PARAMS = 32
F_IEXT, F_RATES, F_SRC, F_REC, F_MASK = 1, 2, 4, 8, 16        # formats 1 and 2
F3_MASK = 4                                                    # format 3: F_IEXT 1, F_REC 2, F_MASK 4, ...
# format 3 stores a population's model by name and not its state variable count: the engine's models
# (Sources/CEngine/models/*.c, .nvars) and the element type of their data blocks
MODEL_NVARS = {"if": 1, "lif_exp": 3, "lif_cond_exp": 3, "lif_alpha": 5, "lif_delta": 1, "izhikevich": 2, "adex": 4, "hh": 6,
               "poisson": 0, "spike_source": 0}
MODEL_PORTS = {"if": 1, "lif_exp": 2, "lif_cond_exp": 2, "lif_alpha": 2, "lif_delta": 1, "izhikevich": 1, "adex": 2, "hh": 2,
               "poisson": 0, "spike_source": 0}
PINPUT_MAX_MEAN = 1e7   # NM_PINPUT_MAX_MEAN of nm_snn.h: sources x p per step
BLOCK_TYPES = {"rates": ("<f", 4), "spike_steps": ("<q", 8)}
P_W, P_DELAYS = 1, 2
KIND_SPARSE, KIND_DENSE, KIND_CONV, KIND_MAXPOOL = 0, 1, 2, 3


M64 = (1 << 64) - 1
HK = 0xFF51AFD7ED558CCD


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def net_checksum(payload):
    """nm_net_checksum of Sources/CEngine/snn_io.c (formats 2 and 3): a multiply-rotate over the payload's
    little-endian 8-byte words (the last zero-filled), then the length and murmur3's finalizer."""
    h = 0x9E3779B97F4A7C15
    padded = payload + b"\0" * ((8 - len(payload) % 8) % 8)
    for (word,) in struct.iter_unpack("<Q", padded):
        h = _rotl(((h ^ word) * HK) & M64, 31)
    h ^= len(payload)
    h ^= h >> 33
    h = (h * HK) & M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & M64
    h ^= h >> 33
    return h


def resign(data):
    """A saved network (format 2 or 3) with its header's payload length and checksum recomputed, so that an
    edited field reaches the loader's validation instead of failing the checksum."""
    payload = bytes(data[24:])
    return bytes(data[:8]) + struct.pack("<QQ", len(payload), net_checksum(payload)) + payload


class NetLayout:
    """Byte offsets of the fields of a saved network, format 3 or 2 of Sources/CEngine/snn_io.c (24-byte
    header with payload length and checksum; payload items padded to 8 bytes) or the older format 1.
    ``fields`` maps a field name to (offset, struct format, count): e.g. 'proj0.rowptr' -> (offset,
    '<q', npre + 1). Parsing fails with ValueError on any other layout, and the harness then falls
    back to format-blind mutations."""

    def __init__(self, data):
        self.fields = {}
        self.pops = []
        self.projs = []
        if data[:5] != b"NMNET":
            raise ValueError("not a saved network")
        self.version = data[7]
        if self.version in (3, 4):
            self._parse3(data)
        elif self.version == 2:
            self._parse2(data)
        elif self.version == 1:
            self._parse1(data)
        else:
            raise ValueError("format version %d not known" % self.version)

    def _f(self, name, offset, fmt, count):
        self.fields[name] = (offset, fmt, count)

    def _signed_payload(self, data):
        """Formats 2 to 4: checks the 24-byte header's payload length and checksum; the payload's offset."""
        base = 24
        length, checksum = struct.unpack_from("<QQ", data, 8)
        if length != len(data) - base or net_checksum(bytes(data[base:])) != checksum:
            raise ValueError("format-%d header does not match the payload (length or checksum)" % self.version)
        self.signed = True
        return base

    def _parse2(self, data):
        base = o = self._signed_payload(data)

        def pad(x):
            return base + ((x - base + 7) // 8) * 8

        def string(name, o):
            n = struct.unpack_from("<i", data, o)[0]
            self._f(name + ".len", o, "<i", 1)
            return pad(o + 4 + n)

        self._f("dt", o, "<d", 1)
        self._f("seed", o + 8, "<Q", 1)
        for k, name in enumerate(("npops", "nprojs", "nmons")):
            self._f(name, o + 16 + 4 * k, "<i", 1)
        npops, nprojs, nmons = struct.unpack_from("<3i", data, o + 16)
        o += 32
        if not (0 <= npops < 1000 and 0 <= nprojs < 1000 and 0 <= nmons < 1000):
            raise ValueError("implausible counts")
        for p in range(npops):
            o = string("pop%d.name" % p, o)
            model, n, nvars, fl = struct.unpack_from("<4i", data, o)
            for k, name in enumerate(("model", "n", "nvars", "flags")):
                self._f("pop%d.%s" % (p, name), o + 4 * k, "<i", 1)
            o += 16
            self._f("pop%d.params" % p, o, "<d", NM_MAX_PARAMS); o += 8 * NM_MAX_PARAMS
            for v in range(nvars):
                o = string("pop%d.varname%d" % (p, v), o)
            for v in range(nvars):
                self._f("pop%d.var%d" % (p, v), o, "<f", n); o = pad(o + 4 * n)
            self._f("pop%d.refr" % p, o, "<i", n); o = pad(o + 4 * n)
            self._f("pop%d.iext" % p, o, "<f", n); o = pad(o + 4 * n)
            if fl & F_RATES:
                self._f("pop%d.rates" % p, o, "<f", n); o = pad(o + 4 * n)
            if fl & F_SRC:
                self._f("pop%d.src_ptr" % p, o, "<q", n + 1)
                total = struct.unpack_from("<q", data, o + 8 * n)[0]
                o = pad(o + 8 * (n + 1))
                self._f("pop%d.src_steps" % p, o, "<q", total); o = pad(o + 8 * total)
            if fl & F_MASK:
                self._f("pop%d.mask" % p, o, "<B", n); o = pad(o + n)
            self.pops.append({"n": n, "model": model, "flags": fl, "nvars": nvars})
        o = self._projections(data, nprojs, o, pad)
        self._monitors_and_end(data, nmons, o, pad, lambda name, o: (string(name, o), None))

    def _parse3(self, data):
        """Formats 3 and 4 (snn_io.c since the engine's models are registered by name): the model and its
        parameters by name, the model's data blocks by name, the rest as format 2; format 4 adds the
        Poisson inputs (their count in the header's fourth word, their records after the projections)."""
        base = o = self._signed_payload(data)

        def pad(x):
            return base + ((x - base + 7) // 8) * 8

        def string(name, o):
            n = struct.unpack_from("<i", data, o)[0]
            if not 0 <= n <= len(data):
                raise ValueError("implausible string length")
            self._f(name + ".len", o, "<i", 1)
            return pad(o + 4 + n), bytes(data[o + 4:o + 4 + n]).decode("utf-8", "replace")

        self._f("dt", o, "<d", 1)
        self._f("seed", o + 8, "<Q", 1)
        for k, name in enumerate(("npops", "nprojs", "nmons", "ninputs")):
            self._f(name, o + 16 + 4 * k, "<i", 1)
        npops, nprojs, nmons, ninputs = struct.unpack_from("<4i", data, o + 16)
        o += 32
        if not (0 <= npops < 1000 and 0 <= nprojs < 1000 and 0 <= nmons < 1000 and 0 <= ninputs < 1000):
            raise ValueError("implausible counts")
        if self.version == 3 and ninputs != 0:
            raise ValueError("format 3 has no Poisson inputs")
        for p in range(npops):
            o, _ = string("pop%d.name" % p, o)
            o, model = string("pop%d.model" % p, o)
            if model not in MODEL_NVARS:
                raise ValueError("model '%s' not known to the harness" % model)
            n, nparams, nblocks, fl = struct.unpack_from("<4i", data, o)
            for k, name in enumerate(("n", "nparams", "nblocks", "flags")):
                self._f("pop%d.%s" % (p, name), o + 4 * k, "<i", 1)
            o += 16
            if not (0 <= n <= len(data) and 0 <= nparams < 100 and 0 <= nblocks < 10):
                raise ValueError("implausible population header")
            for j in range(nparams):
                o, pname = string("pop%d.pname%d" % (p, j), o)
                self._f("pop%d.param.%s" % (p, pname), o, "<d", 1); o += 8
            nvars = MODEL_NVARS[model]
            for v in range(nvars):
                self._f("pop%d.var%d" % (p, v), o, "<f", n); o = pad(o + 4 * n)
            self._f("pop%d.refr" % p, o, "<i", n); o = pad(o + 4 * n)
            self._f("pop%d.iext" % p, o, "<f", n); o = pad(o + 4 * n)
            for b in range(nblocks):
                o, bname = string("pop%d.blockname%d" % (p, b), o)
                if bname not in BLOCK_TYPES:
                    raise ValueError("data block '%s' not known to the harness" % bname)
                fmt, size = BLOCK_TYPES[bname]
                count = struct.unpack_from("<q", data, o)[0]
                self._f("pop%d.%s.count" % (p, bname), o, "<q", 1); o += 8
                if not 0 <= count <= len(data):
                    raise ValueError("implausible block size")
                if bname == "spike_steps":   # ptr[n + 1] then the steps
                    if count < n + 1:
                        raise ValueError("spike_steps shorter than its index")
                    self._f("pop%d.src_ptr" % p, o, "<q", n + 1)
                    self._f("pop%d.src_steps" % p, o + 8 * (n + 1), "<q", count - n - 1)
                else:
                    self._f("pop%d.%s" % (p, bname), o, fmt, count)
                o = pad(o + size * count)
            if fl & F3_MASK:
                self._f("pop%d.mask" % p, o, "<B", n); o = pad(o + n)
            self.pops.append({"n": n, "model": model, "flags": fl, "nvars": nvars})
        o = self._projections(data, nprojs, o, pad)
        for k in range(ninputs):   # format 4: str name; i32 pop, port, sources, binomial, flags, 0; f64 p; f32 weight; [u8 mask[n]]
            o, _ = string("input%d.name" % k, o)
            pop, _, _, _, fl, _ = struct.unpack_from("<6i", data, o)
            for q, name in enumerate(("pop", "port", "sources", "binomial", "flags", "zero")):
                self._f("input%d.%s" % (k, name), o + 4 * q, "<i", 1)
            o += 24
            self._f("input%d.p" % k, o, "<d", 1); o += 8
            self._f("input%d.weight" % k, o, "<f", 1); o = pad(o + 4)
            if fl & 1:
                if not 0 <= pop < len(self.pops):
                    raise ValueError("implausible input target")
                n = self.pops[pop]["n"]
                self._f("input%d.mask" % k, o, "<B", n); o = pad(o + n)
        self._monitors_and_end(data, nmons, o, pad, string)

    def _projections(self, data, nprojs, o, pad):
        """The projections of formats 2 to 4: header, then the sparse, dense or conv arrays."""
        for j in range(nprojs):
            o = self._proj_header(data, j, o)
            kind, fl = self.projs[-1]["kind"], self.projs[-1]["flags"]
            npre, npost = self.projs[-1]["npre"], self.projs[-1]["npost"]
            if kind == KIND_SPARSE:
                self._f("proj%d.rowptr" % j, o, "<q", npre + 1)
                nnz = struct.unpack_from("<q", data, o + 8 * npre)[0]; o = pad(o + 8 * (npre + 1))
                self._f("proj%d.col" % j, o, "<i", nnz); o = pad(o + 4 * nnz)
                if fl & P_W:
                    self._f("proj%d.w" % j, o, "<f", nnz); o = pad(o + 4 * nnz)
                if fl & P_DELAYS:
                    self._f("proj%d.delays" % j, o, "<H", nnz); o = pad(o + 2 * nnz)
            elif kind == KIND_DENSE:
                self._f("proj%d.w" % j, o, "<f", npre * npost); o = pad(o + 4 * npre * npost)
            elif kind == KIND_CONV:
                h = self.projs[-1]["h"]
                kl = h[11] * h[12] * h[7] * (1 if h[15] else h[10])
                self._f("proj%d.w" % j, o, "<f", kl); o = pad(o + 4 * kl)
        return o

    def _monitors_and_end(self, data, nmons, o, pad, string):
        """The state monitors of formats 2 to 4, then the end marker, which must close the file.
        `string(name, o)` reads a length-prefixed string and returns (offset after it, its text)."""
        for m in range(nmons):
            o, _ = string("mon%d.name" % m, o)
            self._f("mon%d.scale" % m, o, "<d", 1); o += 8
            _, _, _, nidx = struct.unpack_from("<4i", data, o)
            for k, name in enumerate(("pop", "var", "every", "nidx")):
                self._f("mon%d.%s" % (m, name), o + 4 * k, "<i", 1)
            o += 16
            self._f("mon%d.idx" % m, o, "<i", nidx); o = pad(o + 4 * nidx)
        if data[o:o + 5] != b"NMEND" or o + 8 != len(data):
            raise ValueError("layout not recognised (end marker not where expected)")
        self._f("end", o, "<B", 8)
        return o

    def _proj_header(self, data, j, o):
        h = struct.unpack_from("<17i", data, o)
        names = ("kind", "pre", "post", "port", "delay", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
                 "k_h", "k_w", "stride", "pad", "depthwise", "flags")
        for k, name in enumerate(names):
            self._f("proj%d.%s" % (j, name), o + 4 * k, "<i", 1)
        self._f("proj%d.w0" % j, o + 68, "<f", 1)
        pre, post = h[1], h[2]
        self.projs.append({"kind": h[0], "pre": pre, "post": post, "npre": self.pops[pre]["n"], "npost": self.pops[post]["n"],
                           "flags": h[16], "h": h})
        return o + 72

    def _parse1(self, data):
        self.signed = False
        o = 8
        self._f("dt", o, "<d", 1); o += 8
        self._f("seed", o, "<Q", 1); o += 8
        self._f("npops", o, "<i", 1)
        self._f("nprojs", o + 4, "<i", 1)
        self._f("nmons", o + 8, "<i", 1)
        npops, nprojs, nmons = struct.unpack_from("<3i", data, o); o += 12
        if not (0 <= npops < 1000 and 0 <= nprojs < 1000 and 0 <= nmons < 1000):
            raise ValueError("implausible counts")
        for p in range(npops):
            nl = struct.unpack_from("<i", data, o)[0]
            self._f("pop%d.name.len" % p, o, "<i", 1); o += 4 + nl
            model, n, nvars, fl = struct.unpack_from("<4i", data, o)
            for k, name in enumerate(("model", "n", "nvars", "flags")):
                self._f("pop%d.%s" % (p, name), o + 4 * k, "<i", 1)
            o += 16
            self._f("pop%d.params" % p, o, "<d", NM_MAX_PARAMS); o += 8 * NM_MAX_PARAMS
            self._f("pop%d.var0" % p, o, "<f", nvars * n); o += 4 * nvars * n
            self._f("pop%d.refr" % p, o, "<i", n); o += 4 * n
            self._f("pop%d.iext" % p, o, "<f", n); o += 4 * n
            if fl & F_RATES:
                self._f("pop%d.rates" % p, o, "<f", n); o += 4 * n
            if fl & F_SRC:
                self._f("pop%d.src_ptr" % p, o, "<q", n + 1); o += 8 * (n + 1)
                total = struct.unpack_from("<q", data, o)[0]
                self._f("pop%d.src_total" % p, o, "<q", 1); o += 8
                self._f("pop%d.src_steps" % p, o, "<q", total); o += 8 * total
            if fl & F_MASK:
                self._f("pop%d.mask" % p, o, "<B", n); o += n
            self.pops.append({"n": n, "model": model, "flags": fl, "nvars": nvars})
        for j in range(nprojs):
            o = self._proj_header(data, j, o)
            kind, fl = self.projs[-1]["kind"], self.projs[-1]["flags"]
            npre, npost = self.projs[-1]["npre"], self.projs[-1]["npost"]
            if kind == KIND_SPARSE:
                self._f("proj%d.rowptr" % j, o, "<q", npre + 1)
                nnz = struct.unpack_from("<q", data, o + 8 * npre)[0]; o += 8 * (npre + 1)
                self._f("proj%d.col" % j, o, "<i", nnz); o += 4 * nnz
                if fl & P_W:
                    self._f("proj%d.w" % j, o, "<f", nnz); o += 4 * nnz
                if fl & P_DELAYS:
                    self._f("proj%d.delays" % j, o, "<H", nnz); o += 2 * nnz
            elif kind == KIND_DENSE:
                self._f("proj%d.w" % j, o, "<f", npre * npost); o += 4 * npre * npost
            elif kind == KIND_CONV:
                h = self.projs[-1]["h"]
                kl = h[11] * h[12] * h[7] * (1 if h[15] else h[10])
                self._f("proj%d.w" % j, o, "<f", kl); o += 4 * kl
        for m in range(nmons):
            nl = struct.unpack_from("<i", data, o)[0]
            self._f("mon%d.name.len" % m, o, "<i", 1); o += 4 + nl
            self._f("mon%d.scale" % m, o, "<d", 1); o += 8
            _, _, _, nidx = struct.unpack_from("<4i", data, o)
            for k, name in enumerate(("pop", "var", "every", "nidx")):
                self._f("mon%d.%s" % (m, name), o + 4 * k, "<i", 1)
            o += 16
            self._f("mon%d.idx" % m, o, "<i", nidx); o += 4 * nidx
        if data[o:o + 5] != b"NMEND" or o + 8 != len(data):
            raise ValueError("layout not recognised (end marker not where expected)")
        self._f("end", o, "<B", 8)
