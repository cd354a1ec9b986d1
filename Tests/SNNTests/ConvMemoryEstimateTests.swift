import XCTest
@testable import SNN

/// The memory estimate's part for a convolution (without its per-thread scratch) is what the engine
/// allocates for it (its count with and without the projection) plus the caller's kernel array: for a
/// shape delivered by rows with 16 outputs (two re-laid copies), one with 32 (one), and one by lists.
final class ConvMemoryEstimateTests: XCTestCase {
    func testConvEstimateIsWhatTheEngineAllocates() throws {
        let shapes = [
            ConvGeometry(inHeight: 12, inWidth: 10, inChannels: 16, outChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
            ConvGeometry(inHeight: 8, inWidth: 8, inChannels: 32, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
            ConvGeometry(inHeight: 9, inWidth: 8, inChannels: 16, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1),
        ]
        for g in shapes {
            let kernel = (0..<g.kernelCount).map { Float($0 % 7) - 3 }
            func net(_ withConv: Bool) -> Network {
                Network(dt: 1, populations: [
                    Population(name: "in", size: g.inputSize, model: .spikeSource(times: [[1.0]] + Array(repeating: [], count: g.inputSize - 1))),
                    Population(name: "out", size: g.outputSize, model: .integrateAndFire(IFParameters())),
                ], projections: withConv ? [Projection(pre: "in", post: "out", kind: .conv(g, kernel: kernel), delay: .constant(0))] : [])
            }
            let with = try Simulator(CompiledNetwork(net(true), seed: 1)), without = try Simulator(CompiledNetwork(net(false), seed: 1))
            let engine = Double(with.engineBytes - without.engineBytes)
            let est = MemoryEstimate.network(net(true), threads: 1)
            let part = try XCTUnwrap(est.parts.first { $0.name.hasPrefix("convolution") && !$0.name.hasSuffix("scratch") })
            XCTAssertEqual(part.bytes - 4 * Double(kernel.count), engine, "\(g)")
            XCTAssertNotNil(est.parts.first { $0.name.hasSuffix("scratch") && $0.bytes > 0 }, "\(g): per-thread scratch")
        }
    }
}
