@testable import ANN
import Datasets
import Foundation
import XCTest

/// Whole training runs: determinism across thread counts, resume == uninterrupted, and learning.
final class TrainingTests: XCTestCase {
    /// A small CNN that exercises every kernel with threads: conv chunks, BN, dropout, pools, GEMM partition.
    let spec = ModelSpec(inputShape: [1, 28, 28], layers: [
        .conv2d(inChannels: 1, outChannels: 4, kernel: Size2(5), stride: Size2(1), padding: Size2(0), bias: false),
        .batchNorm(features: 4, spatial: true, eps: 1e-5, momentum: 0.1), .relu,
        .maxPool2d(kernel: Size2(2), stride: Size2(2)), .flatten,
        .dense(inFeatures: 576, outFeatures: 256, bias: true), .batchNorm(features: 256, spatial: false, eps: 1e-5, momentum: 0.1),
        .relu, .dropout(p: 0.2), .dense(inFeatures: 256, outFeatures: 10, bias: true),
    ])

    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "nm-train-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func weights(_ dir: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors")) }

    func testSameSeedSameWeightsOnOneAndTwoThreads() throws {
        let train = syntheticImages(count: 300, seed: 1), test = syntheticImages(count: 50, seed: 2)
        let opts = TrainingOptions(epochs: 2, batchSize: 64, seed: 7)
        var results: [Data] = []
        for threads in [1, 2] {
            let d = try tempDir()
            try TrainingRun(spec: spec, options: opts, train: train, test: test, outDir: d, threads: threads).run(resume: false, progress: false) { _ in }
            results.append(try weights(d))
        }
        XCTAssertEqual(results[0], results[1], "weights differ between 1 and 2 threads")
        // A different seed gives different weights (the comparison can fail).
        let d = try tempDir()
        var o2 = opts
        o2.seed = 8
        try TrainingRun(spec: spec, options: o2, train: train, test: test, outDir: d, threads: 2).run(resume: false, progress: false) { _ in }
        XCTAssertNotEqual(try weights(d), results[0])
    }

    func testResumeEqualsUninterrupted() throws {
        let train = syntheticImages(count: 200, seed: 3), test = syntheticImages(count: 40, seed: 4)
        var opts = TrainingOptions(epochs: 3, batchSize: 32, seed: 11,
                                   optimizer: .sgd(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: false),
                                   schedule: .step(stepSize: 1, gamma: 0.5))
        let full = try tempDir()
        let m1 = try TrainingRun(spec: spec, options: opts, train: train, test: test, outDir: full, threads: 2).run(resume: false, progress: false) { _ in }
        let part = try tempDir()
        opts.epochs = 1
        try TrainingRun(spec: spec, options: opts, train: train, test: test, outDir: part, threads: 1).run(resume: false, progress: false) { _ in }
        XCTAssertNotEqual(try weights(part), try weights(full))
        opts.epochs = 3
        var lines: [String] = []
        let m2 = try TrainingRun(spec: spec, options: opts, train: train, test: test, outDir: part, threads: 2).run(resume: true, progress: false) { lines.append($0) }
        XCTAssertTrue(lines.first?.contains("resuming after epoch 1") ?? false, "\(lines)")
        XCTAssertEqual(try weights(part), try weights(full), "resumed run ends with other weights")
        XCTAssertEqual(m2.epochs.count, 3)
        XCTAssertEqual(m1.epochs.map(\.test_accuracy), m2.epochs.map(\.test_accuracy))
        // metrics.json has the documented fields.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: part + "/metrics.json"))) as! [String: Any]
        let e = (json["epochs"] as! [[String: Any]])[2]
        for k in ["epoch", "train_loss", "test_accuracy", "samples_per_second"] { XCTAssertNotNil(e[k], k) }
        XCTAssertEqual(e["epoch"] as? Int, 3)
        // A checkpoint from other settings is refused.
        opts.seed = 12
        XCTAssertThrowsError(try TrainingRun(spec: spec, options: opts, train: train, test: test, outDir: part, threads: 1).run(resume: true, progress: false) { _ in }) {
            XCTAssertTrue("\($0)".contains("other settings"), "\($0)")
        }
    }

    /// One pass over 5,000 Fashion-MNIST images with the MLP of configs/fmnist-mlp.yaml must reach
    /// > 75 % test accuracy (first 2,000 test images). Typical: ~80 %.
    func testFashionMNISTSubsetLearns() throws {
        try XCTSkipUnless(fashionMNISTAvailable, "Fashion-MNIST is not installed (bash scripts/setup.sh)")
        let ds = IDXDataset()
        let train = try ds.load(.train, normalization: .fashionMNIST, limit: 5000)
        let test = try ds.load(.test, normalization: .fashionMNIST, limit: 2000)
        let mlp = ModelSpec(inputShape: [1, 28, 28], layers: [
            .flatten, .dense(inFeatures: 784, outFeatures: 512, bias: true), .relu,
            .dense(inFeatures: 512, outFeatures: 256, bias: true), .relu, .dense(inFeatures: 256, outFeatures: 10, bias: true),
        ], normalization: .fashionMNIST)
        let d = try tempDir()
        let m = try TrainingRun(spec: mlp, options: TrainingOptions(epochs: 1, batchSize: 64, seed: 1), train: train, test: test,
                                outDir: d, threads: 2).run(resume: false, progress: false) { _ in }
        let acc = try XCTUnwrap(m.final_test_accuracy)
        XCTAssertGreaterThan(acc, 0.75, "accuracy after one pass over 5000 images")
        // The saved model evaluates to the same accuracy.
        let loaded = try ModelDirectory.load(d)
        XCTAssertEqual(try Evaluation.run(loaded, on: test, batchSize: 500, threads: 2).accuracy, acc)
    }
}
