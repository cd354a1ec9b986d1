import Foundation
import XCTest
@testable import ANN

/// QCFS activations inside residual blocks: the block's backward (straight-through QCFS) against
/// finite differences of the same block with each QCFS replaced by its local surrogate, model files,
/// training determinism and `--resume`.
final class QCFSResidualTests: XCTestCase {
    /// The QCFS forward with the floor's offset frozen at a reference point (set by the first call):
    /// g(x, λ) = λ (clamp(x/λ, 0, 1) L + 1/2 + δ0)/L, δ0 = floor(z0) − z0, z0 = clamp(x0/λ, 0, 1) L + 1/2.
    /// Smooth in x and λ away from the clamp's kinks, equal to QCFS at the reference point; its
    /// derivatives are what the straight-through estimator claims. Forward only.
    final class FrozenQCFS: Layer {
        let levels: Int
        let threshold: Parameter
        var delta: [Double] = []
        /// Smallest distance of a reference input to a clamp kink (0 or λ), in units of λ.
        var margin = Double.infinity
        init(levels: Int, threshold: Parameter) { self.levels = levels; self.threshold = threshold }
        var spec: LayerSpec { .qcfs(levels: levels, thresholds: threshold.value.count, initialThreshold: 1) }
        func lam(_ i: Int, _ x: Tensor) -> Double {
            let n = threshold.value.count
            let per = x.count / (x.shape[0] * x.shape[1])
            return Double(threshold.value[flat: n == 1 ? 0 : (i / per) % x.shape[1]])
        }
        func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
            let L = Double(levels)
            if delta.isEmpty {
                delta = (0..<x.count).map { i in
                    let u = Double(x[flat: i]) / lam(i, x)
                    margin = min(margin, abs(u), abs(u - 1))
                    let z = min(max(u, 0), 1) * L + 0.5
                    return z.rounded(.down) - z
                }
            }
            var y = x
            for i in 0..<x.count {
                let l = lam(i, x)
                y[flat: i] = Float(l * (min(max(Double(x[flat: i]) / l, 0), 1) * L + 0.5 + delta[i]) / L)
            }
            return y
        }
        func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? { nil }
    }

    /// Residual(body: conv → QCFS (per channel) → conv → BN, shortcut: identity or conv): dL/dx and
    /// dL/dθ of every parameter (both convolutions, BN, λ) from `backward` against central differences
    /// of L = Σ r · block(x) with the QCFS replaced by `FrozenQCFS` (same parameters).
    func checkBlock(convShortcut: Bool, seed: UInt64) {
        var rng = TestRNG(seed)
        let inC = convShortcut ? 2 : 3   // the identity shortcut needs as many channels in as out
        let c1 = Conv2D(inChannels: inC, outChannels: 3, kernel: Size2(3), padding: Size2(1), seed: seed)
        c1.bias!.value = rng.tensor([3], 0.2, 0.6)
        let bn = BatchNorm(features: 3, spatial: true)   // after the second conv (training mode)
        bn.gamma.value = rng.tensor([3], 0.8, 1.4)
        bn.beta.value = rng.tensor([3], -0.3, 0.3)
        let q = QCFS(levels: 4, thresholdCount: 3)
        q.threshold.value = Tensor(shape: [3], values: [0.9, 1.3, 1.7])
        let c2 = Conv2D(inChannels: 3, outChannels: 3, kernel: Size2(3), padding: Size2(1), seed: seed + 1)
        let sc = Conv2D(inChannels: inC, outChannels: 3, kernel: Size2(1), bias: false, seed: seed + 2)
        let block = Residual(body: [c1, q, c2, bn], shortcut: convShortcut ? [sc] : [])
        let input = rng.tensor([2, inC, 4, 4], -1, 1)
        let ctx = ForwardContext(training: true, threads: 1)
        let y = block.forward(input, ctx)
        let r = (0..<y.count).map { _ in rng.uniform() }
        let dx = block.backward(Tensor(shape: y.shape, values: r.map(Float.init)), needInputGradient: true, threads: 1)!
        let analytic = block.parameters.map { $0.grad }

        let frozen = FrozenQCFS(levels: 4, threshold: q.threshold)
        func surrogate(_ t: Tensor) -> Tensor {
            var h = t
            for l in [c1, frozen, c2, bn] as [Layer] { h = l.forward(h, ctx) }
            var s = t
            if convShortcut { s = sc.forward(t, ctx) }
            for i in 0..<h.count { h[flat: i] += s[flat: i] }
            return h
        }
        let y0 = surrogate(input)
        for i in 0..<y.count { XCTAssertEqual(y0[flat: i], y[flat: i], accuracy: 1e-5, "the surrogate equals the block at the point") }
        // a step h moves a QCFS input by at most h (|x| ≤ 1, conv weights and bias) or h·u/λ (λ): kept
        // below the distance of every QCFS input to a clamp kink, the differences stay on one linear piece
        XCTAssertGreaterThan(frozen.margin, 1e-3, "QCFS inputs away from the clamp's kinks")
        let h = Float(min(1e-3, 0.5 * frozen.margin * 0.9))
        func check(_ name: String, _ ana: Tensor, _ numeric: (Int) -> Double) {
            var worst = 0.0, at = -1
            for i in 0..<ana.count {
                let err = abs(numeric(i) - Double(ana[flat: i])) / max(1, abs(Double(ana[flat: i])))
                if err > worst { worst = err; at = i }
            }
            XCTAssertLessThanOrEqual(worst, 2e-2, "\(name)[\(at)] (conv shortcut \(convShortcut))")
        }
        check("dx", dx) { i in
            var xp = input, xm = input
            xp[flat: i] += h; xm[flat: i] -= h
            return (dot(surrogate(xp), r) - dot(surrogate(xm), r)) / Double(2 * h)
        }
        for (p, g) in zip(block.parameters, analytic) {
            check(p.name, g) { i in
                let orig = p.value[flat: i]
                p.value[flat: i] = orig + h
                let lp = dot(surrogate(input), r)
                p.value[flat: i] = orig - h
                let lm = dot(surrogate(input), r)
                p.value[flat: i] = orig
                return (lp - lm) / Double(2 * h)
            }
        }
        XCTAssertTrue(block.parameters.map(\.name).contains("body.1.thresh"))
        XCTAssertNotEqual(q.threshold.grad.scalars, [0, 0, 0], "λ inside the block receives a gradient")
    }

    func testGradientOfResidualBlockWithQCFS() {
        checkBlock(convShortcut: false, seed: 41)
        checkBlock(convShortcut: true, seed: 42)
    }

    /// conv-BN-QCFS stem, a block with QCFS in its body, QCFS after the addition, global average
    /// pooling, QCFS, dense.
    func spec() -> ModelSpec {
        ModelSpec(inputShape: [1, 8, 8], layers: [
            .conv2d(inChannels: 1, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: false),
            .batchNorm(features: 4, spatial: true, eps: 1e-5, momentum: 0.1),
            .qcfs(levels: 4, thresholds: 1, initialThreshold: 2),
            .residual(body: [
                .conv2d(inChannels: 4, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: false),
                .batchNorm(features: 4, spatial: true, eps: 1e-5, momentum: 0.1),
                .qcfs(levels: 4, thresholds: 4, initialThreshold: 2),
                .conv2d(inChannels: 4, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: false),
                .batchNorm(features: 4, spatial: true, eps: 1e-5, momentum: 0.1),
            ], shortcut: []),
            .qcfs(levels: 4, thresholds: 1, initialThreshold: 2),
            .globalAvgPool, .qcfs(levels: 4, thresholds: 1, initialThreshold: 1), .flatten,
            .dense(inFeatures: 4, outFeatures: 10, bias: true),
        ])
    }

    /// Training moves the thresholds inside the block, gives the same weights on 1 and 2 threads,
    /// `--resume` ends bit-identical to an uninterrupted run, the model file keeps the block's λ, and a
    /// non-positive λ inside a block is refused when loading.
    func testTrainingDeterminismResumeAndModelFile() throws {
        let base = NSTemporaryDirectory() + "nm-qcfs-res-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let train = syntheticImages(count: 160, seed: 7, shape: [1, 8, 8]), test = syntheticImages(count: 40, seed: 8, shape: [1, 8, 8])
        let opts = TrainingOptions(epochs: 2, batchSize: 20, seed: 5, optimizer: .adam(learningRate: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        var weights: [Data] = []
        for threads in [1, 2] {
            let d = base + "/t\(threads)"
            _ = try TrainingRun(spec: spec(), options: opts, train: train, test: test, outDir: d, threads: threads).run(resume: false, progress: false) { _ in }
            weights.append(try Data(contentsOf: URL(fileURLWithPath: d + "/model.safetensors")))
        }
        XCTAssertEqual(weights[0], weights[1], "1 vs 2 threads")
        let m = try ModelDirectory.load(base + "/t1")
        XCTAssertEqual(m.spec.layers, spec().layers)
        let lam = ((m.layers[3] as! Residual).body[2] as! QCFS).threshold.value.scalars
        XCTAssertEqual(lam.count, 4)
        XCTAssertTrue(lam.allSatisfy { $0 > 0 } && lam.contains { abs($0 - 2) > 1e-4 }, "λ inside the block trained: \(lam)")
        // resume: 1 epoch then 1 more = 2 uninterrupted
        let part = base + "/part"
        var o1 = opts; o1.epochs = 1
        _ = try TrainingRun(spec: spec(), options: o1, train: train, test: test, outDir: part, threads: 2).run(resume: false, progress: false) { _ in }
        _ = try TrainingRun(spec: spec(), options: opts, train: train, test: test, outDir: part, threads: 1).run(resume: true, progress: false) { _ in }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: part + "/model.safetensors")), weights[0], "resumed = uninterrupted")
        // a block's λ ≤ 0 in the model file is refused, naming the tensor
        ((m.layers[3] as! Residual).body[2] as! QCFS).threshold.value = Tensor(shape: [4], values: [1, 0, 1, 1])
        let bad = base + "/bad"
        try ModelDirectory.save(m, to: bad)
        XCTAssertThrowsError(try ModelDirectory.load(bad)) { e in
            XCTAssertTrue("\(e)".contains("3.body.2.thresh") && "\(e)".contains("> 0"), "\(e)")
        }
    }
}
