import Foundation
import XCTest
@testable import SNN

/// A residual net's identity shortcut is a same-step depthwise 1x1 projection (a per-channel scale),
/// delivered from the IF source's spike bits on one thread (a linear pass over 16-channel blocks,
/// snn_deliver_conv.c) and from the spike list on several. Both equal the per-step replay of the
/// recorded spikes in Float (each spike adds its channel's weight to the target at the same place),
/// bit for bit, on every vector path, for 16 and 48 channels.
final class IdentityShortcutDeliveryTests: XCTestCase {
    func testIdentityShortcutEqualsSpikeReplay() throws {
        for channels in [16, 48] { try check(channels: channels) }
    }

    private func check(channels: Int) throws {
        let g = ConvGeometry(inHeight: 5, inWidth: 7, inChannels: channels, outChannels: channels,
                             kernelHeight: 1, kernelWidth: 1, stride: 1, depthwise: true)
        var rng: UInt64 = UInt64(channels)
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        let kernel = (0..<channels).map { _ in Float(Int(next() % 20001) - 10000) / 997 }
        var src = IFParameters(); src.threshold = 1
        var store = IFParameters(); store.threshold = 1e9   // never fires: v sums what arrived
        let drive = (0..<g.inputSize).map { _ in Float(next() % 1000) / 1000 }
        let net = Network(dt: 1, populations: [
            Population(name: "src", size: g.inputSize, model: .integrateAndFire(src)),
            Population(name: "join", size: g.outputSize, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
        ], projections: [Projection(pre: "src", post: "join", kind: .conv(g, kernel: kernel), delay: .constant(0))])
        try onEveryPath("identity shortcut") { path in
            for threads in [1, 3] {
                let sim = try drivenSim(net, drive: drive)
                try sim.run(steps: 25, threads: threads)
                // replay: every step each target adds its source's weight if it spiked, else 0
                let train = sim.spikes("src")
                var v = [Float](repeating: 0, count: g.outputSize)
                var q = 0
                for n in 0..<26 {
                    var spiked = [Bool](repeating: false, count: g.inputSize)
                    while q < train.count && train.steps[q] == Int64(n) { spiked[Int(train.ids[q])] = true; q += 1 }
                    for i in 0..<g.inputSize { v[i] = v[i] + (spiked[i] ? 0 + kernel[i % channels] : 0) }
                }
                XCTAssertEqual(q, train.count, "every spike replayed")
                XCTAssertGreaterThan(train.count, 300)
                XCTAssertEqual(Array(sim.state(population: 1, variable: 0)), v, "\(channels) channels, \(path), \(threads) threads")
                XCTAssertEqual(sim.synapticEvents(projection: 0), Int64(train.count))
            }
        }
    }
}
