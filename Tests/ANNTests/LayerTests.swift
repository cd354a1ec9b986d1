@testable import ANN
import CANN
import Testing
import XCTest

/// Forward passes against direct loops written from the definitions, plus tensor semantics.
final class LayerTests: XCTestCase {
    /// Direct cross-correlation from the definition (zero padding).
    func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor, stride: Size2, pad: Size2) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * pad.h - kh) / stride.h + 1, ow = (wd + 2 * pad.w - kw) / stride.w + 1
        var y = Tensor(zeros: [n, o, oh, ow])
        for s in 0..<n { for k in 0..<o { for i in 0..<oh { for j in 0..<ow {
            var acc = Double(b[k])
            for ch in 0..<c { for u in 0..<kh { for v in 0..<kw {
                let yy = i * stride.h - pad.h + u, xx = j * stride.w - pad.w + v
                if yy >= 0 && yy < h && xx >= 0 && xx < wd { acc += Double(w[k, ch, u, v]) * Double(x[s, ch, yy, xx]) }
            } } }
            y[s, k, i, j] = Float(acc)
        } } } }
        return y
    }

    func testConvMatchesDefinition() {
        var rng = TestRNG(20)
        for (stride, pad, n) in [(Size2(1), Size2(0), 3), (Size2(2, 1), Size2(1, 2), 5), (Size2(1), Size2(2), 40)] {
            let l = Conv2D(inChannels: 3, outChannels: 4, kernel: Size2(3, 2), stride: stride, padding: pad, seed: 1)
            l.bias!.value = rng.tensor([4])
            let x = rng.tensor([n, 3, 7, 6])
            let y = l.forward(x, .eval(threads: 2))
            let ref = naiveConv(x, l.weight.value, l.bias!.value, stride: stride, pad: pad)
            XCTAssertEqual(y.shape, ref.shape)
            for i in 0..<y.count { XCTAssertEqual(y[flat: i], ref[flat: i], accuracy: 1e-5) }
        }
    }

    func testDenseMatchesDefinition() {
        var rng = TestRNG(21)
        let l = Dense(inFeatures: 300, outFeatures: 260, seed: 2)
        l.bias!.value = rng.tensor([260])
        let x = rng.tensor([33, 300])
        let y = l.forward(x, .eval(threads: 2))
        for n in [0, 17, 32] { for o in [0, 129, 259] {
            var acc = Double(l.bias!.value[o])
            for i in 0..<300 { acc += Double(x[n, i]) * Double(l.weight.value[o, i]) }
            XCTAssertEqual(Double(y[n, o]), acc, accuracy: 1e-4)
        } }
    }

    func testPoolsMatchDefinition() {
        let x = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map { Float(($0 * 7) % 16) })
        // x rows: [0 7 14 5] [12 3 10 1] [8 15 6 13] [4 11 2 9]
        let avg = AvgPool2D(kernel: Size2(2)).forward(x, .eval())
        let expectAvg: [Float] = [22.0 / 4, 30.0 / 4, 38.0 / 4, 30.0 / 4]  // window sums 0+7+12+3, 14+5+10+1, 8+15+4+11, 6+13+2+9
        XCTAssertEqual(avg.scalars, expectAvg)
        let mx = MaxPool2D(kernel: Size2(2)).forward(x, .eval())
        XCTAssertEqual(mx.scalars, [12, 14, 15, 13])
        let mx3 = MaxPool2D(kernel: Size2(3), stride: Size2(1)).forward(x, .eval())
        XCTAssertEqual(mx3.shape, [1, 1, 2, 2])
        XCTAssertEqual(mx3.scalars, [15, 15, 15, 15])
    }

    func testBatchNormTrainingAndEval() {
        var rng = TestRNG(22)
        let bn = BatchNorm(features: 2, spatial: true, eps: 1e-5, momentum: 0.1)
        let x = rng.tensor([4, 2, 3, 3], -2, 5)
        let y = bn.forward(x, ForwardContext(training: true))
        for c in 0..<2 {
            var vals: [Double] = []
            for n in 0..<4 { for i in 0..<9 { vals.append(Double(x[n, c, i / 3, i % 3])) } }
            let mean = vals.reduce(0, +) / 36
            let varB = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 36
            let varU = varB * 36 / 35
            // Normalised output: zero mean, unit (biased) variance per channel.
            var ys: [Double] = []
            for n in 0..<4 { for i in 0..<9 { ys.append(Double(y[n, c, i / 3, i % 3])) } }
            XCTAssertEqual(ys.reduce(0, +) / 36, 0, accuracy: 1e-5)
            XCTAssertEqual(ys.map { $0 * $0 }.reduce(0, +) / 36, varB / (varB + 1e-5), accuracy: 1e-4)
            // Running statistics: 0.9 * initial + 0.1 * batch (unbiased variance), PyTorch's rule.
            XCTAssertEqual(Double(bn.runningMean[c]), 0.1 * mean, accuracy: 1e-5)
            XCTAssertEqual(Double(bn.runningVar[c]), 0.9 + 0.1 * varU, accuracy: 1e-5)
        }
        XCTAssertEqual(bn.numBatchesTracked, 1)
        // Evaluation uses the running statistics and leaves them alone.
        bn.gamma.value = Tensor(shape: [2], values: [2, 0.5])
        bn.beta.value = Tensor(shape: [2], values: [1, -1])
        let before = bn.runningMean
        let z = bn.forward(x, .eval())
        for c in 0..<2 {
            let rm = Double(bn.runningMean[c]), rv = Double(bn.runningVar[c])
            let expect = Double(bn.gamma.value[c]) * (Double(x[1, c, 2, 0]) - rm) / (rv + 1e-5).squareRoot() + Double(bn.beta.value[c])
            XCTAssertEqual(Double(z[1, c, 2, 0]), expect, accuracy: 1e-5)
        }
        XCTAssertTrue(before.bitwiseEqual(bn.runningMean))
        XCTAssertEqual(bn.numBatchesTracked, 1)
    }

    func testDropoutStatisticsAndEvalIdentity() {
        let d = Dropout(p: 0.3)
        let x = Tensor(shape: [100, 100], repeating: 1)
        let y = d.forward(x, ForwardContext(training: true, seed: 1, step: 0))
        let zeros = y.scalars.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / 10000, 0.3, accuracy: 0.02)
        XCTAssertTrue(y.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        let y2 = d.forward(x, ForwardContext(training: true, seed: 1, step: 1))
        XCTAssertFalse(y.bitwiseEqual(y2), "a new step draws a new mask")
        XCTAssertTrue(d.forward(x, .eval()).bitwiseEqual(x))
    }

    func testTensorCopyOnWriteAndShapes() {
        var a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = a
        a[1, 2] = 0
        XCTAssertEqual(a.scalars, [1, 2, 3, 4, 5, 0])
        XCTAssertEqual(b.scalars, [1, 2, 3, 4, 5, 6], "the copy keeps its values")
        let r = b.reshaped([3, 2])
        XCTAssertEqual(r[2, 1], 6)
        XCTAssertEqual(b.slice(1..<2).scalars, [4, 5, 6])
    }

    /// OpenBLAS alone is not bit-identical between 1 and 2 of its threads for this shape (measured);
    /// nm_gemm's fixed partition is, and it matches a direct product.
    func testGemmDeterministicAcrossThreads() {
        var rng = TestRNG(23)
        let (m, n, k) = (64, 512, 784)
        let a = rng.tensor([m, k]), b = rng.tensor([k, n])
        var c1 = Tensor(zeros: [m, n]), c2 = Tensor(zeros: [m, n])
        nm_gemm(0, 0, Int32(m), Int32(n), Int32(k), 1, a.readPointer, Int32(k), b.readPointer, Int32(n), 0, c1.writePointer(), Int32(n), 1)
        nm_gemm(0, 0, Int32(m), Int32(n), Int32(k), 1, a.readPointer, Int32(k), b.readPointer, Int32(n), 0, c2.writePointer(), Int32(n), 2)
        XCTAssertTrue(c1.bitwiseEqual(c2))
        for (i, j) in [(0, 0), (63, 511), (10, 300)] {
            var acc = 0.0
            for p in 0..<k { acc += Double(a[i, p]) * Double(b[p, j]) }
            XCTAssertEqual(Double(c1[i, j]), acc, accuracy: 1e-3)
        }
    }
}

@Test func modelSpecJSONRoundTrip() throws {
    let spec = ModelSpec(inputShape: [1, 28, 28], layers: [
        .conv2d(inChannels: 1, outChannels: 8, kernel: Size2(5), stride: Size2(1), padding: Size2(2), bias: false),
        .batchNorm(features: 8, spatial: true, eps: 1e-3, momentum: 0.05), .relu, .maxPool2d(kernel: Size2(2), stride: Size2(2)),
        .dropout(p: 0.25), .flatten, .dense(inFeatures: 1568, outFeatures: 10, bias: true),
    ])
    let data = try JSONEncoder().encode(spec)
    let back = try JSONDecoder().decode(ModelSpec.self, from: data)
    #expect(back == spec)
    #expect(try spec.shapes().last == [10])
}
