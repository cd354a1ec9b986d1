@testable import ANN
import Common
import Datasets
import Foundation
import XCTest

/// `train --resume` reads the optimiser state of checkpoint.safetensors as strictly as model weights:
/// a missing, reshaped, non-finite, negative (second moments) or unknown tensor is refused with the
/// checkpoint's path and the tensor's name, before anything is trained or written back (fuzz cases
/// model-0033 and model-0242: an inf in Adam's exp_avg_sq was accepted and written into the next
/// checkpoint; model-0147: a reshaped tensor was refused without naming the file).
final class CheckpointValidationTests: XCTestCase {
    let spec = ModelSpec(inputShape: [1, 6, 6], layers: [
        .flatten, .dense(inFeatures: 36, outFeatures: 8, bias: true), .relu, .dense(inFeatures: 8, outFeatures: 10, bias: true),
    ])
    let train = syntheticImages(count: 64, seed: 2, shape: [1, 6, 6]), test = syntheticImages(count: 16, seed: 3, shape: [1, 6, 6])
    var base: String!

    override func setUpWithError() throws {
        base = NSTemporaryDirectory() + "nm-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let base { try? FileManager.default.removeItem(atPath: base) } }

    func run(_ dir: String, epochs: Int, resume: Bool, optimizer: OptimizerSpec) throws -> TrainingMetrics {
        let opts = TrainingOptions(epochs: epochs, batchSize: 16, seed: 7, optimizer: optimizer)
        return try TrainingRun(spec: spec, options: opts, train: train, test: test, outDir: dir, threads: 1)
            .run(resume: resume, progress: false) { _ in }
    }

    /// Rewrites the checkpoint of `dir` with `edit` applied to its tensors (metadata kept).
    func editCheckpoint(_ dir: String, _ edit: (inout [String: StateValue]) -> Void) throws {
        let path = dir + "/checkpoint.safetensors"
        var (tensors, meta) = try Safetensors.read(path: path)
        edit(&tensors)
        try Safetensors.write(tensors.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }, metadata: meta, to: path)
    }

    func float(_ v: StateValue?) -> Tensor { if case .float(let t)? = v { return t }; return Tensor(zeros: [1]) }

    func testCorruptOptimizerStateIsRefusedNamingCheckpointAndTensor() throws {
        let adam = OptimizerSpec.adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
        let reference = base + "/ref"
        _ = try run(reference, epochs: 1, resume: false, optimizer: adam)
        let good = try Data(contentsOf: URL(fileURLWithPath: reference + "/checkpoint.safetensors"))
        let cases: [(String, (inout [String: StateValue]) -> Void, [String])] = [
            ("inf second moment", { var t = self.float($0["optimizer.2.exp_avg_sq"]); t[flat: 5] = .infinity; $0["optimizer.2.exp_avg_sq"] = .float(t) },
             ["tensor 'optimizer.2.exp_avg_sq' holds +inf at index 5 of 80", "finite"]),
            ("NaN first moment", { var t = self.float($0["optimizer.1.exp_avg"]); t[flat: 3] = .nan; $0["optimizer.1.exp_avg"] = .float(t) },
             ["tensor 'optimizer.1.exp_avg' holds NaN at index 3 of 8"]),
            ("negative second moment", { var t = self.float($0["optimizer.0.exp_avg_sq"]); t[flat: 0] = -1; $0["optimizer.0.exp_avg_sq"] = .float(t) },
             ["tensor 'optimizer.0.exp_avg_sq' holds -1.0 at index 0", ">= 0"]),
            ("reshaped", { $0["optimizer.0.exp_avg_sq"] = .float(Tensor(zeros: [8, 36, 1])) },
             ["tensor 'optimizer.0.exp_avg_sq' has shape [8, 36, 1], expected float32 [8, 36]"]),
            ("renamed", { $0["optimizer.3.exp_avg_x"] = $0.removeValue(forKey: "optimizer.3.exp_avg") },
             ["tensor 'optimizer.3.exp_avg' is missing (expected float32 [10])"]),
            ("unknown", { $0["optimizer.0.momentum_buffer"] = .float(Tensor(zeros: [8, 36])) },
             ["unexpected tensor 'optimizer.0.momentum_buffer'", "'exp_avg', 'exp_avg_sq'"]),
            ("negative step", { $0["optimizer.step"] = .int64(-4) }, ["tensor 'optimizer.step' is -4, expected a count >= 0"]),
        ]
        for (name, edit, parts) in cases {
            let dir = base + "/case"
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.copyItem(atPath: reference, toPath: dir)
            try editCheckpoint(dir, edit)
            let edited = try Data(contentsOf: URL(fileURLWithPath: dir + "/checkpoint.safetensors"))
            XCTAssertThrowsError(try run(dir, epochs: 2, resume: true, optimizer: adam), name) { error in
                let msg = "\(error)"
                XCTAssertTrue(msg.hasPrefix(dir + "/checkpoint.safetensors: "), "\(name): names the checkpoint: \(msg)")
                for p in parts { XCTAssertTrue(msg.contains(p), "\(name): '\(p)' not in: \(msg)") }
                XCTAssertTrue(msg.contains("--force"), "\(name): says what to do: \(msg)")
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/checkpoint.safetensors")), edited,
                           "\(name): the refused checkpoint is not rewritten")
        }
        // the control: the same edit machinery with an unchanged (finite, in-range) value resumes
        let dir = base + "/control"
        try FileManager.default.copyItem(atPath: reference, toPath: dir)
        try editCheckpoint(dir) { var t = self.float($0["optimizer.2.exp_avg_sq"]); t[flat: 5] = 0.25; $0["optimizer.2.exp_avg_sq"] = .float(t) }
        XCTAssertEqual(try run(dir, epochs: 2, resume: true, optimizer: adam).epochs.count, 2)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: reference + "/checkpoint.safetensors")), good)
    }

    /// Weights that are finite but absurd (a changed or corrupt checkpoint) pass the load-time checks; the
    /// resumed run stops at the first non-finite value, and the message points at the checkpoint it
    /// resumed from.
    func testDivergenceOfAResumedRunNamesTheCheckpoint() throws {
        let adam = OptimizerSpec.adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
        let dir = base + "/huge"
        _ = try run(dir, epochs: 1, resume: false, optimizer: adam)
        try editCheckpoint(dir) { $0["model.1.weight"] = .float(Tensor(shape: [8, 36], repeating: 1e30)) }
        XCTAssertThrowsError(try run(dir, epochs: 2, resume: true, optimizer: adam)) { error in
            guard case ANNError.nonFinite(let m) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(m.hasPrefix("epoch 2, batch 1 of 4: "), m)
            XCTAssertTrue(m.contains("(resumed from \(dir)/checkpoint.safetensors after epoch 1: if that file was changed, train again with --force)"), m)
        }
    }

    /// SGD's momentum buffers and RMSprop's square averages get the same checks.
    func testOtherOptimizersStatesAreChecked() throws {
        let sgd = OptimizerSpec.sgd(learningRate: 0.05, momentum: 0.9, weightDecay: 0, nesterov: false)
        let rms = OptimizerSpec.rmsprop(learningRate: 1e-3, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0)
        for (opt, key, value, part) in [(sgd, "optimizer.1.momentum_buffer", Float.nan, "holds NaN at index 2"),
                                        (rms, "optimizer.1.square_avg", Float(-0.5), "holds -0.5 at index 2")] {
            let dir = base + "/\(key)"
            _ = try run(dir, epochs: 1, resume: false, optimizer: opt)
            try editCheckpoint(dir) { var t = self.float($0[key]); t[flat: 2] = value; $0[key] = .float(t) }
            XCTAssertThrowsError(try run(dir, epochs: 2, resume: true, optimizer: opt)) { error in
                XCTAssertTrue("\(error)".contains("checkpoint.safetensors: tensor '\(key)' \(part)"), "\(error)")
            }
        }
    }
}
