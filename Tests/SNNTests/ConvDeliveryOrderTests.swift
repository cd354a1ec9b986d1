import Foundation
import XCTest
@testable import SNN

/// Conv delivery adds, per target element, exactly the documented sum (snn_deliver_conv.c): the kernel
/// slices of the spikes in its window listed by window row, window column, then channel (spike order);
/// E = the even entries summed in list order, O = the odd ones, target += E + O. Checked bit for bit,
/// in Float, against that definition computed here, for the shapes delivery compiles its own loops for
/// (3x3 with 16/32/64 output channels, by rows and by lists, 1x1 strided with 32/64) and general ones, on random spike
/// patterns of several densities (runs of more than 16 spikes per window row included), on every
/// vector path and on 1 and 3 threads.
final class ConvDeliveryOrderTests: XCTestCase {
    struct Shape {
        var g: ConvGeometry
        var density: UInt64   // a source spikes with probability density / 100
    }

    func testConvDeliveryEqualsDocumentedSumBitForBit() throws {
        let shapes: [Shape] = [
            Shape(g: ConvGeometry(inHeight: 9, inWidth: 10, inChannels: 16, outChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1), density: 12),
            Shape(g: ConvGeometry(inHeight: 9, inWidth: 8, inChannels: 16, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1), density: 30),
            Shape(g: ConvGeometry(inHeight: 6, inWidth: 5, inChannels: 32, outChannels: 64, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1), density: 60),
            // by rows: two target rows per pass (16 and 32 channels on avx512), 64-bit groups spanning rows
            // (in 32), a generic word count (in 48), no and wide padding, pixels split by threads (out 48)
            Shape(g: ConvGeometry(inHeight: 7, inWidth: 9, inChannels: 32, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1), density: 15),
            Shape(g: ConvGeometry(inHeight: 8, inWidth: 6, inChannels: 16, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 0), density: 40),
            Shape(g: ConvGeometry(inHeight: 5, inWidth: 4, inChannels: 48, outChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 2), density: 25),
            Shape(g: ConvGeometry(inHeight: 6, inWidth: 7, inChannels: 16, outChannels: 48, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1), density: 10),
            Shape(g: ConvGeometry(inHeight: 8, inWidth: 7, inChannels: 16, outChannels: 32, kernelHeight: 1, kernelWidth: 1, stride: 2, padding: 0), density: 50),
            Shape(g: ConvGeometry(inHeight: 7, inWidth: 7, inChannels: 32, outChannels: 64, kernelHeight: 1, kernelWidth: 1, stride: 2, padding: 0), density: 20),
            Shape(g: ConvGeometry(inHeight: 9, inWidth: 7, inChannels: 11, outChannels: 5, kernelHeight: 3, kernelWidth: 4, stride: 2, padding: 1), density: 50),
            Shape(g: ConvGeometry(inHeight: 5, inWidth: 6, inChannels: 3, outChannels: 48, kernelHeight: 2, kernelWidth: 3, stride: 1, padding: 2), density: 90),
        ]
        var rng: UInt64 = 21
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        for s in shapes {
            let g = s.g
            // weights of several magnitudes, so that the order of additions shows in the last bits
            let kernel = (0..<g.kernelCount).map { _ in Float(Int(next() % 200001) - 100000) / 997 * (next() % 4 == 0 ? 1e-3 : 1) }
            let fires = (0..<g.inputSize).map { _ in next() % 100 < s.density }
            let (want, events) = documentedConvSum(g, kernel, fires)
            var store = IFParameters(); store.threshold = 1e9   // never fires: v holds the delivered sum
            let net = Network(dt: 1, populations: [
                Population(name: "in", size: g.inputSize, model: .spikeSource(times: fires.map { $0 ? [1.0] : [] })),
                Population(name: "out", size: g.outputSize, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
            ], projections: [Projection(pre: "in", post: "out", kind: .conv(g, kernel: kernel), delay: .constant(0))])
            try onEveryPath("conv order") { path in
                for threads in [1, 3] {
                    let sim = try Simulator(CompiledNetwork(net, seed: 1))
                    try sim.run(steps: 3, threads: threads)
                    let v = Array(sim.state(population: 1, variable: 0))
                    let bad = (0..<v.count).filter { v[$0].bitPattern != want[$0].bitPattern }
                    XCTAssertEqual(sim.synapticEvents(projection: 0), events, "\(g), \(path), \(threads) threads")
                    XCTAssertEqual(bad.count, 0, "\(g), \(path), \(threads) threads: first mismatch at target \(bad.first ?? -1): \(bad.first.map { v[$0] } ?? 0) vs \(bad.first.map { want[$0] } ?? 0)")
                }
            }
            XCTAssertGreaterThan(want.filter { $0 != 0 }.count, g.outputSize / 2, "\(g): most targets receive spikes")
        }
    }
}
