import XCTest
@testable import SNN

/// Dense delivery adds, per target, the documented sum (snn_deliver_dense.c): the rows of the step's spikes
/// summed in spike order from 0, then added to the target once — checked bit for bit in Float for widths
/// that take 64- and 16-target blocks and the last-fewer-than-16 form (alone and after blocks), with the
/// matrix's last row among the spikes (the form's guarded read), on every vector path and 1 and 3 threads.
final class DenseDeliveryOrderTests: XCTestCase {
    func testDenseDeliveryEqualsDocumentedSumBitForBit() throws {
        var rng: UInt64 = 5
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        for (npre, npost) in [(37, 10), (50, 3), (41, 26), (29, 85), (64, 15)] {
            // weights of several magnitudes, so that the order of additions shows in the last bits
            let w = (0..<(npre * npost)).map { _ in Float(Int(next() % 200001) - 100000) / 997 * (next() % 4 == 0 ? 1e-3 : 1) }
            var fires = (0..<npre).map { _ in next() % 100 < 40 }
            fires[npre - 1] = true
            var want = [Float](repeating: 0, count: npost)
            for t in 0..<npost {
                var a: Float = 0
                for s in 0..<npre where fires[s] { a += w[s * npost + t] }
                want[t] = 0 + a
            }
            var store = IFParameters(); store.threshold = 1e9   // never fires: v holds the delivered sum
            let net = Network(dt: 1, populations: [
                Population(name: "in", size: npre, model: .spikeSource(times: fires.map { $0 ? [1.0] : [] })),
                Population(name: "out", size: npost, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
            ], projections: [Projection(pre: "in", post: "out", kind: .dense(weights: w), delay: .constant(0))])
            try onEveryPath("dense order") { path in
                for threads in [1, 3] {
                    let sim = try Simulator(CompiledNetwork(net, seed: 1))
                    try sim.run(steps: 3, threads: threads)
                    let v = Array(sim.state(population: 1, variable: 0))
                    XCTAssertEqual(v.map(\.bitPattern), want.map(\.bitPattern), "\(npre)x\(npost), \(path), \(threads) threads")
                    XCTAssertEqual(sim.synapticEvents(projection: 0), Int64(fires.filter { $0 }.count * npost))
                }
            }
        }
    }
}
