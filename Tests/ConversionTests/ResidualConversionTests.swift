import ANN
import Datasets
import Foundation
import SNN
import XCTest
@testable import Conversion

/// Residual blocks, global average pooling and clip(0, c) in the converter: the join layer's IF rates
/// against the closed form min(max(a/λ, 0), 1) of the ANN's post-ReLU activation a, the shortcut
/// weights against λ_src/λ_join, refusals, and the saved network.
final class ResidualConversionTests: XCTestCase {
    /// conv(1→2, 3×3, pad 1) + clip(0, c) stem, a residual block (identity or strided 1×1-conv + BN
    /// shortcut), ReLU, global average pooling, dense(→3).
    func model(convShortcut: Bool, ceiling: Double, seed: UInt64) throws -> Sequential {
        var rng = TestRNG(s: seed)
        let stem = Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), padding: Size2(1))
        let outC = convShortcut ? 3 : 2
        let b1 = Conv2D(inChannels: 2, outChannels: outC, kernel: Size2(3), stride: Size2(convShortcut ? 2 : 1), padding: Size2(1))
        let bn = BatchNorm(features: outC, spatial: true)
        let b2 = Conv2D(inChannels: outC, outChannels: outC, kernel: Size2(3), padding: Size2(1))
        let sc = Conv2D(inChannels: 2, outChannels: outC, kernel: Size2(1), stride: Size2(2), bias: false)
        let sbn = BatchNorm(features: outC, spatial: true)
        let d = Dense(inFeatures: outC, outFeatures: 3)
        for l in [stem, b1, b2, sc, d] as [Layer] { setWeights(l, &rng, scale: 0.6) }
        for n in [bn, sbn] {
            n.gamma.value = Tensor(shape: [outC], values: rng.fill(outC, 0.6, 1.4))
            n.beta.value = Tensor(shape: [outC], values: rng.fill(outC, -0.1, 0.2))
            n.runningMean = Tensor(shape: [outC], values: rng.fill(outC, -0.2, 0.2))
            n.runningVar = Tensor(shape: [outC], values: rng.fill(outC, 0.5, 1.5))
        }
        let block = Residual(body: [b1, bn, ReLU(), b2], shortcut: convShortcut ? [sc, sbn] : [])
        return try Sequential(inputShape: [1, 6, 6], layers: [stem, Clip(lower: 0, upper: Float(ceiling)), block, ReLU(), GlobalAvgPool2D(), Flatten(), d],
                              normalization: Normalization(mean: 0.3, std: 0.5), classes: 3)
    }

    func checkJoinRates(convShortcut: Bool) throws {
        let m = try model(convShortcut: convShortcut, ceiling: 1.5, seed: convShortcut ? 31 : 32)
        let n = 6
        let (raw, set) = images(n, shape: [1, 6, 6], norm: m.normalization, seed: 33)
        var opts = ConversionOptions()
        opts.normalization = .layer
        opts.percentile = 100   // calibration = test images: no hidden layer clips below its ANN activation
        let snn = try Converter.convert(m, calibration: set, options: opts)
        // the global pooling is folded into the dense output layer (default --global-pool fold)
        XCTAssertEqual(snn.layers.map(\.name), ["L0_conv", "L2_body0_conv", "L2_add", "L6_dense"])
        let join = snn.layers[2]
        guard let skip = join.skip else { return XCTFail("the join layer has no shortcut") }
        XCTAssertEqual(skip.source, 0)
        let (l0, lj) = (snn.layers[0].scale[0], join.scale[0])
        // clip(0, 1.5): the stem's scale is at most the ceiling
        XCTAssertLessThanOrEqual(l0, 1.5)
        if convShortcut {
            XCTAssertEqual(skip.kind, .conv)
            XCTAssertEqual(skip.stride, 2)
        } else {
            XCTAssertEqual(skip.kind, .identity)
            for w in skip.weights { XCTAssertEqual(w, l0 / lj, accuracy: 1e-6 * max(1, l0 / lj)) }
        }
        // the join layer's rates are the ANN's post-ReLU activations / λ_join, clipped to [0, 1]
        let acts = m.activations(Tensor(shape: [n, 1, 6, 6], values: set.pixels))[3]   // ReLU after the block
        let sh = Array(acts.shape.dropFirst())
        let (C, H, W) = (sh[0], sh[1], sh[2])
        let T = 1000
        var worst = 0.0, active = 0
        for img in 0..<n {
            let counts = try spikeCounts(snn, pixels: Array(raw[(img * 36)..<((img + 1) * 36)]), T: T)[2]
            for c in 0..<C { for y in 0..<H { for x in 0..<W {
                let a = Double(acts[flat: ((img * C + c) * H + y) * W + x])
                let r = min(max(a / Double(lj), 0), 1)
                if r > 0.05 { active += 1 }
                worst = max(worst, abs(Double(counts[(y * W + x) * C + c]) / Double(T) - r))
            } } }
        }
        XCTAssertGreaterThan(active, 10, "the test should exercise active join neurons")
        // two IF layers in front of the join: rate errors of a few spikes per 1000 steps
        XCTAssertLessThan(worst, 0.01, "max |rate - a/λ| at the join")
    }

    func testIdentityShortcutJoinRatesMatchClosedForm() throws { try checkJoinRates(convShortcut: false) }
    func testConvShortcutJoinRatesMatchClosedForm() throws { try checkJoinRates(convShortcut: true) }

    /// The SNN's predictions agree with the ANN's at large T (spike-count decoding of the output).
    func testResidualNetworkClassifiesLikeItsANN() throws {
        let m = try model(convShortcut: true, ceiling: 6, seed: 34)
        let (raw, set) = images(30, shape: [1, 6, 6], norm: m.normalization, seed: 35)
        let snn = try Converter.convert(m, calibration: set, options: ConversionOptions())
        let ann = m.predict(Tensor(shape: [30, 1, 6, 6], values: set.pixels))
        let annPred: [Int32] = (0..<30).map { i in Int32((0..<3).max { ann[flat: i * 3 + $0] < ann[flat: i * 3 + $1] }!) }
        let ev = try SpikingClassifier(snn).evaluate(pixels: raw, labels: annPred, timesteps: [500], threads: 2)
        XCTAssertGreaterThanOrEqual(ev.results[0].correct, 27, "SNN agrees with the ANN on \(ev.results[0].correct)/30 images")
        // MACs per image by hand: stem 6·6·2·(1·9) + body conv 3·3·3·(2·9) + join conv 3·3·3·(3·9)
        // + strided 1×1 shortcut 3·3·3·2 + dense 3·3 (the pooling folded into it has none)
        XCTAssertEqual(snn.layers.map(\.macs), [648, 486, 729 + 54, 9])
        // SOPs of the join count both projections
        XCTAssertGreaterThan(ev.results[0].sopsPerLayer[2], 0)
        // save and load: same layers (the shortcut included) and the same spikes
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-res-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try snn.save(to: dir.path)
        let back = try ConvertedNetwork.load(dir.path)
        XCTAssertEqual(back.layers, snn.layers)
        let ev2 = try SpikingClassifier(back).evaluate(pixels: raw, labels: annPred, timesteps: [500], threads: 1)
        XCTAssertEqual(ev2.results[0].predictions, ev.results[0].predictions)
        // a shortcut naming a later layer is refused
        let spec = dir.appendingPathComponent(ConvertedNetwork.specFile)
        let text = try String(contentsOf: spec, encoding: .utf8)
        try text.replacingOccurrences(of: "\"source\" : 0", with: "\"source\" : 4").replacingOccurrences(of: "\"source\":0", with: "\"source\":4")
            .write(to: spec, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.path)) { e in XCTAssertTrue("\(e)".contains("skip.source"), "\(e)") }
    }

    /// Poisson input through residual joins: the same spikes whatever the thread count.
    func testPoissonResidualEvaluationIsDeterministicAcrossThreads() throws {
        let m = try model(convShortcut: true, ceiling: 6, seed: 37)
        let (raw, set) = images(12, shape: [1, 6, 6], norm: m.normalization, seed: 38)
        var opts = ConversionOptions()
        opts.encoding = .poisson
        let snn = try Converter.convert(m, calibration: set, options: opts)
        let a = try SpikingClassifier(snn, seed: 5).evaluate(pixels: raw, labels: set.labels, timesteps: [16, 64], threads: 1)
        let b = try SpikingClassifier(snn, seed: 5).evaluate(pixels: raw, labels: set.labels, timesteps: [16, 64], threads: 3)
        XCTAssertEqual(a.results.map(\.predictions), b.results.map(\.predictions))
        XCTAssertEqual(a.results.map(\.spikesPerLayer), b.results.map(\.spikesPerLayer))
        XCTAssertEqual(a.results.map(\.sopsPerLayer), b.results.map(\.sopsPerLayer))
        XCTAssertGreaterThan(a.results[1].inputSpikes, 0)
    }

    func testUnconvertibleResidualBlocksAreRefused() throws {
        func refuse(_ layers: [Layer], _ want: String, line: UInt = #line) throws {
            let m = try Sequential(inputShape: [1, 4, 4], layers: layers, classes: 2)
            let (_, set) = images(4, shape: [1, 4, 4], norm: .unit, seed: 36)
            XCTAssertThrowsError(try Converter.convert(m, calibration: set, options: ConversionOptions()), line: line) { e in
                XCTAssertTrue("\(e)".contains(want), "'\(e)' lacks '\(want)'", line: line)
            }
        }
        func conv() -> Conv2D { Conv2D(inChannels: 2, outChannels: 2, kernel: Size2(3), padding: Size2(1)) }
        let stem = { Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), padding: Size2(1)) }
        let head: [Layer] = [GlobalAvgPool2D(), Flatten(), Dense(inFeatures: 2, outFeatures: 2)]
        try refuse([stem(), ReLU(), Residual(body: [conv(), ReLU()], shortcut: []), ReLU()] + head, "the body must end with a conv layer")
        try refuse([stem(), ReLU(), Residual(body: [conv()], shortcut: [])] + head, "is not followed by a ReLU")
        try refuse([Residual(body: [Conv2D(inChannels: 1, outChannels: 1, kernel: Size2(1))], shortcut: []), ReLU(), Flatten(), Dense(inFeatures: 16, outFeatures: 2)],
                   "a residual block must follow a conv layer with a ReLU")
        try refuse([stem(), ReLU(), Residual(body: [conv(), ReLU(), AvgPool2D(kernel: Size2(1)), conv()], shortcut: []), ReLU()] + head,
                   "inside a residual block only")
        try refuse([stem(), ReLU(), Residual(body: [conv()], shortcut: [conv(), ReLU(), conv()]), ReLU()] + head, "the shortcut has 3 layers")
        try refuse([stem(), Clip(lower: -1, upper: 1)] + head, "lower bound other than 0")
    }
}
