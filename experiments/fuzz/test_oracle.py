"""Tests of the oracle and the runner with fake commands whose outcome is known (run by
`fuzz.py --self-test`): a crash, a trap, a hang, a deleted sentinel, a changed input, a partial
output, staging leftovers, a silent NaN, unclear refusals and a clean one must each be judged as
such; plus the format helpers the mutations rely on."""

import json
import os
import shutil
import signal
import struct
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import formats  # noqa: E402
import mutators  # noqa: E402
import oracle  # noqa: E402
import runner  # noqa: E402
from runner import Case, Step, w  # noqa: E402

PY = sys.executable

# A fake tool writing a complete, valid `simulate --out` folder (summary.json, raster.svg, one .npy).
GOOD_OUTPUT = textwrap.dedent("""
    import json, os, struct, sys
    out = sys.argv[1]
    os.makedirs(out)
    def npy(path, values):
        h = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % len(values)
        h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\\n"
        with open(path, "wb") as f:
            f.write(b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<%dd" % len(values), *values))
    npy(os.path.join(out, "spikes_a_t.npy"), [0.001, 0.002])
    with open(os.path.join(out, "raster.svg"), "w") as f:
        f.write("<svg xmlns='http://www.w3.org/2000/svg'></svg>\\n")
    summary = {"neurons": 2, "spikes": 2, "rate": RATE, "files": ["spikes_a_t.npy", "raster.svg", "summary.json"]}
    with open(os.path.join(out, "summary.json"), "w") as f:
        f.write(json.dumps(summary).replace('"NaN"', "NaN"))
""")


def fake(script, *args):
    return [PY, "-c", textwrap.dedent(script)] + list(args)



def item(b):
    """A saved-network payload item: padded with zero bytes to a multiple of 8."""
    return b + bytes((-len(b)) % 8)


def string(b):
    """A saved-network string: i32 length, the bytes, padded."""
    return item(struct.pack("<i", len(b)) + b)

class OracleTests(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="fuzz-selftest-")
        self.limits = runner.Limits(timeout=5, mem_mb=4096, fsize_mb=64)
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def run_steps(self, steps, files=None, **kw):
        self.n += 1
        case = Case("selftest-%04d" % self.n, "selftest", "t", "t", files or {w("cfg.yaml"): "a: 1\n"}, steps, **kw)
        return runner.run_case(case, self.root, "/nonexistent", {"PATH": os.environ.get("PATH", "")}, self.limits)

    def kinds(self, result):
        return sorted({f.kind for f in result.findings})

    def good(self, rate="2.0"):
        return fake(GOOD_OUTPUT.replace("RATE", rate), "outdir")

    def test_complete_output_passes(self):
        r = self.run_steps([Step(self.good(), out=("outdir", "sim"), names=["cfg.yaml"])])
        self.assertEqual(r.findings, [])

    def test_clean_refusal_passes(self):
        r = self.run_steps([Step(fake("import sys; sys.stderr.write(\"Error: cfg.yaml:3:1: unknown key 'x'\\n\"); sys.exit(1)"),
                                 out=("outdir", "sim"), names=["cfg.yaml", "x"])])
        self.assertEqual(r.findings, [])

    def test_signal_is_a_crash(self):
        r = self.run_steps([Step(fake("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"), out=("outdir", "sim"))])
        self.assertEqual(self.kinds(r), ["crash"])
        self.assertIn("SIGSEGV", r.findings[0].reason)

    def test_trap_status_is_a_crash_with_its_site(self):
        script = ("import sys; sys.stderr.write('Swift/Integers.swift:3539: Fatal error: Not enough bits\\n"
                  "Thread 0 crashed:\\n 2 [ra] 0x1 f() + 9 in neuromorph at /x/Sources/SNN/CompiledNetwork.swift:125:75\\n\\n'); sys.exit(132)")
        r = self.run_steps([Step(fake(script))])
        self.assertEqual(self.kinds(r), ["crash"])
        self.assertIn("SNN/CompiledNetwork.swift:125", r.findings[0].reason)

    def test_a_crash_is_not_also_counted_as_staging_leftovers(self):
        r = self.run_steps([Step(fake("import os; os.makedirs('.outdir.partial-1-2'); os.abort()"), out=("outdir", "sim"))])
        self.assertEqual(self.kinds(r), ["crash"])
        self.assertIn("SIGABRT", r.findings[0].reason)

    def test_hang_is_caught_and_killed(self):
        self.limits.timeout, self.limits.wall_factor = 1, 4
        busy = self.run_steps([Step(fake("while True: pass"))])
        self.assertEqual(self.kinds(busy), ["hang"])
        self.assertLess(busy.seconds, 3.9)          # killed on CPU time, before the wall limit
        blocked = self.run_steps([Step(fake("import time; time.sleep(60)"))])
        self.assertEqual(self.kinds(blocked), ["hang"])
        self.assertLess(blocked.seconds, 10)

    def test_waiting_without_cpu_is_not_a_hang_before_the_wall_limit(self):
        self.limits.timeout, self.limits.wall_factor = 1, 5
        r = self.run_steps([Step(fake("import time; time.sleep(2)"))])
        self.assertEqual(r.findings, [])

    def test_deleted_sentinel(self):
        script = GOOD_OUTPUT.replace("RATE", "1.0") + "\nos.remove('../SENTINEL-parent.txt')\n"
        r = self.run_steps([Step(fake(script, "outdir"), out=("outdir", "sim"))])
        self.assertEqual(self.kinds(r), ["deleted"])
        self.assertIn("SENTINEL-parent.txt", r.findings[0].reason)

    def test_deleted_input_folder_and_changed_input(self):
        files = {w("cfg.yaml"): "a: 1\n", w("mymodel", "model.json"): "{}"}
        r = self.run_steps([Step(fake("import shutil; shutil.rmtree('mymodel'); open('cfg.yaml', 'a').write('b: 2')"))], files=files)
        self.assertEqual(self.kinds(r), ["deleted"])
        reasons = " ".join(f.reason for f in r.findings)
        self.assertIn("mymodel/SENTINEL-input.txt", reasons)
        self.assertIn("modified 1 file", reasons)

    def test_replaceable_destination_may_change(self):
        files = {w("outdir", "summary.json"): "{}"}
        r = self.run_steps([Step(fake("import shutil, sys; shutil.rmtree('outdir')") ), Step(self.good(), out=("outdir", "sim"))],
                           files=files, replaceable=["outdir"], bare=["outdir"])
        self.assertEqual(r.findings, [])

    def test_partial_output_missing_files(self):
        script = GOOD_OUTPUT.replace("RATE", "1.0") + "\nos.remove(os.path.join(out, 'raster.svg'))\n"
        r = self.run_steps([Step(fake(script, "outdir"), out=("outdir", "sim"))])
        self.assertEqual(self.kinds(r), ["partial"])
        self.assertIn("raster.svg", r.findings[0].reason)

    def test_partial_output_after_refusal(self):
        script = "import os, sys; os.makedirs('outdir'); sys.stderr.write('Error: cfg.yaml: bad\\n'); sys.exit(1)"
        r = self.run_steps([Step(fake(script), out=("outdir", "sim"), names=["cfg.yaml"])])
        self.assertEqual(self.kinds(r), ["partial"])

    def test_staging_leftover(self):
        script = "import os, sys; os.makedirs('.outdir.partial-12-34'); sys.stderr.write('Error: cfg.yaml: bad\\n'); sys.exit(1)"
        r = self.run_steps([Step(fake(script), out=("outdir", "sim"), names=["cfg.yaml"])])
        self.assertEqual(self.kinds(r), ["partial"])
        self.assertIn(".outdir.partial-12-34", r.findings[0].reason)

    def test_sigkill_leftover_must_be_swept_by_the_next_run(self):
        slow = "import os, time; os.makedirs('.outdir.partial-1'); time.sleep(30)"
        sweep = GOOD_OUTPUT.replace("RATE", "1.0") + "\nimport shutil; shutil.rmtree('.outdir.partial-1')\n"
        ok = self.run_steps([Step(fake(slow), out=("outdir", "sim"), kill=(signal.SIGKILL, 0.5)),
                             Step(fake(sweep, "outdir"), out=("outdir", "sim"))])
        self.assertEqual(ok.findings, [])
        bad = self.run_steps([Step(fake(slow), out=("outdir", "sim"), kill=(signal.SIGKILL, 0.5)),
                              Step(self.good(), out=("outdir", "sim"))])
        self.assertEqual(self.kinds(bad), ["partial"])

    def test_sigint_with_default_handler_is_not_a_crash(self):
        r = self.run_steps([Step(fake("import time; time.sleep(30)"), kill=(signal.SIGTERM, 0.3))])
        self.assertEqual(r.findings, [])

    def test_killed_run_must_not_leave_an_incomplete_destination(self):
        r = self.run_steps([Step(fake("import os, time; os.makedirs('outdir'); time.sleep(30)"), out=("outdir", "sim"),
                                 kill=(signal.SIGTERM, 0.5))])
        self.assertEqual(self.kinds(r), ["partial"])

    def test_silent_nan_in_json(self):
        r = self.run_steps([Step(self.good(rate='"NaN"'), out=("outdir", "sim"))])
        self.assertEqual(self.kinds(r), ["nan"])

    def test_silent_nan_on_stdout(self):
        r = self.run_steps([Step(fake("print('accuracy 12%, loss nan')"))])
        self.assertEqual(self.kinds(r), ["nan"])

    def test_free_text_echoed_is_not_a_silent_nan(self):
        # a run named 'nan' by its config: summary.json and stdout carry the name, not a number
        named = self.run_steps([Step(self.good(rate='"nan"'), out=("outdir", "sim"), echo="nan")])
        self.assertEqual(self.kinds(named), [])
        printed = self.run_steps([Step(fake("print('nan: 48 neurons, rate 2 Hz')"), echo="nan")])
        self.assertEqual(self.kinds(printed), [])
        # but only the echoed text: another NaN still counts
        other = self.run_steps([Step(fake("print('nan: 48 neurons, rate inf Hz')"), echo="nan")])
        self.assertEqual(self.kinds(other), ["nan"])
        unnamed = self.run_steps([Step(self.good(rate='"nan"'), out=("outdir", "sim"))])
        self.assertEqual(self.kinds(unnamed), ["nan"])

    def test_unclear_refusals(self):
        no_line = self.run_steps([Step(fake("import sys; sys.stderr.write('oops\\n'); sys.exit(1)"), names=["cfg.yaml"])])
        self.assertEqual(self.kinds(no_line), ["unclear"])
        wrong_status = self.run_steps([Step(fake("import sys; sys.stderr.write('Error: cfg.yaml: bad\\n'); sys.exit(64)"),
                                            names=["cfg.yaml"])])
        self.assertEqual(self.kinds(wrong_status), ["unclear"])
        unnamed = self.run_steps([Step(fake("import sys; sys.stderr.write('Error: something failed\\n'); sys.exit(1)"),
                                       names=["cfg.yaml", "size"])])
        self.assertEqual(self.kinds(unnamed), ["unclear"])
        dump = self.run_steps([Step(fake("import sys; sys.stderr.write('Error: cfg.yaml: Error Domain=NSCocoaErrorDomain Code=4\\n'); sys.exit(1)"),
                                    names=["cfg.yaml"])])
        self.assertEqual(self.kinds(dump), ["unclear"])
        dump_config = self.run_steps([Step(fake("import sys; sys.stderr.write(\"Error: cfg.yaml: duplicate key 'a'. Context:\\na: 1\\na: 1\\nb: 2\\nc: 3\\n\"); sys.exit(1)"),
                                           names=["cfg.yaml"])])
        self.assertEqual(self.kinds(dump_config), ["unclear"])
        self.assertIn("5 lines", dump_config.findings[0].reason)

    def test_accepting_what_must_be_refused_is_wrong(self):
        r = self.run_steps([Step(self.good(), out=("outdir", "sim"), must_refuse="duplicate key 'size'")])
        self.assertEqual(self.kinds(r), ["wrong"])

    def test_concurrent_writers_both_succeeding_is_wrong(self):
        r = self.run_steps([Step(fake("pass"), out=None, group=1), Step(fake("pass"), out=None, group=1)])
        self.assertEqual(self.kinds(r), ["wrong"])

    def test_only_if_ok_skips_after_a_refusal(self):
        r = self.run_steps([Step(fake("import sys; sys.stderr.write('Error: cfg.yaml: no\\n'); sys.exit(1)"), names=["cfg.yaml"]),
                            Step(fake("import os; os.kill(os.getpid(), 11)"), only_if_ok=True)])
        self.assertEqual(r.findings, [])
        self.assertIsNone(r.steps[1][1])


class FormatTests(unittest.TestCase):
    def test_npy_round_trip_and_truncation(self):
        h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
        h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
        data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<4f", 1, 2, 3, float("nan"))
        descr, shape, values = formats.parse_npy(data)
        self.assertEqual((descr, shape), ("<f4", (2, 2)))
        self.assertEqual(formats.first_nonfinite(values)[0], 3)
        with self.assertRaises(ValueError):
            formats.parse_npy(data[:-1])

    def test_safetensors_round_trip_and_checks(self):
        header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
        data = formats.build_safetensors(header, struct.pack("<2f", 1.5, -2))
        h, body = formats.parse_safetensors(data)
        self.assertEqual(h["w"]["shape"], [2])
        self.assertEqual(list(dict(formats.float_tensors(data))["w"]), [1.5, -2.0])
        bad = formats.build_safetensors({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, body)
        with self.assertRaises(ValueError):
            formats.parse_safetensors(bad)

    def test_saved_network_layout(self):
        # one population (model 0, n = 2, one state variable, no flags), one sparse projection onto itself
        params = struct.pack("<32d", *([0.0] * 32))
        pop = struct.pack("<i", 1) + b"a" + struct.pack("<4i", 0, 2, 1, 0) + params + struct.pack("<2f", 0, 0) + struct.pack("<2i", 0, 0) \
            + struct.pack("<2f", 0, 0)
        proj = struct.pack("<17i", 0, 0, 0, 0, 1, *([0] * 11), 0) + struct.pack("<f", 1.0) + struct.pack("<3q", 0, 1, 2) + struct.pack("<2i", 1, 0)
        data = b"NMNET\0\0\1" + struct.pack("<dQ3i", 0.1, 1, 1, 1, 0) + pop + proj + b"NMEND\0\0\0"
        lay = formats.NetLayout(data)
        off, fmt, count = lay.fields["proj0.rowptr"]
        self.assertEqual((fmt, count), ("<q", 3))
        self.assertEqual(struct.unpack_from("<3q", data, off), (0, 1, 2))
        self.assertEqual(struct.unpack_from("<2i", data, lay.fields["proj0.col"][0]), (1, 0))
        with self.assertRaises(ValueError):
            formats.NetLayout(data[:-8] + b"NMENX\0\0\0")
        with self.assertRaises(ValueError):
            formats.NetLayout(data + b"x" * 65)

    def test_row_pointer_edits_that_must_be_refused(self):
        # rows of 3 presynaptic neurons: row pointers (0, 1, 1, 2); an inner entry moved between its
        # neighbours is a valid network (one synapse changes rows); first, last or non-monotone are not
        import families
        params = struct.pack("<32d", *([0.0] * 32))
        pop = struct.pack("<i", 1) + b"a" + struct.pack("<4i", 0, 3, 1, 0) + params + struct.pack("<3f", 0, 0, 0) \
            + struct.pack("<3i", 0, 0, 0) + struct.pack("<3f", 0, 0, 0)
        proj = struct.pack("<17i", 0, 0, 0, 0, 1, *([0] * 11), 0) + struct.pack("<f", 1.0) + struct.pack("<4q", 0, 1, 1, 2) \
            + struct.pack("<2i", 1, 0)
        data = b"NMNET\0\0\1" + struct.pack("<dQ3i", 0.1, 1, 1, 1, 0) + pop + proj + b"NMEND\0\0\0"
        lay = formats.NetLayout(data)
        lay.data = data   # as saved_case sets it
        must = lambda i, new: families.field_must_refuse(lay, "proj0.rowptr", i, [0, 1, 1, 2][i], new)
        self.assertIsNone(must(1, 0))       # row 0 empty, row 1 takes its synapse
        self.assertIsNone(must(2, 2))       # row 1 takes row 2's synapse
        self.assertIsNotNone(must(2, 3))    # beyond the next entry: not monotone
        self.assertIsNotNone(must(1, -1))
        self.assertIsNotNone(must(0, 1))    # the first must stay 0
        self.assertIsNotNone(must(3, 1))    # the last sizes the target array: the layout changes
        # free-text keys take any scalar
        self.assertIn("name", families.FREE_TEXT_KEYS)

    def test_count_edits_within_padding_still_parse(self):
        # format 2 pads every item to 8 bytes: a population of 3 neurons and a monitor of 3 indices keep
        # their padded sizes at 4 (the new item is read from zero padding, a well-formed network), not at 5
        import families

        pop = string(b"a") + struct.pack("<4i", 0, 3, 1, 0) + struct.pack("<32d", *([0.0] * 32)) + string(b"v") \
            + item(struct.pack("<3f", 0, 0, 0)) + item(struct.pack("<3i", 0, 0, 0)) + item(struct.pack("<3f", 0, 0, 0))
        mon = string(b"v") + struct.pack("<d", 1.0) + struct.pack("<4i", 0, 0, 1, 3) + item(struct.pack("<3i", 0, 1, 2))
        data = formats.resign(b"NMNET\0\0\2" + bytes(16) + struct.pack("<dQ4i", 0.1, 1, 1, 0, 1, 0) + pop + mon + b"NMEND\0\0\0")
        lay = formats.NetLayout(data)
        lay.data = data
        self.assertIsNone(families.field_must_refuse(lay, "mon0.nidx", 0, 3, 4))
        self.assertIsNotNone(families.field_must_refuse(lay, "mon0.nidx", 0, 3, 5))
        self.assertIsNone(families.field_must_refuse(lay, "pop0.n", 0, 3, 4))
        self.assertIsNotNone(families.field_must_refuse(lay, "pop0.n", 0, 3, 5))
        self.assertIsNotNone(families.field_must_refuse(lay, "nmons", 0, 1, 2))

    def test_saved_network_layout_format_3(self):
        # format 3: model and parameters by name, data blocks by name (a spike source's "spike_steps":
        # ptr[n + 1] then the steps), items padded to 8 bytes
        pop0 = string(b"a") + string(b"if") + struct.pack("<4i", 3, 1, 0, 0) + string(b"v_th") + struct.pack("<d", 1.0) \
            + item(struct.pack("<3f", 0, 0, 0)) + item(struct.pack("<3i", 0, 0, 0)) + item(struct.pack("<3f", 0, 0, 0))
        pop1 = string(b"s") + string(b"spike_source") + struct.pack("<4i", 2, 0, 1, 0) \
            + item(struct.pack("<2i", 0, 0)) + item(struct.pack("<2f", 0, 0)) + string(b"spike_steps") + struct.pack("<q", 5) \
            + struct.pack("<5q", 0, 1, 2, 7, 9)
        proj = struct.pack("<17i", 0, 1, 0, 0, 1, *([0] * 11), 0) + struct.pack("<f", 1.0) + struct.pack("<3q", 0, 1, 2) \
            + item(struct.pack("<2i", 2, 0))
        mon = string(b"v") + struct.pack("<d", 1.0) + struct.pack("<4i", 0, 0, 1, 2) + item(struct.pack("<2i", 0, 2))
        data = formats.resign(b"NMNET\0\0\3" + bytes(16) + struct.pack("<dQ4i", 0.1, 1, 2, 1, 1, 0) + pop0 + pop1 + proj + mon + b"NMEND\0\0\0")
        lay = formats.NetLayout(data)
        lay.data = data
        self.assertEqual([p["nvars"] for p in lay.pops], [1, 0])
        self.assertEqual(struct.unpack_from("<d", data, lay.fields["pop0.param.v_th"][0])[0], 1.0)
        self.assertEqual(struct.unpack_from("<3q", data, lay.fields["pop1.src_ptr"][0]), (0, 1, 2))
        self.assertEqual(struct.unpack_from("<2q", data, lay.fields["pop1.src_steps"][0]), (7, 9))
        self.assertEqual(struct.unpack_from("<2i", data, lay.fields["proj0.col"][0]), (2, 0))
        import families
        self.assertIsNotNone(families.field_must_refuse(lay, "pop0.param.v_th", 0, 1.0, float("nan")))
        self.assertIsNone(families.field_must_refuse(lay, "pop0.param.v_th", 0, 1.0, float("inf")), "a threshold may be +inf")
        self.assertIsNotNone(families.field_must_refuse(lay, "pop0.nparams", 0, 1, 2))
        self.assertIsNotNone(families.field_must_refuse(lay, "pop1.spike_steps.count", 0, 5, 6))

    def test_saved_network_layout_format_4(self):
        # format 4: format 3 plus Poisson inputs (count in the header's fourth word, records after the
        # projections: str name; i32 pop, port, sources, binomial, flags, 0; f64 p; f32 weight; [u8 mask[n]])
        pop0 = string(b"a") + string(b"if") + struct.pack("<4i", 3, 1, 0, 0) + string(b"v_th") + struct.pack("<d", 1.0) \
            + item(struct.pack("<3f", 0, 0, 0)) + item(struct.pack("<3i", 0, 0, 0)) + item(struct.pack("<3f", 0, 0, 0))
        pop1 = string(b"n") + string(b"poisson") + struct.pack("<4i", 2, 0, 0, 0) + item(struct.pack("<2i", 0, 0)) \
            + item(struct.pack("<2f", 0, 0))
        inp = string(b"drive") + struct.pack("<6i", 0, 0, 100, 0, 1, 0) + struct.pack("<d", 0.002) + item(struct.pack("<f", 0.5)) \
            + item(bytes([1, 0, 1]))
        mon = string(b"v") + struct.pack("<d", 1.0) + struct.pack("<4i", 0, 0, 1, 2) + item(struct.pack("<2i", 0, 2))
        data = formats.resign(b"NMNET\0\0\4" + bytes(16) + struct.pack("<dQ4i", 0.1, 1, 2, 0, 1, 1) + pop0 + pop1 + inp + mon
                              + b"NMEND\0\0\0")
        lay = formats.NetLayout(data)
        lay.data = data
        self.assertEqual(struct.unpack_from("<i", data, lay.fields["input0.sources"][0])[0], 100)
        self.assertEqual(struct.unpack_from("<d", data, lay.fields["input0.p"][0])[0], 0.002)
        self.assertEqual(struct.unpack_from("<3B", data, lay.fields["input0.mask"][0]), (1, 0, 1))
        self.assertEqual(lay.fields["mon0.idx"][2], 2)
        import families
        must = families.field_must_refuse
        self.assertIsNone(must(lay, "input0.sources", 0, 100, 1000))
        self.assertIsNone(must(lay, "input0.weight", 0, 0.5, -1.0), "an inhibitory drive is valid")
        self.assertIsNotNone(must(lay, "input0.sources", 0, 100, 0))
        self.assertIsNotNone(must(lay, "input0.pop", 0, 0, 1), "a spike source receives no input")
        self.assertIsNotNone(must(lay, "input0.port", 0, 0, 1), "'if' has one port")
        self.assertIsNotNone(must(lay, "input0.p", 0, 0.002, float("nan")))
        self.assertIsNotNone(must(lay, "input0.p", 0, 0.002, 1e300))
        self.assertIsNotNone(must(lay, "input0.binomial", 0, 0, 2))
        self.assertIsNotNone(must(lay, "input0.weight", 0, 0.5, float("inf")))
        self.assertIsNotNone(must(lay, "input0.mask", 1, 0, 2))
        self.assertIsNotNone(must(lay, "input0.flags", 0, 1, 3))
        self.assertIsNotNone(must(lay, "ninputs", 0, 1, 2))
        # format 3 had no inputs
        v3 = formats.resign(b"NMNET\0\0\3" + data[8:])
        with self.assertRaises(ValueError):
            formats.NetLayout(v3)

    def test_saved_network_checksum_matches_the_engines(self):
        # reference values printed by snn_io.c's hash_init/hash_add/hash_end for bytes (37 i + 1) mod 256
        data = bytes((37 * i + 1) & 255 for i in range(29))
        self.assertEqual(formats.net_checksum(data), 10335139667039635963)
        self.assertEqual(formats.net_checksum(data[:24]), 4331093384567242602)
        signed = formats.resign(b"NMNET\0\0\2" + bytes(16) + data)
        self.assertEqual(struct.unpack_from("<QQ", signed, 8), (29, 10335139667039635963))

    def test_idx(self):
        data = formats.idx_bytes([2, 1, 1], b"\x01\x02")
        self.assertEqual(formats.parse_idx(data), (8, [2, 1, 1], b"\x01\x02"))


class MutatorTests(unittest.TestCase):
    TEXT = "run: {duration: 20 ms, dt: 0.1 ms}\npopulations:\n  exc:\n    size: 40\n    model: lif_exp\nmonitors:\n  spikes: all\n"

    def span(self, key):
        lines, spans = mutators.yaml_keys(self.TEXT)
        return next(s for s in spans if lines[s.line][s.k0:s.k1] == key)

    def test_keys_and_values(self):
        self.assertEqual(mutators.yaml_value(self.TEXT, self.span("dt")), "0.1 ms")
        self.assertEqual(mutators.yaml_value(self.TEXT, self.span("size")), "40")
        self.assertEqual(self.span("exc").block_end, 5)

    def test_edits(self):
        self.assertIn("run: {dt: 0.1 ms}", mutators.yaml_delete(self.TEXT, self.span("duration")))
        self.assertNotIn("exc:", mutators.yaml_delete(self.TEXT, self.span("exc")))
        self.assertEqual(mutators.yaml_duplicate(self.TEXT, self.span("size")).count("size: 40"), 2)
        self.assertIn("dt: 0.1 ms, dt: 0.1 ms", mutators.yaml_duplicate(self.TEXT, self.span("dt")))
        self.assertIn("size: nan", mutators.yaml_set_value(self.TEXT, self.span("size"), "nan"))
        self.assertIn("SIZE: 40", mutators.yaml_rename(self.TEXT, self.span("size"), "SIZE"))

    def test_json_paths(self):
        doc = {"a": [1, {"b": 2}]}
        self.assertIn(("a", 1, "b"), mutators.json_paths(doc))
        self.assertEqual(mutators.path_text(("a", 1, "b")), "a[1].b")


if __name__ == "__main__":
    unittest.main()
