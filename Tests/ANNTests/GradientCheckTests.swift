@testable import ANN
import XCTest

/// Finite-difference gradient checks for every layer and loss (inputs and parameters).
final class GradientCheckTests: XCTestCase {
    func testDense() {
        var rng = TestRNG(1)
        let l = Dense(inFeatures: 7, outFeatures: 5, seed: 3)
        l.bias!.value = rng.tensor([5])
        gradientCheck(l, input: rng.tensor([4, 7]))
    }

    func testDenseWithoutBias() {
        var rng = TestRNG(2)
        gradientCheck(Dense(inFeatures: 3, outFeatures: 6, bias: false, seed: 4), input: rng.tensor([2, 3]))
    }

    func testConv2DStrideOnePaddingZero() {
        var rng = TestRNG(3)
        let l = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(3), seed: 5)
        l.bias!.value = rng.tensor([3])
        gradientCheck(l, input: rng.tensor([2, 2, 6, 5]))
    }

    func testConv2DStridePaddingRectangular() {
        var rng = TestRNG(4)
        let l = Conv2D(inChannels: 3, outChannels: 2, kernel: Size2(3, 2), stride: Size2(2, 1), padding: Size2(1, 2), seed: 6)
        l.bias!.value = rng.tensor([2])
        gradientCheck(l, input: rng.tensor([3, 3, 7, 6]))
    }

    func testConv2DManyChunks() {
        // Small output planes -> several samples per im2col chunk, and a partial last chunk.
        var rng = TestRNG(5)
        let l = Conv2D(inChannels: 2, outChannels: 4, kernel: Size2(2), stride: Size2(2), seed: 7)
        gradientCheck(l, input: rng.tensor([37, 2, 4, 4]), tol: 2e-2)
    }

    func testAvgPool() {
        var rng = TestRNG(6)
        gradientCheck(AvgPool2D(kernel: Size2(2)), input: rng.tensor([2, 3, 6, 5]))
        gradientCheck(AvgPool2D(kernel: Size2(3, 2), stride: Size2(1, 2)), input: rng.tensor([1, 2, 5, 6]))
    }

    func testMaxPool() {
        // Distinct values spaced further apart than 2h so no window's maximum changes.
        var rng = TestRNG(7)
        var vals = (0..<(2 * 3 * 6 * 6)).map { Float($0) * 0.05 }
        for i in stride(from: vals.count - 1, to: 0, by: -1) { vals.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        gradientCheck(MaxPool2D(kernel: Size2(2)), input: Tensor(shape: [2, 3, 6, 6], values: vals))
        gradientCheck(MaxPool2D(kernel: Size2(3), stride: Size2(2)), input: Tensor(shape: [2, 3, 6, 6], values: vals))
    }

    func testReLU() {
        var rng = TestRNG(8)
        gradientCheck(ReLU(), input: rng.awayFromZero([3, 4, 2, 2]))
    }

    func testFlatten() {
        var rng = TestRNG(9)
        gradientCheck(Flatten(), input: rng.tensor([2, 3, 2, 2]))
    }

    func testDropout() {
        var rng = TestRNG(10)
        gradientCheck(Dropout(p: 0.4), input: rng.tensor([4, 50]))
    }

    func testBatchNorm1DTraining() {
        var rng = TestRNG(11)
        let l = BatchNorm(features: 4, spatial: false)
        l.gamma.value = rng.tensor([4], 0.5, 1.5)
        l.beta.value = rng.tensor([4])
        gradientCheck(l, input: rng.tensor([6, 4]), tol: 2e-2)
    }

    func testBatchNorm2DTraining() {
        var rng = TestRNG(12)
        let l = BatchNorm(features: 3, spatial: true)
        l.gamma.value = rng.tensor([3], 0.5, 1.5)
        l.beta.value = rng.tensor([3])
        gradientCheck(l, input: rng.tensor([3, 3, 3, 2]), tol: 2e-2)
    }

    func testBatchNorm2DInference() {
        var rng = TestRNG(13)
        let l = BatchNorm(features: 3, spatial: true)
        l.gamma.value = rng.tensor([3], 0.5, 1.5)
        l.beta.value = rng.tensor([3])
        l.runningMean = rng.tensor([3])
        l.runningVar = rng.tensor([3], 0.5, 2)
        gradientCheck(l, input: rng.tensor([2, 3, 2, 2]), training: false)
    }

    func testSoftmaxCrossEntropy() {
        var rng = TestRNG(14)
        let z = rng.tensor([5, 4], -3, 3)
        let labels: [Int32] = [0, 3, 1, 1, 2]
        let loss = SoftmaxCrossEntropy()
        let g = loss.evaluate(z, labels: labels, gradient: true).gradient!
        let h: Float = 1e-2
        for i in 0..<z.count {
            var zp = z, zm = z
            zp[flat: i] += h
            zm[flat: i] -= h
            let num = (loss.evaluate(zp, labels: labels, gradient: false).loss - loss.evaluate(zm, labels: labels, gradient: false).loss) / Double(2 * h)
            XCTAssertEqual(num, Double(g[flat: i]), accuracy: 1e-4)
        }
        // Closed form for one row: loss = log(sum e^z) - z_y.
        let row = [z[0, 0], z[0, 1], z[0, 2], z[0, 3]].map(Double.init)
        let one = loss.evaluate(z.slice(0..<1), labels: [0], gradient: false).loss
        XCTAssertEqual(one, log(row.map(exp).reduce(0, +)) - row[0], accuracy: 1e-6)
    }

    func testMeanSquaredError() {
        var rng = TestRNG(15)
        let y = rng.tensor([3, 4]), t = rng.tensor([3, 4])
        let mse = MeanSquaredError()
        let (l, g) = mse.evaluate(y, target: t, gradient: true)
        let expected = zip(y.scalars, t.scalars).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / 12
        XCTAssertEqual(l, expected, accuracy: 1e-9)
        let h: Float = 1e-2
        for i in 0..<y.count {
            var yp = y, ym = y
            yp[flat: i] += h
            ym[flat: i] -= h
            let num = (mse.evaluate(yp, target: t, gradient: false).loss - mse.evaluate(ym, target: t, gradient: false).loss) / Double(2 * h)
            XCTAssertEqual(num, Double(g![flat: i]), accuracy: 1e-4)
        }
        // With labels the target is one-hot.
        let r = mse.evaluate(Tensor(shape: [1, 3], values: [0.5, 0, 0]), labels: [0], gradient: false)
        XCTAssertEqual(r.loss, 0.25 / 3, accuracy: 1e-9)
        XCTAssertEqual(r.correct, 1)
    }

    /// Whole network: Sequential.backward chains the layers (dL/dx of the input and of every parameter).
    /// Smooth layers only (ReLU kinks have their own test), so finite differences are exact to O(h²).
    func testSequentialChain() throws {
        let spec = ModelSpec(inputShape: [2, 6, 6], layers: [
            .conv2d(inChannels: 2, outChannels: 3, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: true),
            .batchNorm(features: 3, spatial: true, eps: 1e-5, momentum: 0.1),
            .avgPool2d(kernel: Size2(2), stride: Size2(2)), .flatten,
            .dense(inFeatures: 27, outFeatures: 4, bias: true),
        ], classes: 4)
        let model = try Sequential(spec: spec, seed: 3)
        var rng = TestRNG(16)
        let x = rng.tensor([3, 2, 6, 6])
        let labels: [Int32] = [1, 3, 0]
        let loss = SoftmaxCrossEntropy()
        func L(_ t: Tensor) -> Double { loss.evaluate(model.forward(t, ForwardContext(training: true)), labels: labels, gradient: false).loss }
        let out = model.forward(x, ForwardContext(training: true))
        let dx = model.backward(loss.evaluate(out, labels: labels, gradient: true).gradient!, needInputGradient: true)!
        let wgrad = (model.layers[0] as! Conv2D).weight.grad
        let h: Float = 1e-2
        for i in stride(from: 0, to: x.count, by: 7) {
            var xp = x, xm = x
            xp[flat: i] += h
            xm[flat: i] -= h
            XCTAssertEqual((L(xp) - L(xm)) / Double(2 * h), Double(dx[flat: i]), accuracy: 2e-3, "dx[\(i)]")
        }
        let w = (model.layers[0] as! Conv2D).weight
        for i in 0..<w.value.count {
            let o = w.value[flat: i]
            w.value[flat: i] = o + h; let lp = L(x)
            w.value[flat: i] = o - h; let lm = L(x)
            w.value[flat: i] = o
            XCTAssertEqual((lp - lm) / Double(2 * h), Double(wgrad[flat: i]), accuracy: 2e-3, "conv weight[\(i)]")
        }
    }
}
