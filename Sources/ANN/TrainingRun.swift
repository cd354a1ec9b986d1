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
/// each, and writes into `outDir`:
/// - `checkpoint.safetensors`: model state ("model.<key>") + optimiser state ("optimizer.<key>") and,
///   in the metadata, the epochs done, the options fingerprint and the metrics so far;
/// - `model.json` + `model.safetensors` (a `ModelDirectory`) and `metrics.json`.
/// The folder follows the output policy (`OutputClaim`, kind `train`): it is locked for the whole run,
/// the first epoch is written into a staging folder that appears as `outDir` only when the checkpoint,
/// model and metrics of epoch 1 are all in it (a run killed earlier leaves no folder), and later epochs
/// replace the files one by one (checkpoint first). With `resume`, it continues after the last
/// checkpoint, first checking that model and metrics match it and restoring them from it when they do
/// not (a run killed between two files); the final weights are bit-identical to an uninterrupted run
/// with the same options (everything random is derived from (seed, epoch, step)).
public final class TrainingRun {
    public static let checkpointFile = "checkpoint.safetensors"
    public static let metricsFile = "metrics.json"
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

    /// Runs the remaining epochs. `claim` is `outDir` claimed under the output policy (kind `train`,
    /// `resume` as here); without one, `outDir` is claimed with `OutputPolicy(kind: .train, resume:)`.
    /// `log` receives one line per epoch (and notes); `progress` draws a live line on stderr when it
    /// is a terminal.
    @discardableResult
    public func run(resume: Bool, claim: OutputClaim? = nil, progress: Bool = isatty(2) != 0, log: (String) -> Void) throws -> TrainingMetrics {
        let claim = try claim ?? OutputClaim(outDir, policy: OutputPolicy(kind: .train, resume: resume))
        let opts = trainer.options
        var metrics = TrainingMetrics(seed: opts.seed, threads: trainer.threads, batch_size: opts.batchSize, train_samples: train.count,
                                      test_samples: test.count, optimizer: opts.optimizer.description, epochs: [], final_test_accuracy: nil)
        var start = 0
        let dest = claim.destination.path
        var staged: AtomicDirectory? = nil
        if resume && claim.state == .sameKind {
            let ckpt = "\(dest)/\(Self.checkpointFile)"
            guard FileManager.default.fileExists(atPath: ckpt) else {
                throw ANNError.file(path: "\(outDir)/\(Self.checkpointFile)", message: "missing, so the run in \(outDir) cannot be resumed; pass --force instead of --resume to train again from scratch")
            }
            do {
                (start, metrics.epochs) = try loadCheckpoint(ckpt)
            } catch ANNError.file(let path, let message) where path == ckpt {   // named as the user wrote the folder
                throw ANNError.file(path: "\(outDir)/\(Self.checkpointFile)", message: message)
            }
            metrics.final_test_accuracy = metrics.epochs.last?.test_accuracy
            log("resuming after epoch \(start) from \(outDir)/\(Self.checkpointFile)")
            let problems = inconsistencies(in: dest, epochs: start, metrics: metrics.epochs)
            if !problems.isEmpty {
                log("\(outDir): \(problems.joined(separator: "; ")); restoring \(ModelDirectory.weightsFile), \(ModelDirectory.specFile) and \(Self.metricsFile) from the checkpoint (epoch \(start))")
                try writeModelAndMetrics(dest, epoch: start, metrics: metrics)
            }
        } else {
            if resume { log("no checkpoint in \(outDir); starting from scratch") }
            staged = try AtomicDirectory(claim: claim)
        }
        if start >= opts.epochs { log("already trained \(start) epochs (>= \(opts.epochs)); nothing to do") }
        do { try trainEpochs(from: start, metrics: &metrics, staged: &staged, dest: dest, progress: progress, log: log) } catch ANNError.nonFinite(let m) where start > 0 {
            // a resumed run starts from the checkpoint's weights: a changed or corrupt file shows up here
            throw ANNError.nonFinite("\(m) (resumed from \(outDir)/\(Self.checkpointFile) after epoch \(start): if that file was changed, train again with --force)")
        }
        metrics.final_test_accuracy = metrics.epochs.last?.test_accuracy
        return metrics
    }

    /// Epochs `start` ..< epochs: train, evaluate, then checkpoint, model and metrics (the first epoch of a
    /// new folder into `staged`, committed with them).
    func trainEpochs(from start: Int, metrics: inout TrainingMetrics, staged: inout AtomicDirectory?, dest: String, progress: Bool,
                     log: (String) -> Void) throws {
        let opts = trainer.options
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
            let folder = staged?.staging.path ?? dest
            try saveCheckpoint("\(folder)/\(Self.checkpointFile)", epochsDone: epoch + 1, metrics: metrics.epochs)
            try writeModelAndMetrics(folder, epoch: epoch + 1, metrics: metrics)
            if let s = staged {   // the first epoch: the folder appears with checkpoint, model and metrics
                try s.commit()
                staged = nil
            }
            log(String(format: "%@  train_loss %.4f  train_acc %.2f%%  test_loss %.4f  test_acc %.2f%%  %.0f samples/s  %.1f s",
                       label, stats.loss, 100 * stats.accuracy, ev.loss, 100 * ev.accuracy, stats.samplesPerSecond, stats.seconds))
        }
    }

    /// The model files and metrics.json of `epoch` (the checkpoint holds the same state).
    func writeModelAndMetrics(_ folder: String, epoch: Int, metrics: TrainingMetrics) throws {
        try ModelDirectory.save(model, to: folder, metadata: ["epochs": "\(epoch)", "seed": "\(trainer.options.seed)"])
        try JSONOutput.write(metrics, to: URL(fileURLWithPath: "\(folder)/\(Self.metricsFile)"))
    }

    /// What in `folder` does not match the checkpoint just loaded (model state = the checkpoint's,
    /// `epochs` done, `metrics` from its metadata): one phrase per file, empty when all agree.
    func inconsistencies(in folder: String, epochs: Int, metrics: [EpochMetrics]) -> [String] {
        var problems: [String] = []
        let weights = "\(folder)/\(ModelDirectory.weightsFile)"
        if !FileManager.default.fileExists(atPath: weights) {
            problems.append("\(ModelDirectory.weightsFile) is missing")
        } else if let (tensors, meta) = try? Safetensors.read(path: weights) {
            let expected = Dictionary(model.stateDict().map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if meta["epochs"] != "\(epochs)" {
                problems.append("\(ModelDirectory.weightsFile) holds epoch \(meta["epochs"] ?? "?"), the checkpoint epoch \(epochs)")
            } else if tensors != expected {
                problems.append("\(ModelDirectory.weightsFile) holds other weights than the checkpoint")
            }
        } else {
            problems.append("\(ModelDirectory.weightsFile) cannot be read")
        }
        if let spec = try? ModelDirectory.loadSpec(folder) {
            if spec != model.spec { problems.append("\(ModelDirectory.specFile) describes another architecture") }
        } else {
            problems.append("\(ModelDirectory.specFile) is missing or unreadable")
        }
        let metricsPath = "\(folder)/\(Self.metricsFile)"
        if let data = FileManager.default.contents(atPath: metricsPath), let m = try? JSONOutput.decoder.decode(TrainingMetrics.self, from: data) {
            // compared as written (NaN-safe: a NaN metric equals itself in its JSON form)
            if (try? JSONOutput.encode(m.epochs)) != (try? JSONOutput.encode(metrics)) {
                problems.append("\(Self.metricsFile) lists \(m.epochs.count) epoch\(m.epochs.count == 1 ? "" : "s"), the checkpoint \(metrics.count)")
            }
        } else {
            problems.append("\(Self.metricsFile) is missing or unreadable")
        }
        return problems
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
            throw ANNError.file(path: path, message: "the checkpoint was made with other settings (\(Self.differences(fp, fingerprint))); resume with the same config and flags, or train into another --out folder")
        }
        var modelState: [String: StateValue] = [:], optState: [String: StateValue] = [:]
        for (k, v) in tensors {
            if k.hasPrefix("model.") { modelState[String(k.dropFirst(6))] = v } else if k.hasPrefix("optimizer.") { optState[String(k.dropFirst(10))] = v }
        }
        try model.loadState(modelState, source: path)
        do {
            try trainer.optimizer.loadState(optState, parameters: model.namedParameters.map(\.parameter))
        } catch ANNError.invalidModel(let m) {
            throw ANNError.file(path: path, message: "\(m.replacingOccurrences(of: "optimizer state '", with: "tensor 'optimizer.")); the checkpoint cannot be resumed, pass --force instead of --resume to train again")
        }
        let metrics = (try? JSONOutput.decoder.decode([EpochMetrics].self, from: Data((meta["metrics"] ?? "[]").utf8))) ?? []
        guard done >= 0, metrics.count == done else {
            throw ANNError.file(path: path, message: "the checkpoint says \(done) epochs are done but holds metrics of \(metrics.count); it cannot be resumed, pass --force instead of --resume to train again")
        }
        return (done, metrics)
    }

    /// The settings in which two fingerprints differ, as "seed 11 in the checkpoint, 12 in this run".
    static func differences(_ checkpoint: String, _ current: String) -> String {
        func fields(_ fp: String) -> [(String, String)] {
            var out: [(String, String)] = []
            for tok in fp.split(separator: " ") {
                if out.last?.0 != "arch", let eq = tok.firstIndex(of: "="), tok[..<eq].allSatisfy({ $0.isLetter }) {
                    out.append((String(tok[..<eq]), String(tok[tok.index(after: eq)...])))
                } else if !out.isEmpty {
                    out[out.count - 1].1 += " " + tok
                }
            }
            return out
        }
        let a = Dictionary(fields(checkpoint), uniquingKeysWith: { x, _ in x }), b = fields(current)
        let names = ["batch": "batch size", "opt": "optimizer", "train": "training images", "arch": "architecture", "init": "initializer"]
        let diffs = b.compactMap { key, value -> String? in
            guard let old = a[key], old != value else { return nil }
            let name = names[key] ?? key
            return key == "arch" ? "the architecture differs" : "\(name) \(old.prefix(60)) in the checkpoint, \(value.prefix(60)) in this run"
        }
        return diffs.isEmpty ? "the settings differ" : diffs.joined(separator: "; ")
    }
}
