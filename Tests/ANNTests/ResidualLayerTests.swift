@testable import ANN
import Datasets
import Foundation
import XCTest

/// The layers residual networks need: finite-difference gradient checks of clip, global average
/// pooling and residual blocks (identity and conv shortcuts), their forward values against closed
/// forms, and their specs in model.json and state dicts.
final class ResidualLayerTests: XCTestCase {
    func testClipGradientAndValues() {
        var rng = TestRNG(21)
        // values at least 0.3 away from the bounds 0 and 1, so finite differences never cross a kink
        let pool: [Float] = [-1.5, -0.7, -0.3, 0.3, 0.5, 0.7, 1.3, 2.2]
        let x = Tensor(shape: [3, 2, 2, 3], values: (0..<36).map { _ in pool[Int(rng.next() % 8)] })
        gradientCheck(Clip(lower: 0, upper: 1), input: x)
        let y = Clip(lower: 0, upper: 6).forward(Tensor(shape: [1, 4], values: [-1, 3, 6.5, 6]), .eval())
        XCTAssertEqual(y.scalars, [0, 3, 6, 6])
    }

    func testGlobalAvgPoolGradientAndValues() {
        var rng = TestRNG(22)
        gradientCheck(GlobalAvgPool2D(), input: rng.tensor([2, 3, 4, 5]))
        let x = rng.tensor([2, 3, 4, 5])
        let y = GlobalAvgPool2D().forward(x, .eval())
        XCTAssertEqual(y.shape, [2, 3, 1, 1])
        for n in 0..<2 { for c in 0..<3 {
            var s = 0.0
            for i in 0..<20 { s += Double(x[flat: (n * 3 + c) * 20 + i]) }
            XCTAssertEqual(Double(y[flat: n * 3 + c]), s / 20, accuracy: 1e-6)
        } }
    }

    func testResidualIdentityShortcutGradient() {
        var rng = TestRNG(23)
        let c1 = Conv2D(inChannels: 2, outChannels: 2, kernel: Size2(3), padding: Size2(1), seed: 3)
        c1.bias!.value = rng.tensor([2])
        let c2 = Conv2D(inChannels: 2, outChannels: 2, kernel: Size2(3), padding: Size2(1), seed: 4)
        let block = Residual(body: [c1, BatchNorm(features: 2, spatial: true), c2], shortcut: [])
        XCTAssertEqual(block.parameters.map(\.name), ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "body.2.weight", "body.2.bias"])
        gradientCheck(block, input: rng.tensor([3, 2, 5, 5]))
        // y = body(x) + x
        let x = rng.tensor([2, 2, 5, 5])
        let bodyOut = c2.forward(block.body[1].forward(c1.forward(x, .eval()), .eval()), .eval())
        let y = block.forward(x, .eval())
        for i in 0..<x.count { XCTAssertEqual(y[flat: i], bodyOut[flat: i] + x[flat: i], accuracy: 1e-6) }
    }

    func testResidualConvShortcutGradient() {
        var rng = TestRNG(24)
        let body = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(3), stride: Size2(2), padding: Size2(1), seed: 5)
        let sc = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(1), stride: Size2(2), bias: false, seed: 6)
        let bn = BatchNorm(features: 3, spatial: true)
        bn.gamma.value = rng.tensor([3], 0.5, 1.5)
        gradientCheck(Residual(body: [body, ReLU()], shortcut: [sc, bn]), input: rng.awayFromZero([4, 2, 6, 6]), tol: 2e-2)
    }

    func testSpecJSONStateDictAndShapeErrors() throws {
        let spec = ModelSpec(inputShape: [1, 8, 8], layers: [
            .conv2d(inChannels: 1, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: false),
            .batchNorm(features: 4, spatial: true, eps: 1e-5, momentum: 0.1), .clip(min: 0, max: 6),
            .residual(body: [.conv2d(inChannels: 4, outChannels: 6, kernel: Size2(3), stride: Size2(2), padding: Size2(1), bias: false),
                             .batchNorm(features: 6, spatial: true, eps: 1e-5, momentum: 0.1)],
                      shortcut: [.conv2d(inChannels: 4, outChannels: 6, kernel: Size2(1), stride: Size2(2), padding: Size2(0), bias: false)]),
            .relu, .globalAvgPool, .flatten, .dense(inFeatures: 6, outFeatures: 3, bias: true),
        ], classes: 3)
        XCTAssertEqual(try spec.validate().map { $0 }, [[4, 8, 8], [4, 8, 8], [4, 8, 8], [6, 4, 4], [6, 4, 4], [6, 1, 1], [6], [3]])
        let back = try JSONDecoder().decode(ModelSpec.self, from: try JSONEncoder().encode(spec))
        XCTAssertEqual(back, spec)
        let model = try Sequential(spec: spec, seed: 7)
        let keys = model.stateDict().map(\.key)
        XCTAssertTrue(keys.contains("3.body.1.running_var") && keys.contains("3.body.1.num_batches_tracked") && keys.contains("3.shortcut.0.weight"), "\(keys)")
        // a state dict round trip restores every branch tensor
        let copy = try Sequential(spec: spec, seed: 99)
        try copy.loadState(Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.value) }))
        var rng = TestRNG(25)
        let x = rng.tensor([2, 1, 8, 8])
        XCTAssertTrue(copy.predict(x).bitwiseEqual(model.predict(x)))
        // branches of different shapes are refused, naming both
        var bad = spec
        bad.layers[3] = .residual(body: [.conv2d(inChannels: 4, outChannels: 6, kernel: Size2(3), stride: Size2(2), padding: Size2(1), bias: false)], shortcut: [])
        XCTAssertThrowsError(try bad.validate()) { e in
            XCTAssertTrue("\(e)".contains("the body outputs [6, 4, 4] but the shortcut outputs [4, 8, 8]"), "\(e)")
        }
        bad.layers[3] = .residual(body: [], shortcut: [])
        XCTAssertThrowsError(try bad.validate()) { e in XCTAssertTrue("\(e)".contains("residual body is empty"), "\(e)") }
        bad.layers[2] = .clip(min: 6, max: 0)
        XCTAssertThrowsError(try bad.validate()) { e in XCTAssertTrue("\(e)".contains("clip needs finite min < max"), "\(e)") }
    }

    /// A residual network trains: the loss falls on a tiny separable problem.
    func testResidualNetworkTrains() throws {
        let spec = ModelSpec(inputShape: [1, 4, 4], layers: [
            .conv2d(inChannels: 1, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: true), .relu,
            .residual(body: [.conv2d(inChannels: 4, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: true),
                             .batchNorm(features: 4, spatial: true, eps: 1e-5, momentum: 0.1), .relu,
                             .conv2d(inChannels: 4, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: true)],
                      shortcut: []),
            .relu, .globalAvgPool, .flatten, .dense(inFeatures: 4, outFeatures: 2, bias: true),
        ], classes: 2)
        let model = try Sequential(spec: spec, seed: 3)
        var rng = TestRNG(26)
        // class 1: bright top half; class 0: bright bottom half
        var px: [Float] = [], labels: [Int32] = []
        for i in 0..<64 {
            let c = i % 2
            for y in 0..<4 { for _ in 0..<4 { px.append(Float((y < 2) == (c == 1) ? 0.8 : 0.1) + Float(rng.uniform(-0.05, 0.05))) } }
            labels.append(Int32(c))
        }
        var opts = TrainingOptions()
        opts.epochs = 30
        opts.batchSize = 16
        opts.optimizer = .adam(learningRate: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
        let data = LabeledImages(sampleShape: [1, 4, 4], pixels: px, labels: labels, classCount: 2)
        let trainer = Trainer(model: model, options: opts)
        let first = try trainer.trainEpoch(0, data: data).loss
        var last = first
        for e in 1..<opts.epochs { last = try trainer.trainEpoch(e, data: data).loss }
        XCTAssertLessThan(last, first * 0.3, "loss \(first) -> \(last)")
    }
}
