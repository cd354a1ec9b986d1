@testable import ANN
import Datasets
import Foundation
import XCTest

/// QCFS activation (Bu et al., ICLR 2022): forward against the paper's formula, backward against the
/// definition in the authors' code (straight-through floor, clamp gradient on [0, 1]) by finite
/// differences, thread-count independence, model files and training with a trained threshold.
final class QCFSTests: XCTestCase {
    /// The paper's h(x) = λ/L · clip(floor(x L/λ + 1/2), 0, L), in Double.
    func paper(_ x: Double, _ lam: Double, _ L: Int) -> Double {
        lam / Double(L) * min(max((x * Double(L) / lam + 0.5).rounded(.down), 0), Double(L))
    }

    func testForwardIsThePapersClipFloorShift() {
        var rng = TestRNG(21)
        for (L, perChannel) in [(1, false), (4, true), (8, false), (16, true)] {
            let c = 3
            let layer = QCFS(levels: L, thresholdCount: perChannel ? c : 1)
            layer.threshold.value = perChannel ? Tensor(shape: [c], values: [0.5, 1.7, 3]) : Tensor(shape: [1], values: [2.25])
            let x = rng.tensor([20, c, 4, 3], -1.5, 4)
            let y = layer.forward(x, .eval())
            var checked = 0, levelsSeen = Set<Int>()
            for i in 0..<x.count {
                let ch = (i / 12) % c
                let lam = Double(layer.threshold.value[flat: perChannel ? ch : 0])
                let z = Double(x[flat: i]) * Double(L) / lam + 0.5
                if abs(z - z.rounded()) < 1e-4 { continue }     // a float/double tie at a step edge
                XCTAssertEqual(Double(y[flat: i]), paper(Double(x[flat: i]), lam, L), accuracy: 1e-5 * lam, "L \(L) element \(i)")
                levelsSeen.insert(Int((Double(y[flat: i]) * Double(L) / lam).rounded()))
                checked += 1
            }
            XCTAssertGreaterThan(checked, x.count - 3)
            XCTAssertEqual(levelsSeen, Set(0...L), "every level 0...\(L) occurs (clip at both ends exercised)")
        }
    }

    /// The gradient the authors' code defines: y = λ · GradFloor(clamp(x/λ, 0, 1) L + 1/2)/L, where
    /// GradFloor's backward is the identity. Its gradient at (x0, λ0) equals the exact gradient of the
    /// local surrogate g(x, λ) = λ (clamp(x/λ, 0, 1) L + 1/2 + δ0)/L with the floor's offset
    /// δ0 = floor(z0) − z0 frozen. Central differences of g (in Double) check dL/dx and dL/dλ of
    /// `backward`, per layer and per channel, at points in all three regions (x < 0, 0 < x < λ, x > λ)
    /// kept away from the clamp's kinks. (The true forward is piecewise constant: its finite-difference
    /// input gradient is 0 away from the steps; the straight-through estimator deliberately is not.)
    func testBackwardIsTheStraightThroughGradientOfTheAuthorsCode() {
        var rng = TestRNG(22)
        for perChannel in [false, true] {
            let (n, c, per, L) = (3, 4, 5, 4)
            let layer = QCFS(levels: L, thresholdCount: perChannel ? c : 1)
            let lams: [Float] = perChannel ? [0.8, 1.5, 2.5, 4] : [2]
            layer.threshold.value = Tensor(shape: [lams.count], values: lams)
            func lam(_ i: Int) -> Double { Double(lams[perChannel ? (i / per) % c : 0]) }
            // values away from 0 and λ by at least 0.05 λ
            var xs: [Float] = []
            for i in 0..<(n * c * per) {
                var u: Double
                repeat { u = rng.uniform(-0.6, 1.6) } while abs(u) < 0.05 || abs(u - 1) < 0.05
                xs.append(Float(u * lam(i)))
            }
            let x = Tensor(shape: [n, c, per], values: xs)
            let r = (0..<x.count).map { _ in rng.uniform() }
            let y = layer.forward(x, ForwardContext(training: true))
            let dx = layer.backward(Tensor(shape: y.shape, values: r.map(Float.init)), needInputGradient: true, threads: 1)!
            let dlam = layer.threshold.grad
            // frozen floor offsets at the point
            let delta: [Double] = (0..<x.count).map { i in
                let z = min(max(Double(xs[i]) / lam(i), 0), 1) * Double(L) + 0.5
                return z.rounded(.down) - z
            }
            func g(_ xv: Double, _ lv: Double, _ i: Int) -> Double {
                lv * (min(max(xv / lv, 0), 1) * Double(L) + 0.5 + delta[i]) / Double(L)
            }
            // surrogate equals the forward at the point
            for i in 0..<x.count { XCTAssertEqual(g(Double(xs[i]), lam(i), i), Double(y[flat: i]), accuracy: 1e-5) }
            let h = 1e-4
            for i in 0..<x.count {
                let num = r[i] * (g(Double(xs[i]) + h, lam(i), i) - g(Double(xs[i]) - h, lam(i), i)) / (2 * h)
                XCTAssertEqual(Double(dx[flat: i]), num, accuracy: 1e-6, "dx[\(i)]")
            }
            for k in 0..<lams.count {
                var num = 0.0
                for i in 0..<x.count where lams.count == 1 || (i / per) % c == k {
                    num += r[i] * (g(Double(xs[i]), lam(i) + h, i) - g(Double(xs[i]), lam(i) - h, i)) / (2 * h)
                }
                XCTAssertEqual(Double(dlam[flat: k]), num, accuracy: 1e-4 * max(1, abs(num)), "dλ[\(k)] per channel \(perChannel)")
            }
            // closed form of the same definition: dλ = Σ r (y/λ − [0 ≤ x/λ ≤ 1] x/λ)
            var closed = [Double](repeating: 0, count: lams.count)
            for i in 0..<x.count {
                let u = Double(xs[i]) / lam(i)
                closed[lams.count == 1 ? 0 : (i / per) % c] += r[i] * (Double(y[flat: i]) / lam(i) - (u >= 0 && u <= 1 ? u : 0))
            }
            for k in 0..<lams.count { XCTAssertEqual(Double(dlam[flat: k]), closed[k], accuracy: 1e-4 * max(1, abs(closed[k]))) }
        }
    }

    func testForwardAndBackwardDoNotDependOnThreads() {
        var rng = TestRNG(23)
        let x = rng.tensor([40, 8, 16, 16], -1, 3)   // above the kernel's parallel threshold
        let dy = rng.tensor([40, 8, 16, 16])
        var outs: [(Tensor, Tensor, Tensor)] = []
        for threads in [1, 2, 3] {
            let layer = QCFS(levels: 8, thresholdCount: 8, initialThreshold: 1.5)
            let y = layer.forward(x, ForwardContext(training: true, threads: threads))
            let dx = layer.backward(dy, needInputGradient: true, threads: threads)!
            outs.append((y, dx, layer.threshold.grad))
        }
        for o in outs.dropFirst() {
            XCTAssertTrue(o.0.bitwiseEqual(outs[0].0)); XCTAssertTrue(o.1.bitwiseEqual(outs[0].1)); XCTAssertTrue(o.2.bitwiseEqual(outs[0].2))
        }
    }

    func qcfsSpec(perChannel: Bool) -> ModelSpec {
        ModelSpec(inputShape: [1, 8, 8], layers: [
            .conv2d(inChannels: 1, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(0), bias: true),
            .qcfs(levels: 4, thresholds: perChannel ? 4 : 1, initialThreshold: 2),
            .avgPool2d(kernel: Size2(2), stride: Size2(2)), .flatten,
            .dense(inFeatures: 36, outFeatures: 16, bias: true), .qcfs(levels: 4, thresholds: 1, initialThreshold: 3),
            .dense(inFeatures: 16, outFeatures: 10, bias: true),
        ])
    }

    func testModelFileRoundTripAndBadThresholds() throws {
        let dir = NSTemporaryDirectory() + "nm-qcfs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Sequential(spec: qcfsSpec(perChannel: true), seed: 3)
        (model.layers[1] as! QCFS).threshold.value = Tensor(shape: [4], values: [0.5, 1, 1.5, 2.5])
        try ModelDirectory.save(model, to: dir)
        let back = try ModelDirectory.load(dir)
        XCTAssertEqual(back.spec, model.spec)
        XCTAssertEqual(back.spec.layers[1], .qcfs(levels: 4, thresholds: 4, initialThreshold: 2))
        XCTAssertEqual((back.layers[1] as! QCFS).threshold.value.scalars, [0.5, 1, 1.5, 2.5])
        let x = syntheticImages(count: 5, seed: 1, shape: [1, 8, 8])
        let t = Tensor(shape: [5, 1, 8, 8], values: x.pixels)
        XCTAssertTrue(back.predict(t).bitwiseEqual(model.predict(t)))
        // a non-positive threshold is refused, naming the tensor
        var state = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.value) })
        state["1.thresh"] = .float(Tensor(shape: [4], values: [0.5, 0, 1, 1]))
        XCTAssertThrowsError(try back.loadState(state, source: "m.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("'1.thresh'") && "\(e)".contains("> 0"), "\(e)")
        }
        // wrong per-channel count against the architecture
        XCTAssertThrowsError(try ModelSpec(inputShape: [1, 8, 8], layers: [
            .conv2d(inChannels: 1, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(0), bias: true),
            .qcfs(levels: 4, thresholds: 3, initialThreshold: 1), .flatten, .dense(inFeatures: 144, outFeatures: 10, bias: true),
        ]).shapes()) { e in XCTAssertTrue("\(e)".contains("3 thresholds"), "\(e)") }
        for (bad, needle) in [(LayerSpec.qcfs(levels: 0, thresholds: 1, initialThreshold: 1), "levels"),
                              (.qcfs(levels: 4, thresholds: 1, initialThreshold: -1), "threshold")] {
            XCTAssertThrowsError(try bad.validate()) { e in XCTAssertTrue("\(e)".contains(needle), "\(e)") }
        }
        // model.json without levels
        let json = #"{"type": "qcfs", "thresholds": 1}"#.data(using: .utf8)!
        XCTAssertThrowsError(try JSONDecoder().decode(LayerSpec.self, from: json))
    }

    /// Training moves the thresholds, learns the synthetic task, gives the same weights on 1 and 2
    /// threads, and `--resume` ends bit-identical to an uninterrupted run.
    func testTrainingLearnsThresholdsDeterministicallyAndResumes() throws {
        let base = NSTemporaryDirectory() + "nm-qcfs-train-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let train = syntheticImages(count: 200, seed: 5, shape: [1, 8, 8]), test = syntheticImages(count: 60, seed: 6, shape: [1, 8, 8])
        let opts = TrainingOptions(epochs: 3, batchSize: 20, seed: 4, optimizer: .adam(learningRate: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        var weights: [Data] = []
        var last: TrainingMetrics?
        for threads in [1, 2] {
            let d = base + "/t\(threads)"
            last = try TrainingRun(spec: qcfsSpec(perChannel: true), options: opts, train: train, test: test, outDir: d, threads: threads)
                .run(resume: false, progress: false) { _ in }
            weights.append(try Data(contentsOf: URL(fileURLWithPath: d + "/model.safetensors")))
        }
        XCTAssertEqual(weights[0], weights[1], "1 vs 2 threads")
        XCTAssertGreaterThan(last!.epochs.last!.test_accuracy, 0.5, "learns the synthetic bands (chance 0.1)")
        let m = try ModelDirectory.load(base + "/t1")
        let lam = (m.layers[1] as! QCFS).threshold.value.scalars
        XCTAssertTrue(lam.allSatisfy { $0 > 0 } && lam.contains { abs($0 - 2) > 1e-3 }, "thresholds trained: \(lam)")
        // resume: 2 epochs then 1 more = 3 uninterrupted
        let part = base + "/part"
        var o2 = opts; o2.epochs = 2
        _ = try TrainingRun(spec: qcfsSpec(perChannel: true), options: o2, train: train, test: test, outDir: part, threads: 2).run(resume: false, progress: false) { _ in }
        _ = try TrainingRun(spec: qcfsSpec(perChannel: true), options: opts, train: train, test: test, outDir: part, threads: 1).run(resume: true, progress: false) { _ in }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: part + "/model.safetensors")), weights[0], "resumed = uninterrupted")
    }
}
