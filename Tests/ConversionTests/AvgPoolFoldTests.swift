import ANN
import Datasets
import Foundation
import SNN
import XCTest
@testable import Conversion

/// `--avgpool fold`: average pooling folded into the next conv/dense layer. The folded layer's linear
/// map equals pooling then the unfolded layer (checked against a direct computation from the unfolded
/// conversion), the ANN MACs are unchanged, the file round trip keeps it, and with constant input a
/// QCFS net with pooling before its classifier predicts the ANN's class at T = L.
final class AvgPoolFoldTests: XCTestCase {
    func model(seed: UInt64, pad: Int = 0) throws -> Sequential {
        var rng = TestRNG(s: seed)
        let c1 = Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3)), c2 = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(2), padding: Size2(pad))
        let d = Dense(inFeatures: 3 * (2 + 2 * pad) * (2 + 2 * pad), outFeatures: 4)
        for l in [c1, c2, d] as [Layer] { setWeights(l, &rng) }
        c1.bias!.value = Tensor(shape: [2], values: [0.3, 0.2])
        let q1 = QCFS(levels: 4), q2 = QCFS(levels: 4)
        q1.threshold.value = Tensor(shape: [1], values: [0.8]); q2.threshold.value = Tensor(shape: [1], values: [0.6])
        // 9x9 -> conv3 7x7 -> pool2 3x3 (floor mode drops a row and a column) -> conv2 2x2 -> flatten -> dense
        return try Sequential(inputShape: [1, 9, 9], layers: [c1, q1, AvgPool2D(kernel: Size2(2)), c2, q2, Flatten(), d], classes: 4)
    }

    /// Applies a spiking layer's engine-layout weights to an input map u (engine order), without bias.
    func apply(_ l: SpikingLayer, _ u: [Float]) -> [Float] {
        let outC = l.outputShape[0]
        var y = [Float](repeating: 0, count: l.size)
        if l.kind == .dense {
            for i in 0..<u.count { for o in 0..<outC { y[o] += u[i] * l.weights[i * outC + o] } }
            return y
        }
        let (C, W) = (l.inputShape[0], l.inputShape[2])
        let (OH, OW, k) = (l.outputShape[1], l.outputShape[2], l.kernel[0])
        for i in 0..<OH { for j in 0..<OW { for ky in 0..<k { for kx in 0..<k { for c in 0..<C { for o in 0..<outC {
            let (yy, xx) = (i * l.stride + ky - l.padding, j * l.stride + kx - l.padding)
            guard yy >= 0, xx >= 0, yy < l.inputShape[1], xx < W else { continue }
            y[(i * OW + j) * outC + o] += u[(yy * W + xx) * C + c] * l.weights[((ky * k + kx) * C + c) * outC + o]
        } } } } } }
        return y
    }

    /// 2×2 mean pooling (stride 2, floor mode) of an engine-order map [H][W][C].
    func pool(_ u: [Float], C: Int, H: Int, W: Int) -> [Float] {
        let (Hp, Wp) = (H / 2, W / 2)
        var y = [Float](repeating: 0, count: Hp * Wp * C)
        for i in 0..<Hp { for j in 0..<Wp { for c in 0..<C { for a in 0..<2 { for b in 0..<2 {
            y[(i * Wp + j) * C + c] += u[((2 * i + a) * W + 2 * j + b) * C + c] / 4
        } } } } }
        return y
    }

    func testFoldedConvEqualsPoolingThenConv() throws {
        let m = try model(seed: 3)
        let none = LabeledImages(sampleShape: [1, 9, 9], pixels: [], labels: [], classCount: 10)
        let plain = try Converter.convert(m, calibration: none, options: ConversionOptions())
        var fo = ConversionOptions(); fo.avgPool = .fold
        let folded = try Converter.convert(m, calibration: none, options: fo)
        XCTAssertEqual(plain.layers.map(\.kind), [.conv, .avgPool, .conv, .dense])
        XCTAssertEqual(folded.layers.map(\.kind), [.conv, .conv, .dense])
        XCTAssertEqual(folded.layers[1].kernel, [4, 4]); XCTAssertEqual(folded.layers[1].stride, 2)
        XCTAssertEqual(folded.layers[1].inputShape, [2, 7, 7]); XCTAssertEqual(folded.layers[1].outputShape, plain.layers[2].outputShape)
        XCTAssertEqual(folded.layers[1].absorbed, [2, 4])
        XCTAssertEqual(folded.layers.map(\.macs).reduce(0, +), plain.layers.map(\.macs).reduce(0, +), "ANN MACs unchanged")
        var rng = TestRNG(s: 4)
        for _ in 0..<5 {
            let u = rng.fill(7 * 7 * 2, 0, 1)
            let direct = apply(folded.layers[1], u), reference = apply(plain.layers[2], pool(u, C: 2, H: 7, W: 7))
            for (a, b) in zip(direct, reference) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        }
        XCTAssertEqual(folded.layers[1].bias, plain.layers[2].bias)
        // round trip keeps the folded geometry and the ANN MACs
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-fold-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try folded.save(to: dir.path)
        let back = try ConvertedNetwork.load(dir.path)
        XCTAssertEqual(back.layers, folded.layers)
        XCTAssertEqual(back.options.avgPool, .fold)
        // a padded convolution after the pooling cannot be folded
        let padded = try model(seed: 3, pad: 1)
        XCTAssertThrowsError(try Converter.convert(padded, calibration: none, options: fo)) { XCTAssertTrue("\($0)".contains("padded"), "\($0)") }
    }

    /// conv → QCFS → pool → flatten → dense, folded: the dense layer sees exactly the mean of the
    /// first layer's spike counts, which at T = L are the QCFS levels, so the output membrane is L × the
    /// ANN's logits and the SNN predicts the ANN's class; the folded dense map equals pooling then the
    /// unfolded dense map, pixels dropped by floor mode included (weight 0).
    func testFoldedDenseIsExactAtTEqualsL() throws {
        var rng = TestRNG(s: 5)
        let c1 = Conv2D(inChannels: 1, outChannels: 3, kernel: Size2(3)), d = Dense(inFeatures: 3 * 2 * 2, outFeatures: 4)
        setWeights(c1, &rng); setWeights(d, &rng, scale: 1)
        c1.bias!.value = Tensor(shape: [3], values: [0.3, 0.2, 0.4])
        let q = QCFS(levels: 4, thresholdCount: 3)
        q.threshold.value = Tensor(shape: [3], values: [0.5, 0.8, 1.1])
        let m = try Sequential(inputShape: [1, 7, 7], layers: [c1, q, AvgPool2D(kernel: Size2(2)), Flatten(), d], classes: 4)
        let (raw, set) = images(30, shape: [1, 7, 7], norm: .unit, seed: 6)
        d.bias!.value = Tensor(zeros: [4])
        let logits = m.predict(Tensor(shape: [30, 1, 7, 7], values: set.pixels)).scalars
        d.bias!.value = Tensor(shape: [4], values: (0..<4).map { k in -(0..<30).map { logits[$0 * 4 + k] }.reduce(0, +) / 30 })
        var fo = ConversionOptions(); fo.avgPool = .fold
        let none = LabeledImages(sampleShape: [1, 7, 7], pixels: [], labels: [], classCount: 10)
        let folded = try Converter.convert(m, calibration: none, options: fo), plain = try Converter.convert(m, calibration: none, options: ConversionOptions())
        XCTAssertEqual(folded.layers.map(\.kind), [.conv, .dense])
        XCTAssertEqual(folded.layers[1].inputShape, [3 * 5 * 5])
        let u = rng.fill(5 * 5 * 3, 0, 1)
        for (a, b) in zip(apply(folded.layers[1], u), apply(plain.layers[2], pool(u, C: 3, H: 5, W: 5))) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        let ann = m.predict(Tensor(shape: [30, 1, 7, 7], values: set.pixels)).scalars
        var annPred: [Int32] = []
        for i in 0..<30 {
            var best = 0
            for k in 1..<4 where ann[i * 4 + k] > ann[i * 4 + best] { best = k }
            annPred.append(Int32(best))
        }
        XCTAssertGreaterThan(Set(annPred).count, 2)
        let r = try SpikingClassifier(folded).evaluate(pixels: raw, labels: set.labels, timesteps: [4], threads: 2)
        XCTAssertGreaterThanOrEqual(zip(r.results[0].predictions, annPred).filter { $0 == $1 }.count, 29, "SNN = ANN class at T = L")
    }
}
