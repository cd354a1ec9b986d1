import Foundation
import XCTest
import CEngine
@testable import SNN

/// A saved network file (format version 4, see Sources/CEngine/snn_io.c) read independently of the C
/// loader: the offsets of every field, so tests can change one and re-seal the checksum.
struct NetFile {
    var bytes: [UInt8]
    /// model: offset of the model name's string; header: i32 n, nparams, nblocks, flags; params: offset of
    /// each parameter's value (and name) by name; blocks: offset of each data block's count and data by name.
    struct Pop { var start = 0, model = 0, modelName = "", header = 0, n = 0, flags = 0, params: [String: Int] = [:],
                 paramNames: [String: Int] = [:], vars: [Int] = [], refr = 0, iext = 0
                 var blocks: [String: (count: Int, data: Int)] = [:], mask: Int?; var size = 0
                 var rates: Int? { blocks["rates"]?.data }
                 var srcPtr: Int? { blocks["spike_steps"]?.data }
                 var srcSteps: Int? { blocks["spike_steps"].map { $0.data + 8 * (n + 1) } } }
    struct Proj { var header = 0, kind: Int32 = 0, npre = 0, npost = 0, rowptr: Int?, col: Int?, w: Int?, delays: Int?, nnz = 0 }
    struct Mon { var start = 0, scale = 0, header = 0, idx = 0 }
    /// header: i32 pop, port, sources, binomial, flags, 0; p: f64; weight: f32; mask: n bytes
    struct Input { var start = 0, header = 0, p = 0, weight = 0, mask: Int?, n = 0 }
    var pops: [Pop] = [], projs: [Proj] = [], inputs: [Input] = [], mons: [Mon] = []
    var end = 0

    static let dt = 24, seed = 32, npops = 40, nprojs = 44, nmons = 48, ninputs = 52, countsPad = 52

    /// The engine's description of a registered model.
    static func modelInfo(_ name: String) -> nm_model_info {
        var k: Int32 = 0, info = nm_model_info()
        while nm_model_at(k, &info) == 0 { if String(cString: info.name) == name { return info }; k += 1 }
        return nm_model_info()
    }

    func i32(_ o: Int) -> Int32 { bytes[o..<o + 4].enumerated().reduce(Int32(0)) { $0 | Int32(bitPattern: UInt32($1.element) << (8 * UInt32($1.offset))) } }
    func i64(_ o: Int) -> Int64 { bytes[o..<o + 8].enumerated().reduce(Int64(0)) { $0 | Int64(bitPattern: UInt64($1.element) << (8 * UInt64($1.offset))) } }
    mutating func set32(_ o: Int, _ v: Int32) { for k in 0..<4 { bytes[o + k] = UInt8(truncatingIfNeeded: UInt32(bitPattern: v) >> (8 * UInt32(k))) } }
    mutating func set64(_ o: Int, _ v: Int64) { for k in 0..<8 { bytes[o + k] = UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * UInt64(k))) } }
    mutating func setF32(_ o: Int, _ v: Float) { set32(o, Int32(bitPattern: v.bitPattern)) }
    mutating func setF64(_ o: Int, _ v: Double) { set64(o, Int64(bitPattern: v.bitPattern)) }

    /// The documented checksum: h = 0x9E3779B97F4A7C15; per 8-byte little-endian word w (the last one
    /// zero-filled) h = rotl((h ^ w) * 0xFF51AFD7ED558CCD, 31); h ^= length; murmur3 finalizer.
    static func checksum<C: Collection>(_ data: C) -> UInt64 where C.Element == UInt8 {
        let k: UInt64 = 0xFF51AFD7ED558CCD
        var h: UInt64 = 0x9E3779B97F4A7C15
        var word: UInt64 = 0, nb = 0
        for b in data {
            word |= UInt64(b) << (8 * UInt64(nb)); nb += 1
            if nb == 8 { let x = (h ^ word) &* k; h = (x << 31) | (x >> 33); word = 0; nb = 0 }
        }
        if nb > 0 { let x = (h ^ word) &* k; h = (x << 31) | (x >> 33) }
        h ^= UInt64(data.count)
        h ^= h >> 33; h = h &* k; h ^= h >> 33; h = h &* 0xC4CEB9FE1A85EC53; h ^= h >> 33
        return h
    }
    /// Writes the payload length and checksum into the header (after a field was changed on purpose),
    /// with the C function (fast; `checksum` above, the documented formula, is checked against it).
    mutating func reseal() {
        set64(8, Int64(bytes.count - 24))
        let sum = bytes.withUnsafeBufferPointer { nm_net_checksum($0.baseAddress! + 24, $0.count - 24) }
        set64(16, Int64(bitPattern: sum))
    }

    init(_ data: Data) {
        bytes = [UInt8](data)
        var o = 56
        func pad(_ x: Int) -> Int { (x + 7) / 8 * 8 }
        func str() -> String {
            let n = Int(i32(o))
            let text = String(decoding: bytes[o + 4..<o + 4 + n], as: UTF8.self)
            o += pad(4 + n)
            return text
        }
        for _ in 0..<Int(i32(Self.npops)) {
            var p = Pop(); p.start = o
            _ = str()
            p.model = o
            p.modelName = str()
            p.header = o; p.n = Int(i32(o)); p.flags = Int(i32(o + 12))
            let nparams = Int(i32(o + 4)), nblocks = Int(i32(o + 8))
            o += 16
            for _ in 0..<nparams { let at = o; let name = str(); p.paramNames[name] = at; p.params[name] = o; o += 8 }
            let nvars = Int(Self.modelInfo(p.modelName).nvars)
            for _ in 0..<nvars { p.vars.append(o); o += pad(4 * p.n) }
            p.refr = o; o += pad(4 * p.n)
            p.iext = o; o += pad(4 * p.n)
            for _ in 0..<nblocks {
                let name = str()
                let count = Int(i64(o)), elsize = name == "rates" ? 4 : 8
                p.blocks[name] = (o, o + 8)
                o += 8 + pad(elsize * count)
            }
            if p.flags & 4 != 0 { p.mask = o; o += pad(p.n) }
            p.size = o - p.start
            pops.append(p)
        }
        for _ in 0..<Int(i32(Self.nprojs)) {
            var j = Proj(); j.header = o
            j.kind = i32(o)
            j.npre = pops[Int(i32(o + 4))].n; j.npost = pops[Int(i32(o + 8))].n
            let g = (0..<11).map { Int(i32(o + 20 + 4 * $0)) }   // in_h in_w in_c out_h out_w out_c k_h k_w stride pad depthwise
            let fl = i32(o + 64)
            o += 72
            switch j.kind {
            case Int32(NM_PROJ_SPARSE.rawValue):
                j.rowptr = o; j.nnz = Int(i64(o + 8 * j.npre)); o += pad(8 * (j.npre + 1))
                j.col = o; o += pad(4 * j.nnz)
                if fl & 1 != 0 { j.w = o; o += pad(4 * j.nnz) }
                if fl & 2 != 0 { j.delays = o; o += pad(2 * j.nnz) }
            case Int32(NM_PROJ_DENSE.rawValue): j.w = o; o += pad(4 * j.npre * j.npost)
            case Int32(NM_PROJ_CONV.rawValue): j.w = o; o += pad(4 * g[6] * g[7] * g[2] * (g[10] != 0 ? 1 : g[5]))
            default: break
            }
            projs.append(j)
        }
        for _ in 0..<Int(i32(Self.ninputs)) {
            var q = Input(); q.start = o
            _ = str()
            q.header = o; q.p = o + 24; q.weight = o + 32
            q.n = pops[Int(i32(o))].n
            let flags = i32(o + 16)
            o += 40
            if flags & 1 != 0 { q.mask = o; o += pad(q.n) }
            inputs.append(q)
        }
        for _ in 0..<Int(i32(Self.nmons)) {
            var m = Mon(); m.start = o
            _ = str()
            m.scale = o; m.header = o + 8; m.idx = o + 24
            o += 24 + pad(4 * Int(i32(o + 8 + 12)))
            mons.append(m)
        }
        end = o
    }
}

/// Saved networks are validated for meaning and protected by a checksum: every kind of corruption is
/// refused with a message naming the file and what is wrong, never a crash or an out-of-bounds read.
final class SavedNetworkValidationTests: XCTestCase {
    lazy var dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("nm-netval-\(getpid())")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A small network with every saved part: spike source, Poisson with per-neuron rates, per-synapse
    /// weights and delays, a constant current, conv (padding), max-pool gate, dense, a recording mask,
    /// spike counts and a state monitor.
    func smallNetwork() throws -> Simulator {
        var lif = LIFCondExpParameters()
        lif.threshold = -50; lif.resetPotential = -60; lif.restingPotential = -60
        var relay = IFParameters(); relay.threshold = 1
        let conv = ConvGeometry(inHeight: 2, inWidth: 2, inChannels: 2, outChannels: 1, kernelHeight: 2, kernelWidth: 2, stride: 1, padding: 1)
        let pool = ConvGeometry(inHeight: 3, inWidth: 3, inChannels: 1, outChannels: 1, kernelHeight: 2, kernelWidth: 2, stride: 1, depthwise: true)
        let net = Network(dt: 0.1, populations: [
            Population(name: "cue", size: 3, model: .spikeSource(times: [[1, 2], [1.5], []])),
            Population(name: "noise", size: 4, model: .poisson(rateHz: 100), rates: [100, 200, 300, 400]),
            Population(name: "exc", size: 6, model: .lifCondExp(lif), initial: ["v": .uniform(low: -60, high: -51)]),
            Population(name: "grid", size: 8, model: .integrateAndFire(relay)),
            Population(name: "conv", size: conv.outputSize, model: .integrateAndFire(relay)),
            Population(name: "pool", size: pool.outputSize, model: .integrateAndFire(relay)),
            Population(name: "out", size: 2, model: .integrateAndFire(relay)),
        ], projections: [
            Projection(pre: "cue", post: "exc", kind: .sparse(.list(pairs: [(0, 1), (0, 4), (1, 0), (1, 2), (1, 5)], weights: [20, 30, 25, 20, 40], delays: [0.1, 0.3, 0.2, 0.5, 1])), weight: .constant(1), delay: .constant(0.1)),
            Projection(pre: "noise", post: "exc", kind: .sparse(.fixedIndegree(2)), weight: .constant(15), delay: .constant(0.2)),
            Projection(pre: "exc", post: "grid", kind: .sparse(.fixedProbability(0.5)), weight: .constant(0.7), delay: .constant(0.1)),
            Projection(pre: "grid", post: "conv", kind: .conv(conv, kernel: [0.5, 0.3, 0.6, 0.2, 0.4, 0.7, 0.1, 0.5]), delay: .constant(0)),
            Projection(pre: "conv", post: "pool", kind: .maxPool(pool), weight: .constant(1), delay: .constant(0)),
            Projection(pre: "pool", post: "out", kind: .dense(weights: [0.5, 0.2, 0.3, 0.9, 0.4, 0.4, 0.8, 0.1]), delay: .constant(0)),
        ], currents: [CurrentInput(population: "grid", times: [0], amplitudes: [0.05])])
        let sim = try Simulator(CompiledNetwork(net, seed: 4))
        try sim.recordSpikes("exc", neurons: [0, 2, 5])
        for p in ["cue", "grid", "conv", "out"] { try sim.recordSpikes(p) }
        try sim.recordCounts("pool")
        try sim.recordState("exc", variable: "v", neurons: [1, 3], everyMs: 0.2)
        return sim
    }

    func saved() throws -> NetFile {
        let path = dir.appendingPathComponent("small.nmnet").path
        try smallNetwork().saveNetwork(to: path)
        return NetFile(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Loads `bytes` as the file `name` (from memory: thousands of cases, no file system in between;
    /// nm_engine_load reads a file into the same code); nil if it loaded (the engine is freed), else the
    /// message.
    func refusal(_ bytes: [UInt8], _ name: String = "case.nmnet", file: StaticString = #filePath, line: UInt = #line) -> String? {
        var err = [CChar](repeating: 0, count: 512)
        if let e = nm_engine_load_buffer(bytes, bytes.count, name, nil, &err, err.count) { nm_engine_free(e); return nil }
        let msg = cMessage(err)
        XCTAssertTrue(msg.hasPrefix(name + ": "), "the message names the file: \(msg)", file: file, line: line)
        return msg
    }

    /// Changes one field (then re-seals the checksum, as a crafted file would) and expects a refusal
    /// whose message contains `needle`.
    func expectRefused(_ f: NetFile, _ needle: String, file: StaticString = #filePath, line: UInt = #line, _ change: (inout NetFile) -> Void) {
        var g = f
        change(&g)
        g.reseal()
        guard let msg = refusal(g.bytes, file: file, line: line) else { return XCTFail("loaded, expected '\(needle)'", file: file, line: line) }
        XCTAssertTrue(msg.contains(needle), "'\(needle)' not in: \(msg)", file: file, line: line)
    }

    /// The layout read here matches the file (end marker where expected), the checksum follows its
    /// documented formula, and the unchanged file loads and runs like the original.
    func testLayoutAndChecksumFollowTheDocumentedFormat() throws {
        let f = try saved()
        XCTAssertEqual(Array(f.bytes[0..<8]), [78, 77, 78, 69, 84, 0, 0, UInt8(NM_NET_VERSION)])
        XCTAssertEqual(f.i64(8), Int64(f.bytes.count - 24))
        XCTAssertEqual(UInt64(bitPattern: f.i64(16)), NetFile.checksum(f.bytes[24...]))
        XCTAssertEqual(Array(f.bytes[f.end..<f.end + 5]), Array("NMEND".utf8))
        XCTAssertEqual(f.end + 8, f.bytes.count)
        XCTAssertEqual(f.pops.count, 7); XCTAssertEqual(f.projs.count, 6); XCTAssertEqual(f.mons.count, 1)
        XCTAssertEqual(f.projs[0].nnz, 5)
        XCTAssertNil(refusal(f.bytes))
        var err = [CChar](repeating: 0, count: 512)
        let e = nm_engine_load(dir.appendingPathComponent("small.nmnet").path, nil, &err, err.count)
        XCTAssertNotNil(e, cMessage(err))
        nm_engine_free(e)
        // the C checksum function is the documented one (lengths with and without a partial last word)
        for n in [0, 1, 7, 8, 9, 100] {
            let probe = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            XCTAssertEqual(nm_net_checksum(probe, probe.count), NetFile.checksum(probe), "\(n) bytes")
        }
    }

    /// Every single byte of the file changed (each bit position, and all bits) is refused: magic and
    /// version bytes as not a network file or another format, the length as truncated, anything else by
    /// the checksum.
    func testEverySingleByteChangeIsRefused() throws {
        let f = try saved()
        XCTAssertLessThan(f.bytes.count, 6000, "keep the file small: this loads it twice per byte")
        var counts: [String: Int] = [:]
        for i in 0..<f.bytes.count {
            for mask: UInt8 in [1 << UInt8(i % 8), 0xFF] {
                var b = f.bytes
                b[i] ^= mask
                guard let msg = refusal(b) else { XCTFail("byte \(i) ^ \(mask): loaded"); continue }
                let kind = i < 7 ? "not a neuromorph network file" : i == 7 ? "format" : i < 16 ? "truncated|end marker" : "checksum mismatch"
                let ok = kind.split(separator: "|").contains { msg.contains($0) }
                XCTAssertTrue(ok, "byte \(i) ^ \(mask): '\(kind)' expected in \(msg)")
                counts[kind, default: 0] += 1
            }
        }
        XCTAssertEqual(counts["checksum mismatch"], 2 * (f.bytes.count - 16))
    }

    /// Older files (version 1, no checksum) are refused with a message that says how to re-create them; a
    /// newer version is refused too. The version-1 file is a complete empty network in that format.
    func testOtherFormatVersionsAreRefused() throws {
        var v1: [UInt8] = Array("NMNET".utf8) + [0, 0, 1]
        withUnsafeBytes(of: 0.1) { v1 += $0 }
        withUnsafeBytes(of: UInt64(5)) { v1 += $0 }
        v1 += [UInt8](repeating: 0, count: 12) + Array("NMEND".utf8) + [0, 0, 0]
        let old = try XCTUnwrap(refusal(v1, "old.nmnet"))
        XCTAssertTrue(old.contains("older format (version 1"), old)
        XCTAssertTrue(old.contains("neuromorph simulate CONFIG --save-network"), old)
        var f = try saved()
        f.bytes[7] = UInt8(NM_NET_VERSION) + 1
        XCTAssertTrue(try XCTUnwrap(refusal(f.bytes)).contains("newer format"))
    }

    /// Header fields, each changed with the checksum re-sealed.
    func testHeaderFieldsAreValidated() throws {
        let f = try saved()
        for dt in [0, -0.1, .nan, .infinity, 1e300, 1e-300] { expectRefused(f, "time step dt") { $0.setF64(NetFile.dt, dt) } }
        for (field, v) in [(NetFile.npops, Int32(-1)), (NetFile.npops, Int32.max), (NetFile.nprojs, -1), (NetFile.nprojs, 1_000_000),
                           (NetFile.nmons, Int32.min), (NetFile.nmons, 100_000), (NetFile.ninputs, -1), (NetFile.ninputs, 1_000_000)] {
            expectRefused(f, "header: ") { $0.set32(field, v) }
        }
        // one population, projection or monitor more or fewer than the file holds: the rest no longer fits
        for field in [NetFile.npops, NetFile.nprojs, NetFile.nmons] {
            for d: Int32 in [-1, 1] {
                var g = f
                g.set32(field, f.i32(field) + d)
                g.reseal()
                XCTAssertNotNil(refusal(g.bytes), "count at \(field) \(d > 0 ? "+" : "-")1")
            }
        }
        // the payload length in the header no longer matches the file
        var g = f
        g.set64(8, g.i64(8) - 8)
        XCTAssertTrue(try XCTUnwrap(refusal(g.bytes)).contains("after the end marker"))
        g.set64(8, g.i64(8) + 16)
        XCTAssertTrue(try XCTUnwrap(refusal(g.bytes)).contains("truncated"))
    }

    /// Population records: model, size, variables, flags, parameters, names, state, counters, currents,
    /// rates, spike times and masks.
    func testPopulationFieldsAreValidated() throws {
        let f = try saved()
        let cue = f.pops[0], noise = f.pops[1], exc = f.pops[2], grid = f.pops[3]
        XCTAssertEqual(f.pops.map(\.modelName), ["spike_source", "poisson", "lif_cond_exp", "if", "if", "if", "if"])
        expectRefused(f, "population 2 'exc': unknown neuron model 'lif_cond_exq' (known: if, lif_exp") { $0.bytes[exc.model + 4 + 11] = UInt8(ascii: "q") }
        expectRefused(f, "population 2 'exc': size -1") { $0.set32(exc.header, -1) }
        expectRefused(f, "neurons need") { $0.set32(exc.header, 1 << 29) }
        var more = f
        more.set32(exc.header, 7)   // one neuron more: every later array shifts
        more.reseal()
        XCTAssertNotNil(refusal(more.bytes))
        expectRefused(f, "population 2 'exc'") { $0.set32(exc.header + 4, 2) }
        expectRefused(f, "parameters cannot be in the") { $0.set32(exc.header + 4, 1 << 20) }
        expectRefused(f, "1 data blocks (model lif_cond_exp has 0)") { $0.set32(exc.header + 8, 1) }
        expectRefused(f, "unknown flags") { $0.set32(exc.header + 12, 0x100) }
        // lif_cond_exp parameters, by name: c_m (> 0), v_th (may be +inf), t_ref_steps (whole steps)
        XCTAssertEqual(Set(exc.params.keys), ["c_m", "g_l", "e_l", "e_e", "e_i", "v_th", "v_reset", "t_ref_steps", "pe", "pi", "i_e"])
        expectRefused(f, "parameter c_m = 0 must be > 0") { $0.setF64(exc.params["c_m"]!, 0) }
        expectRefused(f, "parameter e_l = nan is NaN") { $0.setF64(exc.params["e_l"]!, .nan) }
        expectRefused(f, "parameter e_e = inf must be finite") { $0.setF64(exc.params["e_e"]!, .infinity) }
        expectRefused(f, "parameter t_ref_steps = -1 must be a whole number") { $0.setF64(exc.params["t_ref_steps"]!, -1) }
        expectRefused(f, "parameter t_ref_steps = 2.5 must be a whole number") { $0.setF64(exc.params["t_ref_steps"]!, 2.5) }
        expectRefused(f, "parameter reset_mode = 0.5 must be 0 or 1") { $0.setF64(grid.params["reset_mode"]!, 0.5) }
        expectRefused(f, "parameter p = nan is NaN") { $0.setF64(noise.params["p"]!, .nan) }
        XCTAssertNil(refusal({ var g = f; g.setF64(exc.params["v_th"]!, .infinity); g.reseal(); return g.bytes }()), "v_th may be +inf")
        // parameter names: unknown, or one given twice (g_l renamed c_m)
        expectRefused(f, "model lif_cond_exp has no parameter 'c_x'") { $0.bytes[exc.paramNames["c_m"]! + 6] = UInt8(ascii: "x") }
        expectRefused(f, "parameter c_m is given twice") { $0.bytes.replaceSubrange(exc.paramNames["g_l"]! + 4..<exc.paramNames["g_l"]! + 7, with: Array("c_m".utf8)) }
        // names become output file names
        expectRefused(f, "contains '/'") { $0.bytes[exc.start + 4] = UInt8(ascii: "/") }
        expectRefused(f, "contains a control character") { $0.bytes[exc.start + 5] = 10 }
        expectRefused(f, "the name is used by population 0 too") { $0.bytes.replaceSubrange(exc.start + 4..<exc.start + 7, with: Array("cue".utf8)) }
        // per-neuron arrays
        expectRefused(f, "state variable 'v' of neuron 3 is NaN") { $0.setF32(exc.vars[0] + 12, .nan) }
        expectRefused(f, "state variable 'g_inh' of neuron 5 is infinite") { $0.setF32(exc.vars[2] + 20, -.infinity) }
        expectRefused(f, "refractory counter of neuron 1 is negative") { $0.set32(exc.refr + 4, -3) }
        expectRefused(f, "current of neuron 2 is NaN") { $0.setF32(grid.iext + 8, .nan) }
        expectRefused(f, "the mean of neuron 3 is not finite") { $0.setF32(noise.rates! + 12, .infinity) }
        // spike source: cue's lists are [9, 19], [14], []
        XCTAssertEqual((0..<4).map { f.i64(cue.srcPtr! + 8 * $0) }, [0, 2, 3, 3])
        XCTAssertEqual((0..<3).map { f.i64(cue.srcSteps! + 8 * $0) }, [9, 19, 14])
        expectRefused(f, "the steps of neuron 0 are negative or not ascending") { $0.set64(cue.srcSteps!, 30) }
        expectRefused(f, "the steps of neuron 1 are negative or not ascending") { $0.set64(cue.srcSteps! + 16, -1) }
        expectRefused(f, "the list of neuron 0 ends before it starts") { $0.set64(cue.srcPtr! + 8, -1) }
        // neuron 0's list reaching past all spike times is caught by neuron 1's start, before any is read
        expectRefused(f, "the list of neuron 1 ends before it starts") { $0.set64(cue.srcPtr! + 8, 1000) }
        expectRefused(f, "does not start at 0") { $0.set64(cue.srcPtr!, 1) }
        expectRefused(f, "spike times: ") { $0.set64(cue.srcPtr! + 24, 1 << 40) }
        expectRefused(f, "recording mask of neuron 1 is 2") { $0.bytes[exc.mask! + 1] = 2 }
        expectRefused(f, "a recording mask without recording") { $0.set32(exc.header + 12, Int32(exc.flags) & ~2) }
        // data blocks: a name the model does not have, a count that does not fit
        expectRefused(f, "model poisson has no data block 'ratez'") { $0.bytes[noise.blocks["rates"]!.count - 8] = UInt8(ascii: "z") }
        expectRefused(f, "rates: -1 items") { $0.set64(noise.blocks["rates"]!.count, -1) }
        expectRefused(f, "set_rates: 2 rates for 4 neurons") { $0.set64(noise.blocks["rates"]!.count, 2) }
    }

    /// Projection records: populations, port, kind, delays, CSR row pointers and targets, weights and
    /// conv / pooling geometry.
    func testProjectionFieldsAreValidated() throws {
        let f = try saved()
        let sp = f.projs[0], fp = f.projs[2], cv = f.projs[3], mp = f.projs[4], dn = f.projs[5]
        expectRefused(f, "projection 0 (sparse): projection: population 9 -> 2 does not exist") { $0.set32(sp.header + 4, 9) }
        expectRefused(f, "does not exist") { $0.set32(sp.header + 8, -1) }
        expectRefused(f, "a spike source (population 0) cannot receive synapses") { $0.set32(sp.header + 8, 0) }
        expectRefused(f, "no receptor port 2") { $0.set32(sp.header + 12, 2) }
        expectRefused(f, "projection 2 (unknown kind): projection: unknown kind 7") { $0.set32(fp.header, 7) }
        expectRefused(f, "delay -1 steps is outside [0, 65535]") { $0.set32(fp.header + 16, -1) }
        expectRefused(f, "delay 70000 steps") { $0.set32(fp.header + 16, 70000) }
        expectRefused(f, "unknown flags") { $0.set32(fp.header + 64, 4) }
        expectRefused(f, "weight w0 is NaN") { $0.setF32(fp.header + 68, .nan) }
        // row pointers: every entry pushed out of order or out of bounds
        let npre = sp.npre
        for k in 0...npre {
            let v = f.i64(sp.rowptr! + 8 * k)
            var bad: [Int64] = [-1, Int64.max, Int64.min]
            if k > 0 { bad.append(f.i64(sp.rowptr! + 8 * (k - 1)) - 1) }
            // the last one is the synapse count: one more or less misaligns the arrays that follow
            if k < npre { bad.append(f.i64(sp.rowptr! + 8 * (k + 1)) + 1) } else { bad += [v + 1, v - 1] }
            for b in bad where b != v {
                var g = f
                g.set64(sp.rowptr! + 8 * k, b)
                g.reseal()
                XCTAssertNotNil(refusal(g.bytes), "row pointer \(k) = \(b)")
            }
        }
        expectRefused(f, "row pointers run from 1") { $0.set64(sp.rowptr!, 1) }
        // targets: cue 0 -> exc 1, 4; cue 1 -> exc 0, 2, 5 (rows ascending)
        XCTAssertEqual((0..<5).map { f.i32(sp.col! + 4 * $0) }, [1, 4, 0, 2, 5])
        expectRefused(f, "row 0: target 6 is out of range (the target population has 6 neurons)") { $0.set32(sp.col! + 4, 6) }
        expectRefused(f, "row 1: target -1 is out of range") { $0.set32(sp.col! + 8, -1) }
        expectRefused(f, "projection 0 (sparse): sparse projection: row 1's targets are not ascending") { g in
            g.set32(sp.col! + 8, 2); g.set32(sp.col! + 12, 0)
        }
        expectRefused(f, "synapse 3 has a delay of 0 steps") { $0.bytes[sp.delays! + 6] = 0; $0.bytes[sp.delays! + 7] = 0 }
        expectRefused(f, "weight of synapse 2 is infinite") { $0.setF32(sp.w! + 8, .infinity) }
        expectRefused(f, "projection 5 (dense): weight 7 is NaN") { $0.setF32(dn.w! + 28, .nan) }
        // conv: in 2x2x2, out 3x3x1, kernel 2x2, stride 1, padding 1 (geometry at header + 20: in_h in_w in_c out_h out_w out_c k_h k_w stride pad depthwise)
        let g = cv.header + 20
        XCTAssertEqual((0..<11).map { f.i32(g + 4 * $0) }, [2, 2, 2, 3, 3, 1, 2, 2, 1, 1, 0])
        expectRefused(f, "conv geometry: stride 0 must be in [1, 65535]") { $0.set32(g + 32, 0) }
        expectRefused(f, "output 3 x 3 does not follow from input 2 x 2, kernel 2 x 2, stride 2, padding 1 (expected 2 x 2)") { $0.set32(g + 32, 2) }
        expectRefused(f, "padding -1 must be >= 0") { $0.set32(g + 36, -1) }
        expectRefused(f, "padding 2 must be >= 0 and smaller than the kernel") { $0.set32(g + 36, 2) }
        expectRefused(f, "kernel 0 x 2") { $0.set32(g + 24, 0) }
        expectRefused(f, "in_h = -2 is outside") { $0.set32(g, -2) }
        expectRefused(f, "does not match the population sizes") { $0.set32(g + 8, 1) }   // in_c 1: 4 -> 9 neurons, pre has 8
        expectRefused(f, "depthwise needs in_c == out_c") { $0.set32(g + 40, 1) }
        expectRefused(f, "depthwise must be 0 or 1") { $0.set32(g + 40, 2) }
        expectRefused(f, "kernel weight 3 is NaN") { $0.setF32(cv.w! + 12, .nan) }
        expectRefused(f, "projection 3 (conv): no weights") { $0.set32(cv.header + 64, 0) }
        let m = mp.header + 20
        expectRefused(f, "maxpool geometry: output 2 x 2 does not follow from input 3 x 3, kernel 2 x 2, stride 1, padding 1") { $0.set32(m + 36, 1) }   // a padding the sizes do not have
        expectRefused(f, "output 2 x 2 does not follow") { $0.set32(m + 32, 2) }
        expectRefused(f, "weights on a max-pool gate") { $0.set32(mp.header + 64, 1) }
    }

    /// State monitors: population, variable, sampling interval, neuron indices, scale.
    func testMonitorFieldsAreValidated() throws {
        let f = try saved()
        let m = f.mons[0]
        expectRefused(f, "state monitor 0: state monitor: no such population") { $0.set32(m.header, 7) }
        expectRefused(f, "no such variable") { $0.set32(m.header + 4, 3) }
        expectRefused(f, "sampling interval must be >= 1 step") { $0.set32(m.header + 8, 0) }
        expectRefused(f, "neuron index out of range") { $0.set32(m.idx + 4, 6) }
        expectRefused(f, "neuron indices: -1 items") { $0.set32(m.header + 12, -1) }
        expectRefused(f, "scale is NaN") { $0.setF64(m.scale, .nan) }
        expectRefused(f, "contains '/'") { $0.bytes[m.start + 4] = UInt8(ascii: "/") }
        // and after the last monitor, the end marker
        expectRefused(f, "end: no end marker") { $0.bytes[f.end] = 0 }
    }

    /// A monitor's read-out scale follows from its population's parameters (1, or C_m / tau_m for the
    /// synaptic currents of lif_exp); a finite but different scale (fuzz saved-0048: 1e300, which
    /// neuromorph-run turned into -inf samples) is refused naming the monitor and both values, and the
    /// scale the saver writes for lif_exp currents loads.
    func testMonitorScaleMustMatchThePopulation() throws {
        let f = try saved()
        expectRefused(f, "state monitor 0: read-out scale 1e+300 does not match the population's parameters (1)") { $0.setF64(f.mons[0].scale, 1e300) }
        expectRefused(f, "read-out scale 1.001") { $0.setF64(f.mons[0].scale, 1.001) }
        expectRefused(f, "read-out scale -1") { $0.setF64(f.mons[0].scale, -1) }

        var p = LIFExpParameters()
        p.capacitance = 300; p.tauMembrane = 12   // currents read out as x * 25
        let net = Network(dt: 0.1, populations: [Population(name: "a", size: 3, model: .lifExp(p))], projections: [])
        let sim = try Simulator(CompiledNetwork(net, seed: 1))
        try sim.recordState("a", variable: "i_exc", neurons: [0, 2], everyMs: 0.1)
        try sim.recordState("a", variable: "v", neurons: [1], everyMs: 0.1)
        let path = dir.appendingPathComponent("lifexp.nmnet").path
        try sim.saveNetwork(to: path)
        let g = NetFile(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Double(bitPattern: UInt64(bitPattern: g.i64(g.mons[0].scale))), 25)
        XCTAssertEqual(Double(bitPattern: UInt64(bitPattern: g.i64(g.mons[1].scale))), 1)
        XCTAssertNil(refusal(g.bytes))
        expectRefused(g, "state monitor 0: read-out scale 1 does not match the population's parameters (25)") { $0.setF64(g.mons[0].scale, 1) }
        expectRefused(g, "state monitor 1: read-out scale 25 does not match the population's parameters (1)") { $0.setF64(g.mons[1].scale, 25) }
    }

    /// Systematically: every 4-byte word of the payload set to hostile values, and every 8-byte word
    /// (8-byte fields: dt, params, row pointers, spike times) too, each with the checksum re-sealed. The
    /// loader either refuses the file with a message naming it, or the network it builds runs 20 steps
    /// (on 1 and, every eighth time, 2 threads; ending normally or with a fault) — never a crash.
    func testHostileValuesInEveryWordNeverCrash() throws {
        let f = try saved()
        var refused = 0, loaded = 0
        func attempt(_ g: inout NetFile) {
            g.reseal()
            var err = [CChar](repeating: 0, count: 512)
            guard let e = nm_engine_load_buffer(g.bytes, g.bytes.count, "hostile.nmnet", nil, &err, err.count) else {
                refused += 1
                XCTAssertTrue(cMessage(err).hasPrefix("hostile.nmnet: "), cMessage(err))
                return
            }
            loaded += 1
            _ = nm_engine_run(e, 20, loaded % 8 == 0 ? 2 : 1)
            nm_engine_free(e)
        }
        for o in stride(from: 24, to: f.bytes.count - 8, by: 4) {
            let v = f.i32(o)
            for h in Set<Int32>([0, -1, Int32.max, Int32.min, v &+ 1]) where h != v {
                var g = f
                g.set32(o, h)
                attempt(&g)
            }
        }
        for o in stride(from: 24, to: f.bytes.count - 8, by: 8) {
            let v = f.i64(o)
            for h in Set<Int64>([-1, Int64.max, 1 << 40, v &+ 1]) where h != v {
                var g = f
                g.set64(o, h)
                attempt(&g)
            }
        }
        // both outcomes occur: structural fields refuse, values that keep the network meaningful (weights,
        // state, seed, spike times) load
        XCTAssertGreaterThan(refused, 1000, "\(refused) refused, \(loaded) loaded")
        XCTAssertGreaterThan(loaded, 500, "\(refused) refused, \(loaded) loaded")
    }

    struct Run { let status: Int32; let signaled: Bool; let out: String; let err: String }
    func run(_ tool: String, _ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let o = Pipe(), e = Pipe()
        p.standardOutput = o
        p.standardError = e
        try p.run()
        let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                   out: String(decoding: od, as: UTF8.self), err: String(decoding: ed, as: UTF8.self))
    }
    func executable(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Builds neuromorph-run from its source for the baseline x86-64-v2 instruction set (valgrind cannot
    /// decode AVX-512, which the default -march=native build uses on such machines); nil if no clang or
    /// OpenMP header is found.
    func baselineRunner() throws -> String? {
        guard let clang = executable("clang") else { return nil }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fm = FileManager.default
        var ompInclude: String?, ompLib: String?
        for llvm in ((try? fm.contentsOfDirectory(atPath: "/usr/lib")) ?? []).filter({ $0.hasPrefix("llvm-") }).sorted(by: >) {
            let lib = "/usr/lib/\(llvm)/lib"
            guard fm.fileExists(atPath: "\(lib)/libomp.so") else { continue }
            for v in ((try? fm.contentsOfDirectory(atPath: "\(lib)/clang")) ?? []) where fm.fileExists(atPath: "\(lib)/clang/\(v)/include/omp.h") {
                ompInclude = "\(lib)/clang/\(v)/include"; ompLib = lib
            }
            if ompInclude != nil { break }
        }
        guard let inc = ompInclude, let lib = ompLib else { return nil }
        let out = dir.appendingPathComponent("neuromorph-run-baseline").path
        // the runner and the C targets it links (CEngine, models included, and CCore)
        var sources = [root.appendingPathComponent("Sources/neuromorph-run/main.c").path]
        for target in ["Sources/CEngine", "Sources/CCore"] {
            let base = root.appendingPathComponent(target)
            for case let f as String in fm.enumerator(atPath: base.path)! where f.hasSuffix(".c") { sources.append(base.appendingPathComponent(f).path) }
        }
        let includes = ["Sources/CEngine/include", "Sources/CCore/include", "Sources/CEngine"].flatMap { ["-I", root.appendingPathComponent($0).path] }
        let r = try run(clang, ["-O1", "-march=x86-64-v2", "-fopenmp", "-idirafter", inc] + includes + ["-w"] + sources +
                        ["-o", out, "-L\(lib)", "-lomp", "-lgsl", "-lm"])
        XCTAssertEqual(r.status, 0, "building neuromorph-run for valgrind: \(r.err)")
        return r.status == 0 ? out : nil
    }

    /// neuromorph-run refuses corrupt files (one changed byte; crafted files with a re-sealed checksum:
    /// decreasing row pointers, an unsorted row, a wrong conv stride, an impossible population size) with
    /// exit 1 and a message naming the file, and valgrind's memcheck (--error-exitcode) finds no invalid
    /// read or write while it loads them, nor while it loads and runs the intact file.
    func testRunnerRefusesCorruptFilesCleanlyUnderValgrind() throws {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("neuromorph-run").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: runner), "neuromorph-run not built")
        let f = try saved()
        let sp = f.projs[0], cv = f.projs[3], exc = f.pops[2]
        func crafted(_ change: (inout NetFile) -> Void) -> [UInt8] { var g = f; change(&g); g.reseal(); return g.bytes }
        var flipped = f.bytes
        flipped[f.projs[1].header + 9] ^= 0x40
        let cases: [(String, [UInt8], String)] = [
            ("flipped", flipped, "checksum mismatch"),
            ("rowptr", crafted { $0.set64(sp.rowptr! + 8, 7) }, "projection 0 (sparse): row pointer 1 (7) is outside"),
            ("unsorted", crafted { $0.set32(sp.col! + 8, 2); $0.set32(sp.col! + 12, 0) }, "row 1's targets are not ascending"),
            ("stride", crafted { $0.set32(cv.header + 52, 2) }, "projection 3 (conv): conv geometry: output 3 x 3 does not follow"),
            ("size", crafted { $0.set32(exc.header, 1 << 29) }, "population 2 'exc': 536870912 neurons need"),
        ]
        var paths: [(String, String)] = []
        for (name, bytes, needle) in cases {
            let path = dir.appendingPathComponent("\(name).nmnet").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            paths.append((path, needle))
            let r = try run(runner, [path, "--duration", "0.01"])
            XCTAssertEqual(r.status, 1, "\(name): \(r.err)")
            XCTAssertTrue(r.err.contains("neuromorph-run: \(path): ") && r.err.contains(needle), "\(name): \(r.err)")
        }
        guard let valgrind = executable("valgrind") else {
            print("skipped: valgrind is not installed (the loader was not run under memcheck)")
            throw XCTSkip("valgrind is not installed")
        }
        let intact = dir.appendingPathComponent("small.nmnet").path
        func memcheck(_ tool: String, _ path: String) throws -> Run {
            try run(valgrind, ["--error-exitcode=99", "--leak-check=no", "-q", tool, path, "--duration", "0.002", "--threads", "2"])
        }
        var tool = runner
        let probe = try memcheck(tool, intact)
        if (probe.signaled && probe.status == SIGILL) || probe.err.contains("unhandled instruction") {
            print("valgrind cannot decode this build of neuromorph-run (e.g. AVX-512 from -march=native): checking a baseline build of the same source")
            guard let b = try baselineRunner() else { throw XCTSkip("valgrind cannot run this neuromorph-run build and no clang/OpenMP was found to build another") }
            tool = b
        }
        let ok = tool == runner ? probe : try memcheck(tool, intact)
        XCTAssertEqual(ok.status, 0, "the intact file under valgrind: \(ok.err)")
        XCTAssertTrue(ok.out.contains("\"spikes\""), ok.out)
        for (path, needle) in paths.dropFirst() {   // the checksum refusal reads nothing past the header: not repeated under valgrind
            let r = try memcheck(tool, path)
            XCTAssertEqual(r.status, 1, "exit 99 = memcheck found errors: \(r.err)")
            XCTAssertFalse(r.signaled, r.err)
            XCTAssertTrue(r.err.contains(needle), r.err)
            XCTAssertFalse(r.err.contains("Invalid read") || r.err.contains("Invalid write") || r.err.contains("uninitialised"), r.err)
        }
    }

    /// A --duration whose state-monitor samples cannot fit in memory (here 2.5e12 samples of 2 neurons)
    /// is refused up front as a usage error (exit 2) instead of running until an allocation fails.
    func testRunnerRefusesADurationWhoseSamplesCannotFit() throws {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("neuromorph-run").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: runner), "neuromorph-run not built")
        _ = try saved()
        let path = dir.appendingPathComponent("small.nmnet").path
        let r = try run(runner, [path, "--duration", "1e9"])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertTrue(r.err.contains("--duration 1e+09 s: the state monitors of \(path) would need"), r.err)
        XCTAssertEqual(try run(runner, [path, "--duration", "0.005"]).status, 0)
    }

    /// API misuse fails with nm_engine_error instead of crashing: the same checks guard the C API.
    func testEngineAPIRefusesInconsistentDescriptions() throws {
        let e = try XCTUnwrap(nm_engine_new(0.1, 1))
        defer { nm_engine_free(e) }   // runs after the borrowed arrays below are freed: freeing reads none of them
        func err() -> String { String(cString: nm_engine_error(e)) }
        var ifp: [(String, Double)] = [("v_th", 1), ("v_reset", 0), ("reset_mode", 1), ("current_scale", 0.1), ("i_e", 0), ("t_ref_steps", 0), ("v_min", -.infinity)]
        XCTAssertEqual(addPop(e, "nope", 10, ifp), -1); XCTAssertTrue(err().contains("unknown neuron model 'nope' (known: if, lif_exp"), err())
        XCTAssertEqual(addPop(e, "if", -5, ifp), -1); XCTAssertTrue(err().contains("size -5"))
        XCTAssertEqual(addPop(e, "if", 10, Array(ifp.prefix(3))), -1); XCTAssertTrue(err().contains("model if: parameter current_scale (mV/pA) is missing"), err())
        XCTAssertEqual(nm_engine_add_pop(e, "if", 10, 7, nil, nil), -1); XCTAssertTrue(err().contains("no parameters given"))
        XCTAssertEqual(addPop(e, "if", 10, ifp + [("v_th", 2)]), -1); XCTAssertTrue(err().contains("parameter v_th is given twice"), err())
        XCTAssertEqual(addPop(e, "if", 10, ifp + [("tau", 2)]), -1); XCTAssertTrue(err().contains("model if has no parameter 'tau'"), err())
        ifp[3].1 = .nan
        XCTAssertEqual(addPop(e, "if", 10, ifp), -1); XCTAssertTrue(err().contains("current_scale = nan is NaN"))
        ifp[3].1 = 0.1
        XCTAssertEqual(addPop(e, "if", 16, ifp.reversed()), 0)   // 4 x 4 x 1 (parameters in any order)
        XCTAssertEqual(addPop(e, "if", 9, ifp), 1)    // 3 x 3 x 1
        XCTAssertEqual(nm_engine_record_spikes(e, 5, nil), -1)
        XCTAssertEqual(nm_engine_record_counts(e, -1), -1)
        XCTAssertEqual(nm_engine_add_state_monitor(e, 2, 0, [0], 1, 1), -1); XCTAssertTrue(err().contains("no such population"))
        XCTAssertEqual(nm_pop_set_rates(e, 9, nil), -1)

        // projection arrays are borrowed by the engine: they live until it is freed
        var borrowed: [UnsafeMutableRawPointer] = []
        defer { borrowed.forEach { free($0) } }
        func keep<T>(_ a: [T]) -> UnsafePointer<T> {
            let p = malloc(MemoryLayout<T>.stride * max(a.count, 1))!
            borrowed.append(p)
            let t = p.bindMemory(to: T.self, capacity: max(a.count, 1))
            for (k, x) in a.enumerated() { t[k] = x }
            return UnsafePointer(t)
        }
        var rp: [Int64] = Array(0...16), col = [Int32](repeating: 0, count: 16)
        func sparse(_ rp: [Int64], _ col: [Int32]) -> Int32 {
            var d = nm_proj_desc()
            d.kind = Int32(NM_PROJ_SPARSE.rawValue); d.pre = 0; d.post = 1; d.delay = 1; d.w0 = 1
            d.rowptr = keep(rp); d.col = keep(col)
            return nm_engine_add_proj(e, &d)
        }
        rp[5] = 3
        XCTAssertEqual(sparse(rp, col), -1); XCTAssertTrue(err().contains("row pointer 5 (3) is smaller than row pointer 4 (4)"), err())
        rp = Array(0...16); col[7] = 9
        XCTAssertEqual(sparse(rp, col), -1); XCTAssertTrue(err().contains("row 7: target 9 is out of range"), err())
        rp = [0, 2] + [Int64](repeating: 2, count: 15); col = [3, 1]
        XCTAssertEqual(sparse(rp, col), -1); XCTAssertTrue(err().contains("row 0's targets are not ascending"), err())
        col = [1, 3]
        XCTAssertEqual(sparse(rp, col), 0)

        let kernel = keep([Float](repeating: 0.25, count: 4))
        func conv(_ change: (inout nm_proj_desc) -> Void) -> Int32 {
            var d = nm_proj_desc()
            d.kind = Int32(NM_PROJ_CONV.rawValue); d.pre = 0; d.post = 1; d.delay = 1; d.w = kernel
            d.in_h = 4; d.in_w = 4; d.in_c = 1; d.out_h = 3; d.out_w = 3; d.out_c = 1; d.k_h = 2; d.k_w = 2; d.stride = 1
            change(&d)
            return nm_engine_add_proj(e, &d)
        }
        XCTAssertEqual(conv { $0.stride = 2 }, -1); XCTAssertTrue(err().contains("(expected 2 x 2)"), err())
        XCTAssertEqual(conv { $0.stride = 0 }, -1)
        XCTAssertEqual(conv { $0.pad = -1 }, -1)
        XCTAssertEqual(conv { $0.k_h = 3 }, -1)
        XCTAssertEqual(conv { $0.delay = -1 }, -1)
        XCTAssertEqual(conv { $0.pre = 7 }, -1)
        XCTAssertEqual(conv { $0.port = 1 }, -1); XCTAssertTrue(err().contains("no receptor port 1"), err())
        XCTAssertEqual(conv { _ in }, 1)
        XCTAssertEqual(nm_proj_synapses(e, 1), 9 * 4, "every output pixel sees a whole 2 x 2 window")
        XCTAssertEqual(nm_engine_run(e, 10, 2), 0, err())
    }

    /// Conv connection counts (borders included) against a direct count over every output pixel and
    /// kernel position.
    func testConvSynapseCountsMatchADirectCount() throws {
        for (inH, inW, k, s, pad, ic, oc) in [(2, 2, 2, 1, 1, 2, 1), (5, 7, 3, 2, 1, 1, 3), (6, 6, 2, 2, 0, 4, 4), (9, 4, 4, 3, 3, 2, 2)] {
            let outH = (inH + 2 * pad - k) / s + 1, outW = (inW + 2 * pad - k) / s + 1
            var direct = 0
            for oy in 0..<outH { for ox in 0..<outW { for ky in 0..<k { for kx in 0..<k {
                let y = oy * s + ky - pad, x = ox * s + kx - pad
                if y >= 0, y < inH, x >= 0, x < inW { direct += 1 }
            } } } }
            let e = try XCTUnwrap(nm_engine_new(1, 1))
            defer { nm_engine_free(e) }
            let ifp: [(String, Double)] = [("v_th", 1), ("v_reset", 0), ("reset_mode", 1), ("current_scale", 1), ("i_e", 0), ("t_ref_steps", 0), ("v_min", -.infinity)]
            XCTAssertEqual(addPop(e, "if", Int32(inH * inW * ic), ifp), 0)
            XCTAssertEqual(addPop(e, "if", Int32(outH * outW * oc), ifp), 1)
            let kernel = [Float](repeating: 1, count: k * k * ic * oc)
            let j = kernel.withUnsafeBufferPointer { kp in
                var d = nm_proj_desc()
                d.kind = Int32(NM_PROJ_CONV.rawValue); d.pre = 0; d.post = 1; d.delay = 1; d.w = kp.baseAddress
                d.in_h = Int32(inH); d.in_w = Int32(inW); d.in_c = Int32(ic); d.out_h = Int32(outH); d.out_w = Int32(outW); d.out_c = Int32(oc)
                d.k_h = Int32(k); d.k_w = Int32(k); d.stride = Int32(s); d.pad = Int32(pad)
                return nm_engine_add_proj(e, &d)   // counted here; the engine is freed before the kernel
            }
            XCTAssertEqual(j, 0, String(cString: nm_engine_error(e)))
            XCTAssertEqual(nm_proj_synapses(e, 0), Int64(direct * ic * oc), "\(inH)x\(inW) k \(k) s \(s) pad \(pad)")
        }
    }
}

/// nm_engine_add_pop with (name, value) pairs.
func addPop(_ e: OpaquePointer, _ model: String, _ n: Int32, _ params: [(String, Double)]) -> Int32 {
    let names = params.map { UnsafePointer<CChar>(strdup($0.0)) }
    defer { names.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
    return nm_engine_add_pop(e, model, n, Int32(params.count), names, params.map(\.1))
}
