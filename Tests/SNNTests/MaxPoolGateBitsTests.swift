import Foundation
import XCTest
@testable import SNN

/// Same-step max-pool gates over non-overlapping windows of whole 16-channel blocks from IF neurons are
/// delivered target-major from the source's spike bits on one thread (snn_deliver_maxpool.c) and from
/// the spike list on several. Both equal the gate rule replayed here from the recorded spikes (a spike
/// passes iff its neuron is the first of its window with the highest count so far, this step's spikes
/// counted), bit for bit, on every vector path.
final class MaxPoolGateBitsTests: XCTestCase {
    func testTargetMajorGateEqualsSpikeRule() throws {
        for (channels, window) in [(16, 2), (32, 2), (16, 3)] { try check(channels: channels, window: window) }
    }

    private func check(channels: Int, window: Int) throws {
        // 9 x 8 map: a 2x2 (3x3) pooling leaves a row and/or column outside every window
        let g = ConvGeometry(inHeight: 9, inWidth: 8, inChannels: channels, outChannels: channels,
                             kernelHeight: window, kernelWidth: window, stride: window, depthwise: true)
        var rng: UInt64 = UInt64(channels * 10 + window)
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        // IF sources at different constant drives (many ties between counts early on); gate targets
        // never fire, so v counts the spikes that passed (weight 1: exact in Float)
        var src = IFParameters(); src.threshold = 1
        var store = IFParameters(); store.threshold = 1e9
        let drive = (0..<g.inputSize).map { _ in Float(next() % 8) / 8 }
        let net = Network(dt: 1, populations: [
            Population(name: "src", size: g.inputSize, model: .integrateAndFire(src)),
            Population(name: "pool", size: g.outputSize, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
        ], projections: [Projection(pre: "src", post: "pool", kind: .maxPool(g), weight: .constant(1), delay: .constant(0))])
        let steps = 40
        var reference: [Float]? = nil
        var refEvents: Int64 = 0
        try onEveryPath("maxpool gate") { path in
            for threads in [1, 3] {
                let sim = try drivenSim(net, drive: drive)
                try sim.run(steps: Int64(steps), threads: threads)
                let v = Array(sim.state(population: 1, variable: 0))
                if reference == nil {
                    (reference, refEvents) = replay(g, sim.spikes("src"))
                    XCTAssertGreaterThan(refEvents, Int64(g.outputSize), "spikes pass")
                    XCTAssertLessThan(refEvents, Int64(sim.spikes("src").count) * 3 / 4, "the gate blocks spikes")
                }
                XCTAssertEqual(v, reference!, "\(channels) channels, window \(window), \(path), \(threads) threads")
                XCTAssertEqual(sim.synapticEvents(projection: 0), refEvents, "\(path), \(threads) threads")
            }
        }
    }

    /// The gate rule, spike by spike: per step, counts first include the step's spikes, then each spike
    /// of a window neuron passes iff no other neuron of its window has a higher count, nor an equal one
    /// at a lower index.
    private func replay(_ g: ConvGeometry, _ train: SpikeTrain) -> ([Float], Int64) {
        var counts = [Int](repeating: 0, count: g.inputSize)
        var v = [Float](repeating: 0, count: g.outputSize)
        var events: Int64 = 0
        let C = g.inChannels, W = g.inWidth, k = g.kernelHeight
        var q = 0
        while q < train.count {   // step by step (the train is in step order)
            let n = train.steps[q]
            var now: [Int] = []
            while q < train.count && train.steps[q] == n { now.append(Int(train.ids[q])); q += 1 }
            for i in now { counts[i] += 1 }
            for i in now {
                let c = i % C, pix = i / C, y = pix / W, x = pix % W
                let oy = y / k, ox = x / k
                guard oy < g.outHeight, ox < g.outWidth else { continue }
                var wins = true
                for ky in 0..<k { for kx in 0..<k {
                    let j = ((oy * k + ky) * W + ox * k + kx) * C + c
                    if j != i && (counts[j] > counts[i] || (counts[j] == counts[i] && j < i)) { wins = false }
                }}
                if wins { v[(oy * g.outWidth + ox) * C + c] += 1; events += 1 }
            }
        }
        return (v, events)
    }
}
