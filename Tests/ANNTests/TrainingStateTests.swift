@testable import ANN
import Common
import Datasets
import Foundation
import XCTest

/// Training state on disk (checkpoint, model, metrics) as one unit: `--resume` finds files a kill left
/// out of step with the checkpoint, says which, and restores them from it, ending bit-identical to an
/// uninterrupted run; the output folder follows the output policy.
final class TrainingStateTests: XCTestCase {
    let spec = ModelSpec(inputShape: [1, 8, 8], layers: [
        .flatten, .dense(inFeatures: 64, outFeatures: 16, bias: true), .relu, .dense(inFeatures: 16, outFeatures: 10, bias: true),
    ])
    let train = syntheticImages(count: 120, seed: 5, shape: [1, 8, 8]), test = syntheticImages(count: 30, seed: 6, shape: [1, 8, 8])
    var base: String!

    override func setUpWithError() throws {
        base = NSTemporaryDirectory() + "nm-state-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let base { try? FileManager.default.removeItem(atPath: base) } }

    func options(_ epochs: Int) -> TrainingOptions {
        TrainingOptions(epochs: epochs, batchSize: 16, seed: 4, optimizer: .sgd(learningRate: 0.05, momentum: 0.9, weightDecay: 0, nesterov: false))
    }

    @discardableResult
    func train(_ dir: String, epochs: Int, resume: Bool, log: inout [String]) throws -> TrainingMetrics {
        var lines: [String] = []
        defer { log += lines }
        return try TrainingRun(spec: spec, options: options(epochs), train: train, test: test, outDir: dir, threads: 1)
            .run(resume: resume, progress: false) { lines.append($0) }
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// The case: killed after the epoch-2 checkpoint but before the model and metrics. Before,
    /// `--resume` said "nothing to do" and kept the epoch-1 model under the checkpoint's 2 epochs; now it
    /// names both files and restores them, and a further epoch ends as an uninterrupted run does.
    func testResumeRestoresModelAndMetricsBehindTheCheckpoint() throws {
        var log: [String] = []
        let full2 = base + "/full2", full3 = base + "/full3", part = base + "/part"
        try train(full2, epochs: 2, resume: false, log: &log)
        try train(full3, epochs: 3, resume: false, log: &log)
        try train(part, epochs: 1, resume: false, log: &log)
        let model1 = try bytes(part + "/model.safetensors"), metrics1 = try bytes(part + "/metrics.json")
        try train(part, epochs: 2, resume: true, log: &log)
        XCTAssertEqual(try bytes(part + "/model.safetensors"), try bytes(full2 + "/model.safetensors"))
        // the state a kill between checkpoint and model leaves
        try model1.write(to: URL(fileURLWithPath: part + "/model.safetensors"))
        try metrics1.write(to: URL(fileURLWithPath: part + "/metrics.json"))
        log = []
        let m = try train(part, epochs: 2, resume: true, log: &log)
        let note = log.first { $0.contains("restoring") } ?? ""
        XCTAssertTrue(note.contains("model.safetensors holds epoch 1, the checkpoint epoch 2"), "\(log)")
        XCTAssertTrue(note.contains("metrics.json lists 1 epoch, the checkpoint 2"), "\(log)")
        XCTAssertTrue(log.contains { $0.contains("nothing to do") }, "\(log)")
        XCTAssertEqual(m.epochs.count, 2)
        XCTAssertEqual(try bytes(part + "/model.safetensors"), try bytes(full2 + "/model.safetensors"), "model restored from the checkpoint")
        let metrics = try JSONDecoder().decode(TrainingMetrics.self, from: bytes(part + "/metrics.json"))
        let reference = try JSONDecoder().decode(TrainingMetrics.self, from: bytes(full2 + "/metrics.json"))
        XCTAssertEqual(metrics.epochs.map(\.test_accuracy), reference.epochs.map(\.test_accuracy))
        XCTAssertEqual(metrics.epochs.map(\.epoch), [1, 2])
        // consistent now: resuming again changes nothing and says nothing about restoring
        log = []
        try train(part, epochs: 2, resume: true, log: &log)
        XCTAssertFalse(log.contains { $0.contains("restoring") }, "\(log)")
        try train(part, epochs: 3, resume: true, log: &log)
        XCTAssertEqual(try bytes(part + "/model.safetensors"), try bytes(full3 + "/model.safetensors"), "resumed after repair = uninterrupted")
    }

    /// Other weights under the right epoch count, or a missing model.json, are found too.
    func testResumeFindsOtherWeightsAndMissingFiles() throws {
        var log: [String] = []
        let a = base + "/a", b = base + "/b"
        try train(a, epochs: 1, resume: false, log: &log)
        var other = options(1)
        other.seed = 99
        try TrainingRun(spec: spec, options: other, train: train, test: test, outDir: b, threads: 1).run(resume: false, progress: false) { _ in }
        let good = try bytes(a + "/model.safetensors")
        try bytes(b + "/model.safetensors").write(to: URL(fileURLWithPath: a + "/model.safetensors"))   // same epoch, other weights
        try FileManager.default.removeItem(atPath: a + "/model.json")
        log = []
        try train(a, epochs: 1, resume: true, log: &log)
        let note = log.first { $0.contains("restoring") } ?? ""
        XCTAssertTrue(note.contains("model.safetensors holds other weights than the checkpoint"), "\(log)")
        XCTAssertTrue(note.contains("model.json is missing"), "\(log)")
        XCTAssertEqual(try bytes(a + "/model.safetensors"), good)
        XCTAssertEqual(try ModelDirectory.loadSpec(a), spec)
    }

    /// The output policy for training folders: never a folder it did not write; --resume needs the
    /// checkpoint; without --resume or --force an earlier run is not replaced; with --force it is.
    func testTrainingFolderPolicy() throws {
        var log: [String] = []
        let user = base + "/user"
        try FileManager.default.createDirectory(atPath: user, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: user + "/notes.txt"))
        for resume in [false, true] {
            XCTAssertThrowsError(try train(user, epochs: 1, resume: resume, log: &log)) { e in
                XCTAssertTrue("\(e)".contains("\(user) exists and was not written by neuromorph train"), "\(e)")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: user), ["notes.txt"])
        let run = base + "/run"
        try train(run, epochs: 1, resume: false, log: &log)
        XCTAssertEqual(OutputPolicy.markerKind(of: run), "train")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: run)),
                       [OutputPolicy.markerFile, "checkpoint.safetensors", "model.json", "model.safetensors", "metrics.json"])
        XCTAssertThrowsError(try train(run, epochs: 1, resume: false, log: &log)) { XCTAssertTrue("\($0)".contains("--force"), "\($0)") }
        let first = try bytes(run + "/model.safetensors")
        var o2 = options(1)
        o2.seed = 8
        do {   // the claim (and its lock) lasts as long as this scope
            let claim = try OutputClaim(run, policy: OutputPolicy(kind: .train, force: true))
            try TrainingRun(spec: spec, options: o2, train: train, test: test, outDir: run, threads: 1).run(resume: false, claim: claim, progress: false) { _ in }
        }
        XCTAssertNotEqual(try bytes(run + "/model.safetensors"), first, "--force trained again")
        try FileManager.default.removeItem(atPath: run + "/checkpoint.safetensors")
        XCTAssertThrowsError(try train(run, epochs: 2, resume: true, log: &log)) { e in
            XCTAssertTrue("\(e)".contains("checkpoint.safetensors: missing, so the run in \(run) cannot be resumed"), "\(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: base).sorted(), ["run", "user"], "no staging folder or lock left")
    }
}
