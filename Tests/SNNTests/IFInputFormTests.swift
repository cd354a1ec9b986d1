import CEngine
import XCTest
@testable import SNN

/// How an IF population reads its inputs and its external current (models/if.c), bit for bit in Float on
/// every vector path and 1 and 3 threads:
/// - with only zero-delay projections onto it and t_ref = 0, each projection's sum is added to v as it
///   arrives, v <- (v + S_a) + S_b, instead of v + (0 + S_a + S_b) from a ring buffer (t_ref > 0 keeps
///   the ring buffer: inputs must be dropped while refractory);
/// - an external current that repeats with a period of 16..256 neurons is read as one table, giving the
///   very values of the per-neuron form, and any neuron that breaks the period turns the table off.
final class IFInputFormTests: XCTestCase {
    /// Two dense projections (delay 0) from two spike sources onto 70 IF neurons whose v starts at
    /// values of several magnitudes: v after the run is (v0 + S_a) + S_b, S = 0 + the rows of the
    /// source's spikes in spike order (snn_deliver_dense.c); with t_ref > 0, v0 + ((0 + S_a) + S_b).
    func testInputsAddedToVAsTheyArriveUnlessRefractoryDropsThem() throws {
        var rng: UInt64 = 11
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        func value() -> Float { Float(Int(next() % 200001) - 100000) / 997 * (next() % 3 == 0 ? 1e-3 : 1) }
        let (na, nb, npost) = (23, 19, 70)
        let wa = (0..<(na * npost)).map { _ in value() }, wb = (0..<(nb * npost)).map { _ in value() }
        let fa = (0..<na).map { _ in next() % 100 < 50 }, fb = (0..<nb).map { _ in next() % 100 < 50 }
        let v0 = (0..<npost).map { _ in value() * 10 + 0.5 }   // no -0.0 (v + 0 would make it +0.0)
        func rowSum(_ w: [Float], _ fires: [Bool], _ t: Int) -> Float {
            var s: Float = 0
            for i in fires.indices where fires[i] { s += w[i * npost + t] }
            return s
        }
        let sa = (0..<npost).map { rowSum(wa, fa, $0) }, sb = (0..<npost).map { rowSum(wb, fb, $0) }
        let direct = (0..<npost).map { (v0[$0] + sa[$0]) + sb[$0] }
        let ring = (0..<npost).map { v0[$0] + ((0 + sa[$0]) + sb[$0]) }
        XCTAssertGreaterThan(zip(direct, ring).filter { $0.bitPattern != $1.bitPattern }.count, 5,
                             "the two orders must differ somewhere, or this test could not tell them apart")
        for (refractory, want, form) in [(0.0, direct, Int32(1)), (2.0, ring, Int32(0))] {
            var p = IFParameters(); p.threshold = 1e9; p.refractoryPeriod = refractory
            let net = Network(dt: 1, populations: [
                Population(name: "a", size: na, model: .spikeSource(times: fa.map { $0 ? [1.0] : [] })),
                Population(name: "b", size: nb, model: .spikeSource(times: fb.map { $0 ? [1.0] : [] })),
                Population(name: "out", size: npost, model: .integrateAndFire(p), initial: ["v": .constant(0)]),
            ], projections: [
                Projection(pre: "a", post: "out", kind: .dense(weights: wa), delay: .constant(0)),
                Projection(pre: "b", post: "out", kind: .dense(weights: wb), delay: .constant(0)),
            ])
            try onEveryPath("IF input order") { path in
                for threads in [1, 3] {
                    let sim = try Simulator(CompiledNetwork(net, seed: 1))
                    let v = sim.state(population: 2, variable: 0)
                    for q in 0..<npost { v[q] = v0[q] }
                    try sim.run(steps: 3, threads: threads)
                    XCTAssertEqual(nm_pop_input_form(sim.engine, 2) & 1, form, "t_ref \(refractory)")
                    let got = Array(sim.state(population: 2, variable: 0))
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "t_ref \(refractory), \(path), \(threads) threads")
                }
            }
        }
    }

    /// 200 IF neurons without inputs, I_e and C_m not 1, an external current with period 48 (3 threads
    /// start at neurons 64 and 128: inside a period): v after two steps is (v0 + c_i) + c_i with
    /// c_i = (I_e + I_ext,i) dt/C in Float, per neuron, whether the run reads a table (period found) or
    /// not (one neuron in the middle or the last one breaks the period; a current never handed out is
    /// zero: period 16, or none below 16 neurons).
    func testPeriodicCurrentGivesThePerNeuronValues() throws {
        let n = 200
        var p = IFParameters(); p.threshold = 1e9; p.biasCurrent = 0.3; p.capacitance = 0.7
        let net = Network(dt: 1, populations: [
            Population(name: "l", size: n, model: .integrateAndFire(p), initial: ["v": .constant(0)]),
        ], projections: [])
        let i0 = Float(p.biasCurrent), cs = Float(1 / p.capacitance)
        let table = (0..<48).map { Float($0 * 37 % 48) * 0.173 - 3.1 }
        var middle = (0..<n).map { table[$0 % 48] }; middle[100] += 0.25
        var last = (0..<n).map { table[$0 % 48] }; last[n - 1] = -last[n - 1]
        let cases: [(String, [Float]?, Int32)] = [
            ("periodic", (0..<n).map { table[$0 % 48] }, 48), ("middle differs", middle, 0), ("last differs", last, 0),
            ("never set", nil, 16),
        ]
        let v0 = (0..<n).map { Float($0 % 7) * 0.61 + 0.2 }
        for (what, current, period) in cases {
            let ie = current ?? [Float](repeating: 0, count: n)
            let want = (0..<n).map { q -> Float in
                let c = (i0 + ie[q]) * cs
                return (v0[q] + c) + c
            }
            try onEveryPath("IF periodic current") { path in
                for threads in [1, 3] {
                    let sim = try Simulator(CompiledNetwork(net, seed: 1))
                    let v = sim.state(population: 0, variable: 0)
                    for q in 0..<n { v[q] = v0[q] }
                    if let current {
                        let ext = sim.externalCurrent(population: 0)
                        for q in 0..<n { ext[q] = current[q] }
                    }
                    try sim.run(steps: 2, threads: threads)
                    XCTAssertEqual(nm_pop_input_form(sim.engine, 0) >> 8, period, what)
                    let got = Array(sim.state(population: 0, variable: 0))
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(what), \(path), \(threads) threads")
                }
            }
        }
        // fewer than 16 neurons and no current handed out: no table (it would be read past the array)
        let tiny = Network(dt: 1, populations: [Population(name: "t", size: 10, model: .integrateAndFire(p), initial: ["v": .constant(0)])],
                           projections: [])
        let sim = try Simulator(CompiledNetwork(tiny, seed: 1))
        try sim.run(steps: 2, threads: 1)
        XCTAssertEqual(nm_pop_input_form(sim.engine, 0) >> 8, 0)
        let c = (i0 + 0) * cs
        XCTAssertEqual(Array(sim.state(population: 0, variable: 0)).map(\.bitPattern), [Float](repeating: (0 + c) + c, count: 10).map(\.bitPattern))
    }
}
