@testable import ANN
import XCTest

/// Optimiser steps against values computed by hand (in Double) from the published update rules.
final class OptimizerTests: XCTestCase {
    func param(_ v: [Float]) -> Parameter { Parameter(name: "weight", value: Tensor(shape: [v.count], values: v)) }

    func testSGDMomentumWeightDecay() {
        let p = param([1.0, -2.0])
        let sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        let grads: [[Float]] = [[0.5, 0.25], [-1.0, 0.5], [0.2, 0.0]]
        var w = [1.0, -2.0], buf = [0.0, 0.0]
        for (t, g) in grads.enumerated() {
            p.grad = Tensor(shape: [2], values: g)
            sgd.step([p], threads: 1)
            for i in 0..<2 {
                let d = Double(g[i]) + 0.01 * w[i]
                buf[i] = t == 0 ? d : 0.9 * buf[i] + d
                w[i] -= 0.1 * buf[i]
                XCTAssertEqual(Double(p.value[flat: i]), w[i], accuracy: 1e-6, "step \(t) element \(i)")
            }
        }
    }

    func testPlainSGDAndNesterov() {
        let p = param([3.0])
        let sgd = SGD(learningRate: 0.5)
        p.grad = Tensor(shape: [1], values: [2])
        sgd.step([p], threads: 1)
        XCTAssertEqual(p.value[flat: 0], 2.0)
        let q = param([1.0])
        let nes = SGD(learningRate: 0.1, momentum: 0.5, nesterov: true)
        q.grad = Tensor(shape: [1], values: [1]); nes.step([q], threads: 1)   // buf = 1, step = 1 + 0.5
        XCTAssertEqual(Double(q.value[flat: 0]), 1 - 0.1 * 1.5, accuracy: 1e-6)
        q.grad = Tensor(shape: [1], values: [1]); nes.step([q], threads: 1)   // buf = 1.5, step = 1 + 0.75
        XCTAssertEqual(Double(q.value[flat: 0]), 0.85 - 0.1 * 1.75, accuracy: 1e-6)
    }

    func testAdam() {
        let p = param([0.5, -1.5, 2.0])
        let adam = Adam(learningRate: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)
        var w = [0.5, -1.5, 2.0], m = [0.0, 0, 0], v = [0.0, 0, 0]
        let grads: [[Float]] = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.0, 0.2]]
        for (s, g) in grads.enumerated() {
            let t = Double(s + 1)
            p.grad = Tensor(shape: [3], values: g)
            adam.step([p], threads: 1)
            for i in 0..<3 {
                let d = Double(g[i]) + 0.1 * w[i]
                m[i] = 0.9 * m[i] + 0.1 * d
                v[i] = 0.999 * v[i] + 0.001 * d * d
                let mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.999, t))
                w[i] -= 0.01 * mh / (vh.squareRoot() + 1e-8)
                XCTAssertEqual(Double(p.value[flat: i]), w[i], accuracy: 1e-6, "step \(s + 1) element \(i)")
            }
        }
        XCTAssertEqual(adam.stepCount, 3)
    }

    func testRMSpropWithAndWithoutMomentum() {
        for momentum in [0.0, 0.8] {
            let p = param([1.0, 2.0])
            let opt = RMSprop(learningRate: 0.01, alpha: 0.9, eps: 1e-6, weightDecay: 0, momentum: momentum)
            var w = [1.0, 2.0], sq = [0.0, 0.0], buf = [0.0, 0.0]
            for g in [[Float(0.5), -0.5], [0.1, 0.3]] {
                p.grad = Tensor(shape: [2], values: g)
                opt.step([p], threads: 1)
                for i in 0..<2 {
                    sq[i] = 0.9 * sq[i] + 0.1 * Double(g[i]) * Double(g[i])
                    let u = Double(g[i]) / (sq[i].squareRoot() + 1e-6)
                    if momentum > 0 { buf[i] = momentum * buf[i] + u; w[i] -= 0.01 * buf[i] } else { w[i] -= 0.01 * u }
                    XCTAssertEqual(Double(p.value[flat: i]), w[i], accuracy: 1e-6)
                }
            }
        }
    }

    func testOptimizerStateRoundTrip() throws {
        let p = param([1, 2, 3])
        let a = Adam(learningRate: 0.1)
        p.grad = Tensor(shape: [3], values: [1, -1, 0.5])
        a.step([p], threads: 1)
        let b = Adam(learningRate: 0.1)
        try b.loadState(Dictionary(uniqueKeysWithValues: a.state().map { ($0.key, $0.value) }), parameters: [p])
        let q = param(p.value.scalars)
        q.grad = p.grad
        a.step([p], threads: 1)
        b.step([q], threads: 1)
        XCTAssertTrue(p.value.bitwiseEqual(q.value))
    }

    func testSchedules() {
        let step = LearningRateSchedule.step(stepSize: 3, gamma: 0.5)
        XCTAssertEqual([0, 2, 3, 5, 6, 9].map { step.learningRate(base: 0.1, epoch: $0) }, [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])
        let cosine = LearningRateSchedule.cosine(epochs: 10, minimum: 0.001)
        XCTAssertEqual(cosine.learningRate(base: 0.1, epoch: 0), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cosine.learningRate(base: 0.1, epoch: 5), (0.1 + 0.001) / 2, accuracy: 1e-12)
        XCTAssertEqual(cosine.learningRate(base: 0.1, epoch: 10), 0.001, accuracy: 1e-12)
        XCTAssertEqual(cosine.learningRate(base: 0.1, epoch: 3), 0.001 + 0.099 * (1 + cos(Double.pi * 0.3)) / 2, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule.constant.learningRate(base: 0.3, epoch: 7), 0.3)
    }
}
