import Foundation
import XCTest
@testable import SNN

/// Max-pool gating with padding: the padding holds no neuron, so a padded pooling of an H x W map
/// delivers exactly what an unpadded pooling of the same map surrounded by silent neurons delivers
/// (a silent neuron never spikes and, with a count of 0, never out-counts a spiking one).
final class PaddedMaxPoolGateTests: XCTestCase {
    func testPaddedPoolingEqualsPoolingOfASilentBorder() throws {
        let (h, w, c) = (5, 6, 2)
        var rng: UInt64 = 7
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        // spike times per source neuron (HWC order): random periods, some neurons silent
        var times: [[Double]] = []
        for _ in 0..<(h * w * c) {
            let period = Int(next() % 9)
            times.append(period < 2 ? [] : stride(from: Double(1 + next() % 5), through: 300, by: Double(period)).map { $0 })
        }
        var relay = IFParameters(); relay.threshold = 0.5; relay.resetBySubtraction = false
        func run(padded: Bool, threads: Int) throws -> (events: Int64, spikes: [SpikeTrain]) {
            let (ih, iw) = padded ? (h, w) : (h + 2, w + 2)
            var src = [[Double]](repeating: [], count: ih * iw * c)
            for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                let (yy, xx) = padded ? (y, x) : (y + 1, x + 1)
                src[(yy * iw + xx) * c + ch] = times[(y * w + x) * c + ch]
            } } }
            let g = ConvGeometry(inHeight: ih, inWidth: iw, inChannels: c, outChannels: c, kernelHeight: 3, kernelWidth: 3, stride: 2,
                                 padding: padded ? 1 : 0, depthwise: true)
            XCTAssertEqual(g.outputSize, 3 * 3 * c)
            let sim = try makeSim([Population(name: "in", size: ih * iw * c, model: .spikeSource(times: src)),
                                   Population(name: "pool", size: g.outputSize, model: .integrateAndFire(relay))],
                                  [Projection(pre: "in", post: "pool", kind: .maxPool(g), weight: .constant(1), delay: .constant(0))], dt: 1)
            try sim.recordSpikes("pool")
            try sim.run(steps: 300, threads: threads)
            return (sim.synapticEvents(projection: 0), [sim.spikes("pool")])
        }
        let ref = try run(padded: false, threads: 1)
        XCTAssertGreaterThan(ref.events, 100)
        for t in [1, 3] {
            let p = try run(padded: true, threads: t)
            XCTAssertEqual(p.events, ref.events, "\(t) threads")
            XCTAssertEqual(p.spikes, ref.spikes, "\(t) threads")
        }
        // padding beyond half the kernel is refused
        let bad = ConvGeometry(inHeight: 5, inWidth: 5, inChannels: 1, outChannels: 1, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 2, depthwise: true)
        XCTAssertThrowsError(try makeSim([Population(name: "in", size: 25, model: .spikeSource(times: Array(repeating: [], count: 25))),
                                          Population(name: "pool", size: bad.outputSize, model: .integrateAndFire(relay))],
                                         [Projection(pre: "in", post: "pool", kind: .maxPool(bad), weight: .constant(1), delay: .constant(0))]))
    }
}
