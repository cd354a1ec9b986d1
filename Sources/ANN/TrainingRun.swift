import Common
import Datasets
import Foundation

/// Metrics of one epoch, as written to metrics.json (accuracies are fractions in [0, 1]).
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var learning_rate: Double
    public var train_loss: Double
    public var train_accuracy: Double
    public var test_loss: Double
    public var test_accuracy: Double
    /// Training throughput over the epoch (forward + backward + update), samples per second.
    public var samples_per_second: Double
    /// Inference throughput on the test set, images per second.
    public var inference_images_per_second: Double
    public var train_seconds: Double
}

/// metrics.json: the run's settings and one entry per finished epoch.
public struct TrainingMetrics: Codable, Sendable {
    public var seed: UInt64
    public var threads: Int
    public var batch_size: Int
    public var train_samples: Int
    public var test_samples: Int
    public var optimizer: String
    public var epochs: [EpochMetrics]
    public var final_test_accuracy: Double?
}

/// A whole training run with files: trains `options.epochs` epochs, evaluates on the test set after
/// each, and writes into `outDir` (atomically, after every epoch):
/// - `checkpoint.safetensors`: model state ("model.<key>") + optimiser state ("optimizer.<key>") and,
///   in the metadata, the epochs done, the options fingerprint and the metrics so far;
/// - `model.json` + `model.safetensors` (a `ModelDirectory`) and `metrics.json`.
/// With `resume`, it continues after the last checkpoint; the final weights are bit-identical to an
/// uninterrupted run with the same options (everything random is derived from (seed, epoch, step)).
public final class TrainingRun {
    public static let checkpointFile = "checkpoint.safetensors"
    public let trainer: Trainer
    public let train: LabeledImages
    public let test: LabeledImages
    public let outDir: String

    /// Builds the model from `spec` with weights drawn from `options.seed`.
    public init(spec: ModelSpec, options: TrainingOptions, train: LabeledImages, test: LabeledImages, outDir: String, threads: Int) throws {
        let model = try Sequential(spec: spec, initializer: options.initializer, seed: options.seed)
        trainer = Trainer(model: model, options: options, threads: threads)
        self.train = train
        self.test = test
        self.outDir = outDir
    }

    public var model: Sequential { trainer.model }

    var fingerprint: String {
        "\(trainer.options.fingerprint) train=\(train.count) arch=\((try? String(data: JSONOutput.encode(model.spec), encoding: .utf8)) ?? "")"
    }

    /// Runs the remaining epochs. `log` receives one line per epoch (and notes); `progress` draws a
    /// live line on stderr when it is a terminal.
    @discardableResult
    public func run(resume: Bool, progress: Bool = isatty(2) != 0, log: (String) -> Void) throws -> TrainingMetrics {
        let opts = trainer.options
        var metrics = TrainingMetrics(seed: opts.seed, threads: trainer.threads, batch_size: opts.batchSize, train_samples: train.count,
                                      test_samples: test.count, optimizer: opts.optimizer.description, epochs: [], final_test_accuracy: nil)
        var start = 0
        let ckpt = "\(outDir)/\(Self.checkpointFile)"
        if resume {
            if FileManager.default.fileExists(atPath: ckpt) {
                (start, metrics.epochs) = try loadCheckpoint(ckpt)
                log("resuming after epoch \(start) from \(ckpt)")
            } else {
                log("no checkpoint in \(outDir); starting from scratch")
            }
        }
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        if start >= opts.epochs { log("already trained \(start) epochs (>= \(opts.epochs)); nothing to do") }
        for epoch in start..<max(start, opts.epochs) {
            let label = "epoch \(epoch + 1)/\(opts.epochs)"
            let bar = ProgressReporter(label: label, total: Double(train.count), enabled: progress)
            let stats = try trainer.trainEpoch(epoch, data: train) { p in
                let rate = p.seconds > 0 ? Double(p.samples) / p.seconds : 0
                bar.update(Double(p.samples), extra: String(format: "batch %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s",
                                                            p.batch, p.batches, p.meanLoss, 100 * p.accuracy, rate))
            }
            bar.finish()
            let evalBar = ProgressReporter(label: "  test", total: Double(test.count), enabled: progress)
            let ev = try Evaluation.run(model, on: test, batchSize: opts.evalBatchSize, threads: trainer.threads, loss: trainer.loss) {
                evalBar.update(Double($0))
            }
            evalBar.finish()
            let m = EpochMetrics(epoch: epoch + 1, learning_rate: trainer.optimizer.learningRate, train_loss: stats.loss,
                                 train_accuracy: stats.accuracy, test_loss: ev.loss, test_accuracy: ev.accuracy,
                                 samples_per_second: stats.samplesPerSecond, inference_images_per_second: ev.imagesPerSecond,
                                 train_seconds: stats.seconds)
            metrics.epochs.append(m)
            metrics.final_test_accuracy = ev.accuracy
            try saveCheckpoint(ckpt, epochsDone: epoch + 1, metrics: metrics.epochs)
            try ModelDirectory.save(model, to: outDir, metadata: ["epochs": "\(epoch + 1)", "seed": "\(opts.seed)"])
            try JSONOutput.write(metrics, to: URL(fileURLWithPath: "\(outDir)/metrics.json"))
            log(String(format: "%@  train_loss %.4f  train_acc %.2f%%  test_loss %.4f  test_acc %.2f%%  %.0f samples/s  %.1f s",
                       label, stats.loss, 100 * stats.accuracy, ev.loss, 100 * ev.accuracy, stats.samplesPerSecond, stats.seconds))
        }
        metrics.final_test_accuracy = metrics.epochs.last?.test_accuracy
        if start >= opts.epochs { try JSONOutput.write(metrics, to: URL(fileURLWithPath: "\(outDir)/metrics.json")) }
        return metrics
    }

    func saveCheckpoint(_ path: String, epochsDone: Int, metrics: [EpochMetrics]) throws {
        let entries = model.stateDict().map { (key: "model.\($0.key)", value: $0.value) }
            + trainer.optimizer.state().map { (key: "optimizer.\($0.key)", value: $0.value) }
        let metricsText = String(data: try JSONOutput.encode(metrics, pretty: false), encoding: .utf8) ?? "[]"
        try Safetensors.write(entries, metadata: ["epochs_done": "\(epochsDone)", "fingerprint": fingerprint, "metrics": metricsText], to: path)
    }

    func loadCheckpoint(_ path: String) throws -> (Int, [EpochMetrics]) {
        let (tensors, meta) = try Safetensors.read(path: path)
        guard let doneText = meta["epochs_done"], let done = Int(doneText), let fp = meta["fingerprint"] else {
            throw ANNError.file(path: path, message: "not a neuromorph training checkpoint (metadata lacks epochs_done/fingerprint)")
        }
        guard fp == fingerprint else {
            throw ANNError.file(path: path, message: "the checkpoint was made with other settings (architecture, data size, seed, optimizer or batch size differ); use another --out folder or the same config.\n  checkpoint: \(fp.prefix(300))\n  this run:   \(fingerprint.prefix(300))")
        }
        var modelState: [String: StateValue] = [:], optState: [String: StateValue] = [:]
        for (k, v) in tensors {
            if k.hasPrefix("model.") { modelState[String(k.dropFirst(6))] = v } else if k.hasPrefix("optimizer.") { optState[String(k.dropFirst(10))] = v }
        }
        try model.loadState(modelState, source: path)
        try trainer.optimizer.loadState(optState, parameters: model.namedParameters.map(\.parameter))
        let metrics = (try? JSONDecoder().decode([EpochMetrics].self, from: Data((meta["metrics"] ?? "[]").utf8))) ?? []
        return (done, metrics)
    }
}
