@testable import ANN
import Datasets
import Foundation
import XCTest

/// Small deterministic pseudo-random numbers for tests (splitmix64), independent of the code under test.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double { lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53) }
    mutating func tensor(_ shape: [Int], _ lo: Double = -1, _ hi: Double = 1) -> Tensor {
        Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float(uniform(lo, hi)) })
    }
    /// Values bounded away from zero (|v| in [0.1, 1]) so ReLU kinks are not crossed by finite differences.
    mutating func awayFromZero(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in
            let v = Float(uniform(0.1, 1)); return next() & 1 == 0 ? v : -v
        })
    }
}

/// Σ r_i y_i in Double: a scalar objective whose gradient with respect to y is r.
func dot(_ y: Tensor, _ r: [Double]) -> Double {
    var s = 0.0
    y.withUnsafeBufferPointer { p in for i in 0..<p.count { s += Double(p[i]) * r[i] } }
    return s
}

/// Finite-difference check of a layer: dL/dx and dL/dθ from `backward` against central differences
/// of L = Σ r·forward(x), evaluated in the given mode. Fails with the worst element.
func gradientCheck(_ layer: Layer, input x: Tensor, training: Bool = true, h: Float = 1e-2, tol: Double = 1e-2,
                   file: StaticString = #filePath, line: UInt = #line) {
    var rng = TestRNG(99)
    let ctx = ForwardContext(training: training, threads: 1, seed: 5, step: 3, layerIndex: 2)
    let forward: (Tensor) -> Tensor = { t in
        if !training, let bn = layer as? BatchNorm { return bn.forwardFrozen(t) }
        return layer.forward(t, ctx)
    }
    let y = forward(x)
    let r = (0..<y.count).map { _ in rng.uniform() }
    let dx = layer.backward(Tensor(shape: y.shape, values: r.map(Float.init)), needInputGradient: true, threads: 1)!
    XCTAssertEqual(dx.shape, x.shape, "dx shape", file: file, line: line)
    let analytic = layer.parameters.map { $0.grad }

    func check(_ name: String, _ ana: Tensor, _ numeric: (Int) -> Double) {
        var worst = 0.0, worstAt = -1, worstVals = (0.0, 0.0)
        for i in 0..<ana.count {
            let num = numeric(i), a = Double(ana[flat: i])
            let err = abs(num - a) / max(1, abs(num), abs(a))
            if err > worst { worst = err; worstAt = i; worstVals = (num, a) }
        }
        XCTAssertLessThanOrEqual(worst, tol, "\(type(of: layer)) \(name)[\(worstAt)]: numeric \(worstVals.0) vs analytic \(worstVals.1)", file: file, line: line)
    }
    check("dx", dx) { i in
        var xp = x, xm = x
        xp[flat: i] += h
        xm[flat: i] -= h
        return (dot(forward(xp), r) - dot(forward(xm), r)) / Double(2 * h)
    }
    for (p, g) in zip(layer.parameters, analytic) {
        check(p.name, g) { i in
            let orig = p.value[flat: i]
            p.value[flat: i] = orig + h
            let lp = dot(forward(x), r)
            p.value[flat: i] = orig - h
            let lm = dot(forward(x), r)
            p.value[flat: i] = orig
            return (lp - lm) / Double(2 * h)
        }
    }
    _ = layer.backward // keep API referenced
}

/// A synthetic image classification set: class k images have a bright k-th row band plus noise.
func syntheticImages(count: Int, seed: UInt64, shape: [Int] = [1, 28, 28], classes: Int = 10) -> LabeledImages {
    var rng = TestRNG(seed)
    let size = shape.reduce(1, *)
    var px = [Float](repeating: 0, count: count * size)
    var labels = [Int32](repeating: 0, count: count)
    let h = shape[1], w = shape[2]
    for n in 0..<count {
        let k = Int(rng.next() % UInt64(classes))
        labels[n] = Int32(k)
        for i in 0..<size { px[n * size + i] = Float(rng.uniform(0, 0.5)) }
        let row = (k * h) / classes
        for x in 0..<w { px[n * size + row * w + x] += 1 }
    }
    return LabeledImages(sampleShape: shape, pixels: px, labels: labels, classCount: classes, source: "synthetic")
}

/// Path of the Fashion-MNIST folder when installed, else nil.
var fashionMNISTAvailable: Bool {
    FileManager.default.fileExists(atPath: IDXDataset.fashionMNISTFolder + "/train-images-idx3-ubyte.gz")
}
