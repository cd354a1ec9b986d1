import Foundation
import XCTest
@testable import SNN

/// An IF population whose spikes nobody reads as a list (one thread, every consumer delivered from spike
/// bits, no recording) only counts its spikes in its update, in total and per neuron (snn_run.c,
/// P->no_list; models/if.c). A max-pool gate reads those per-neuron counts: its source unrecorded on one
/// thread (no list, counts kept by the update) must give the same gate output, events, spike total and
/// per-neuron counts as the same run recorded (the list, counts kept by the run loop) and as 3 threads,
/// and the counts must equal those of the recorded spike train, on every vector path. Sizes not a
/// multiple of 16 channels x 4 pixels leave a partial block at the end of the source.
final class UnlistedSpikeCountTests: XCTestCase {
    func testUnlistedCountsEqualListedOnes() throws {
        for (h, w, channels) in [(9, 8, 16), (7, 5, 32)] {
            let g = ConvGeometry(inHeight: h, inWidth: w, inChannels: channels, outChannels: channels,
                                 kernelHeight: 2, kernelWidth: 2, stride: 2, depthwise: true)
            var rng: UInt64 = UInt64(h * 100 + channels)
            func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
            var src = IFParameters(); src.threshold = 1
            var store = IFParameters(); store.threshold = 1e9
            let drive = (0..<g.inputSize).map { _ in Float(next() % 16) / 16 }
            let net = Network(dt: 1, populations: [
                Population(name: "src", size: g.inputSize, model: .integrateAndFire(src)),
                Population(name: "pool", size: g.outputSize, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
            ], projections: [Projection(pre: "src", post: "pool", kind: .maxPool(g), weight: .constant(1), delay: .constant(0))])
            try onEveryPath("unlisted counts") { path in
                var results: [(v: [Float], events: Int64, total: Int64, counts: [Int32])] = []
                var train: SpikeTrain? = nil
                for (threads, record) in [(1, true), (1, false), (3, false)] {
                    let sim = try drivenSim(net, drive: drive, record: record)
                    try sim.run(steps: 30, threads: threads)
                    if record { train = sim.spikes("src") }
                    results.append((Array(sim.state(population: 1, variable: 0)), sim.synapticEvents(projection: 0),
                                    sim.spikeCount(population: 0), Array(sim.spikeCounts(population: 0))))
                }
                var counts = [Int32](repeating: 0, count: g.inputSize)
                for id in train!.ids { counts[Int(id)] += 1 }
                XCTAssertGreaterThan(train!.count, g.inputSize, "\(g): the source fires")
                for (k, r) in results.enumerated() {
                    XCTAssertEqual(r.counts, counts, "\(g), \(path), run \(k): per-neuron counts")
                    XCTAssertEqual(r.total, Int64(train!.count), "\(g), \(path), run \(k): total")
                    XCTAssertEqual(r.v, results[0].v, "\(g), \(path), run \(k): gate output")
                    XCTAssertEqual(r.events, results[0].events, "\(g), \(path), run \(k): events")
                }
            }
        }
    }
}
