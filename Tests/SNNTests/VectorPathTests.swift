import CCore
import CEngine
import Foundation
import XCTest
@testable import SNN

/// Runs `body` once on every vector path this CPU supports (the path switched in-process, restored
/// after); prints the paths it had to skip.
func onEveryPath(_ what: String, _ body: (String) throws -> Void) throws {
    let skipped = VectorPath.all.filter { !VectorPath.available.contains($0) }
    if !skipped.isEmpty {
        print("\(what): skipped vector paths \(skipped.joined(separator: ", ")) (this CPU, \(VectorPath.cpuModel), lacks them)")
    }
    for path in VectorPath.available { try VectorPath.with(path) { try body(path) } }
}

/// An instance of another test class whose test methods a test calls directly (their failures are
/// recorded on the running test).
func testCase<T: XCTestCase>(_ type: T.Type) -> T { T(name: "\(T.self)", testClosure: { _ in }) }

/// The vector paths (nm_isa.h): each primitive against its scalar definition on every path; the
/// engine's golden raster, thread determinism and delivery tests on every path; every vectorized model
/// bit-identical across paths and thread counts; choosing a path.
final class VectorPathTests: XCTestCase {
    // MARK: primitives against their scalar definitions

    /// The vector exp equals the scalar definition (nm_expf) bit for bit on every path: a dense sweep,
    /// the clamps, infinities, and the points where the range reduction's floor changes (x log2(e) + 1/2
    /// an integer, and the floats either side). 20011 values: not a multiple of 16 (the tail).
    func testFastExpEqualsScalarDefinition() throws {
        var xs: [Float] = stride(from: Float(-100), to: 100, by: 0.0113).map { $0 }
        xs += [-87, 88, -87.00001, 88.00001, 0, -0.0, 1e-30, -1e-30, .infinity, -.infinity, .leastNonzeroMagnitude]
        for k in -126...127 {
            let x = (Float(k) - 0.5) / 1.44269504088896341
            xs += [x, x.nextUp, x.nextDown]
        }
        var rng: UInt64 = 3
        while xs.count < 20011 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            xs.append(Float(Int64(bitPattern: rng >> 11) % 2_000_000) / 10_000)
        }
        xs = Array(xs.prefix(20011))
        let want = xs.map { nm_expf($0).bitPattern }
        try onEveryPath("exp") { path in
            var y = [Float](repeating: .nan, count: xs.count)
            nm_vec_exp(xs, &y, xs.count)
            let bad = (0..<xs.count).filter { y[$0].bitPattern != want[$0] }
            XCTAssertEqual(bad.count, 0, "\(path): first mismatch at x = \(bad.first.map { xs[$0] } ?? 0)")
            var nanOut: Float = 0
            nm_vec_exp([Float.nan], &nanOut, 1)
            XCTAssertTrue(nanOut.isNaN, path)
        }
        // and the definition itself is exp to 4e-7 relative where it does not clamp
        for x in xs where abs(x) < 80 {
            XCTAssertEqual(Double(nm_expf(x)), exp(Double(x)), accuracy: 4e-7 * exp(Double(x)))
        }
    }

    /// Compare masks as bits and their compaction into indices equal a plain loop, for lengths around
    /// the 16-lane block and thresholds that select none, few, many and all, and for every 16-bit mask.
    func testCompactionAndMaskBitsEqualPlainLoop() throws {
        var rng: UInt64 = 9
        let x: [Float] = (0..<1037).map { _ in rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Float(rng >> 40) / Float(1 << 24) }
        var all = [Float](repeating: 0, count: 16 << 16), allWant: [Int32] = []
        for i in 0..<all.count where (i >> 4) >> (i & 15) & 1 == 1 { all[i] = 1; allWant.append(Int32(i)) }
        try onEveryPath("compaction") { path in
            for n in [0, 1, 15, 16, 17, 64, 1000, 1037] {
                for th: Float in [2, 0.97, 0.5, 0] {
                    let want = (0..<n).filter { x[$0] >= th }.map { Int32($0) }
                    var wantBits = [UInt16](repeating: 0, count: (n + 15) / 16)
                    for i in want { wantBits[Int(i) / 16] |= UInt16(1) << (UInt16(i) % 16) }
                    var out = [Int32](repeating: -1, count: n + 16)
                    var bits = [UInt16](repeating: 0xABCD, count: (n + 15) / 16 + 1)
                    let c = nm_vec_compact_ge(x, n, th, &out, &bits)
                    XCTAssertEqual(Array(out.prefix(c)), want, "\(path) n \(n) threshold \(th)")
                    XCTAssertEqual(Array(bits.prefix(wantBits.count)), wantBits, "\(path) n \(n) threshold \(th)")
                }
            }
            // every 16-bit mask once: block b spikes where b has bits
            var out = [Int32](repeating: -1, count: all.count + 16)
            var bits = [UInt16](repeating: 0, count: 1 << 16)
            XCTAssertEqual(nm_vec_compact_ge(all, all.count, 0.5, &out, &bits), allWant.count, path)
            XCTAssertTrue(Array(out.prefix(allWant.count)) == allWant, "\(path): compaction of every mask")
            XCTAssertTrue(bits.enumerated().allSatisfy { Int($0.element) == $0.offset }, "\(path): mask bits of every mask")
        }
    }

    /// A select between acc + w and acc by mask bits equals the scalar addition where the bit is set,
    /// bit for bit, and counts the bits used (lanes past n ignored).
    func testMaskedAddEqualsPlainLoop() throws {
        var rng: UInt64 = 21
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 20 }
        let n = 1037
        let acc0 = (0..<n).map { _ in Float(Int(next() % 20001) - 10000) / 977 }
        let w = (0..<n).map { _ in Float(Int(next() % 20001) - 10000) / 131 }
        let bits = (0..<(n + 15) / 16).map { _ in UInt16(truncatingIfNeeded: next()) }
        var want = acc0, used = 0
        for i in 0..<n where bits[i / 16] & (1 << (i % 16)) != 0 { want[i] = acc0[i] + w[i]; used += 1 }
        try onEveryPath("masked add") { path in
            var acc = acc0
            XCTAssertEqual(nm_vec_masked_add(&acc, w, bits, n), used, path)
            XCTAssertEqual(acc.map(\.bitPattern), want.map(\.bitPattern), path)
        }
    }

    // MARK: choosing a path

    /// The best path comes first and baseline last; names are checked; a path the CPU lacks (emulated by
    /// capping the CPU at baseline) is refused with the reason, and the path stays as it was.
    func testSelectingPaths() throws {
        let avail = VectorPath.available
        XCTAssertEqual(avail.first, String(cString: nm_isa_best()))
        XCTAssertEqual(avail.last, "baseline")
        XCTAssertEqual(VectorPath.current, avail.first, "the default is the best path (NM_ISA unset in tests)")
        XCTAssertFalse(VectorPath.cpuModel.isEmpty)
        XCTAssertThrowsError(try VectorPath.select("avx1024")) {
            XCTAssertEqual("\($0)", "'avx1024' is not a vector path: expected avx512, avx2, baseline (or scalar, the same) or auto")
        }
        XCTAssertEqual(VectorPath.current, avail.first)
        try VectorPath.with("scalar") { XCTAssertEqual(VectorPath.current, "baseline") }
        XCTAssertEqual(VectorPath.current, avail.first, "restored")
        XCTAssertEqual(nm_isa_supported("bogus"), -1)
        XCTAssertEqual(nm_isa_supported("baseline"), 1)
        // a CPU without AVX2
        XCTAssertEqual(nm_isa_limit_cpu("baseline"), 0)
        defer { _ = nm_isa_limit_cpu("auto") }
        XCTAssertEqual(VectorPath.available, ["baseline"])
        XCTAssertEqual(VectorPath.current, "baseline")
        XCTAssertEqual(nm_isa_supported("avx2"), 0)
        XCTAssertThrowsError(try VectorPath.select("avx2")) {
            XCTAssertTrue("\($0)".contains("cannot run the avx2 path, which needs AVX2, BMI1, BMI2 and POPCNT; paths available here: baseline"), "\($0)")
        }
        XCTAssertEqual(VectorPath.current, "baseline")
        XCTAssertEqual(nm_isa_limit_cpu("auto"), 0)
        XCTAssertEqual(VectorPath.available, avail)
        try VectorPath.select("auto")
        XCTAssertEqual(VectorPath.current, avail.first)
    }

    // MARK: the engine on every path

    /// The golden raster (exact spike count and checksum), 1 vs 2 vs 3 threads, runs in pieces, peer
    /// traces and closed forms, and conv/pooling/dense delivery against direct sums: the existing tests,
    /// once per path.
    func testEngineTestsPassOnEveryPath() throws {
        try onEveryPath("engine tests") { path in
            let net = testCase(NetworkTests.self), sp = testCase(StructuredProjectionTests.self)
            let lif = testCase(LIFDynamicsTests.self), peer = testCase(PeerReferenceTests.self)
            try net.testGoldenRaster()
            try net.testDeterministicAcrossThreadCounts()
            try net.testRunInPiecesEqualsOneRun()
            try net.testSynapticEventsEqualSpikesTimesFanout()
            try sp.testConvDeliveryMatchesDirectConvolution()
            try sp.testPoolingDeliveryMatchesDirectSumOnAnyThreadCount()
            try sp.testStructuredProjectionsDeterministicAcrossThreads()
            try sp.testMaxPoolGateFollowsMostActiveSource()
            try lif.testLIFExpMembraneMatchesClosedForm()
            try lif.testCondExpRelaxationMatchesClosedForm()
            try lif.testFICurveMatchesAnalyticRate()
            try lif.testIFRateEqualsInputOverThreshold()
            try lif.testIFResetModes()
            try peer.testLIFExpMatchesNESTConstantCurrent()
            try peer.testLIFExpMatchesNESTSpikeInput()
            try peer.testCondExpMatchesBrian2ExponentialEuler()
            try peer.testIzhikevichMatchesNEST()
            try peer.testHHMatchesBrian2COBAHH()
        }
    }

    /// Every model the kernels vectorize (IF with and without refractoriness, input buffer, lower bound
    /// and external current; LIF exp with and without a current array; cond exp including conductances
    /// large enough for the exact phi branch; Izhikevich; HH), sizes that leave partial 16-lane blocks and
    /// split across threads: spikes, every state variable, refractory counters and event counts are
    /// bit-identical on every path and on 1 and 3 threads.
    func testEveryModelBitIdenticalAcrossPathsAndThreads() throws {
        var ifr = IFParameters(); ifr.threshold = 1; ifr.refractoryPeriod = 2; ifr.lowerBound = -1
        var ifs = IFParameters(); ifs.threshold = 1; ifs.resetBySubtraction = false; ifs.resetPotential = -0.25
        var cur = IFParameters(); cur.threshold = 1; cur.biasCurrent = 0.2
        let lif = LIFExpParameters()
        var big = LIFCondExpParameters(); big.capacitance = 200; big.threshold = -50; big.tauExc = 2
        let sizes = [("if_refr", 131, NeuronModel.integrateAndFire(ifr)), ("if_sub", 77, .integrateAndFire(ifs)),
                     ("if_current", 93, .integrateAndFire(cur)), ("lif", 150, .lifExp(lif)), ("lif_i", 70, .lifExp(lif)),
                     ("cond", 141, .lifCondExp(big)), ("izh", 85, .izhikevich(IzhikevichParameters())),
                     ("hh", 99, .hodgkinHuxley(HHParameters()))]
        var pops = [Population(name: "in", size: 300, model: .poisson(rateHz: 400))]
        var projs: [Projection] = []
        for (name, n, model) in sizes {
            let v0: [String: Distribution] = switch model.name {
            case "if": ["v": .uniform(low: -0.5, high: 0.9)]
            case "lif_exp", "lif_cond_exp": ["v": .uniform(low: -70, high: -52)]
            case "izhikevich": ["v": .uniform(low: -70, high: -60)]
            default: [:]
            }
            pops.append(Population(name: name, size: n, model: model, initial: v0))
            if name == "if_current" { continue }   // driven by its current only (no ring buffer)
            let w: (Distribution, Distribution) = switch model.name {
            case "if": (.uniform(low: -0.4, high: 0.5), .constant(0))
            case "lif_exp": (.uniform(low: 0.5, high: 3), .constant(-2))
            case "lif_cond_exp": (.uniform(low: 5, high: 400), .constant(50))   // g_e up to ~2000 nS: a = dt g/C ~ 1
            case "izhikevich": (.uniform(low: 2, high: 8), .constant(0))
            default: (.uniform(low: 2, high: 9), .constant(20))
            }
            projs.append(Projection(pre: "in", post: name, kind: .sparse(.fixedIndegree(12)), weight: w.0, delay: .uniform(low: 0.1, high: 1)))
            if model.receptors.count > 1 {
                projs.append(Projection(pre: "in", post: name, receptor: .inhibitory, kind: .sparse(.fixedIndegree(4)), weight: w.1, delay: .constant(0.3)))
            }
        }
        projs.append(Projection(pre: "if_refr", post: "if_sub", kind: .sparse(.fixedProbability(0.2)), weight: .constant(0.2), delay: .constant(0.1)))
        let net = Network(dt: 0.1, populations: pops, projections: projs)

        struct Outcome: Equatable { var spikes: [SpikeTrain]; var states: [[UInt32]]; var events: [Int64]; var maxCondA: Float }
        func run(threads: Int) throws -> Outcome {
            let sim = try Simulator(CompiledNetwork(net, seed: 31))
            for p in net.populations { try sim.recordSpikes(p.name) }
            let gmon = try sim.recordState("cond", variable: "g_exc", neurons: Array(0..<141), everyMs: 0.1)
            for name in ["if_current", "lif_i"] {   // per-neuron external currents (mV/step for IF, pA for LIF)
                let i = net.populationIndex(name)!
                let c = sim.externalCurrent(population: i)
                for q in 0..<c.count { c[q] = name == "lif_i" ? Float(300 + 3 * q) : Float(q % 7) * 0.05 }
            }
            try sim.run(milliseconds: 150, threads: threads)
            var states: [[UInt32]] = []
            for (i, p) in net.populations.enumerated() where !p.model.isSource {
                for v in 0..<p.model.variables.count { states.append(sim.state(population: i, variable: v).map(\.bitPattern)) }
                states.append(nm_pop_refractory(sim.engine, Int32(i)).withMemoryRebound(to: UInt32.self, capacity: p.size) { Array(UnsafeBufferPointer(start: $0, count: p.size)) })
            }
            let gmax = sim.trace(gmon).values.joined().max() ?? 0
            return Outcome(spikes: net.populations.map { sim.spikes($0.name) }, states: states,
                           events: (0..<net.projections.count).map { sim.synapticEvents(projection: $0) },
                           maxCondA: gmax * Float(net.dt / big.capacitance))
        }
        var reference: Outcome?
        try onEveryPath("every model") { path in
            for threads in [1, 3] {
                let o = try run(threads: threads)
                if let r = reference {
                    XCTAssertEqual(o.spikes, r.spikes, "\(path), \(threads) threads: spikes")
                    XCTAssertEqual(o.states, r.states, "\(path), \(threads) threads: states")
                    XCTAssertEqual(o.events, r.events, "\(path), \(threads) threads: events")
                } else {
                    reference = o
                    for (k, (name, _, _)) in sizes.enumerated() { XCTAssertGreaterThan(o.spikes[k + 1].count, 20, "\(name) should spike") }
                    XCTAssertGreaterThan(o.maxCondA, 0.5, "cond exp should reach the exact phi branch (a >= 0.5)")
                }
            }
        }
    }
}
