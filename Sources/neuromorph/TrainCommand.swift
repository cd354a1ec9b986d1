import ANN
import ArgumentParser
import CKernels
import Common
import Datasets
import Experiment
import Foundation

/// `neuromorph train CONFIG --out DIR`: trains a feed-forward network described in YAML and writes a
/// model folder (model.json + model.safetensors), metrics.json and a checkpoint per epoch.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a feed-forward network (MLP/CNN) from a YAML config.",
        discussion: """
            Writes into --out after every epoch (atomically): model.json + model.safetensors (PyTorch \
            state-dict names), metrics.json (per epoch: train_loss, test_accuracy, samples_per_second, ...) \
            and checkpoint.safetensors. --resume continues after the last checkpoint and ends with the \
            same weights as an uninterrupted run. Results do not depend on --threads.
            Example: neuromorph train configs/fmnist-cnn.yaml --out runs/cnn --epochs 3
            """)

    @Argument(help: "YAML training config (e.g. configs/fmnist-cnn.yaml).")
    var config: String

    @Option(name: .long, help: "Output folder for the model, metrics and checkpoints.")
    var out: String

    @Option(name: .long, help: "Number of epochs (overrides training.epochs).")
    var epochs: Int?

    @Option(name: .long, help: "Random seed (overrides training.seed): weights, shuffling, dropout.")
    var seed: Int?

    @Option(name: .long, help: "Mini-batch size (overrides training.batch_size).")
    var batchSize: Int?

    @Option(name: .long, help: "OpenMP threads (default: all cores). Does not change results.")
    var threads: Int?

    @Option(name: .long, help: "Train on the first N training images only.")
    var limitTrain: Int?

    @Option(name: .long, help: "Evaluate on the first N test images only.")
    var limitTest: Int?

    @Option(name: .long, help: "Folder of IDX files (overrides data.folder).")
    var data: String?

    @Flag(name: .long, help: "Continue from DIR/checkpoint.safetensors if it exists.")
    var resume = false

    func validate() throws {
        for (name, v) in [("--epochs", epochs), ("--batch-size", batchSize), ("--threads", threads),
                          ("--limit-train", limitTrain), ("--limit-test", limitTest)] {
            if let v, v <= 0 { throw ValidationError("\(name) must be > 0, found \(v)") }
        }
        if let seed, seed < 0 { throw ValidationError("--seed must be >= 0, found \(seed)") }
    }

    func run() throws {
        applyANNWaitPolicy()
        do {
            var cfg = try TrainingConfig.load(path: config)
            if let epochs { cfg.options.epochs = epochs }
            if let seed { cfg.options.seed = UInt64(seed) }
            if let batchSize { cfg.options.batchSize = batchSize }
            if let data { cfg.data.folder = data }
            let nthreads = threads ?? ThreadPolicy.defaultThreads
            let ds = cfg.data.dataset
            let train = try ds.load(.train, normalization: cfg.data.normalization, limit: limitTrain ?? cfg.data.limitTrain, threads: nthreads)
            let test = try ds.load(.test, normalization: cfg.data.normalization, limit: limitTest ?? cfg.data.limitTest, threads: nthreads)
            try cfg.checkData(train, test)
            let params = try Sequential(spec: cfg.model).namedParameters.reduce(0) { $0 + $1.parameter.value.count }
            printError("train: \(config): \(cfg.model.layers.count) layers, \(params) parameters; \(train.count) training / \(test.count) test images from \(ds.folder); \(cfg.options.epochs) epochs, batch \(cfg.options.batchSize), \(cfg.options.optimizer), seed \(cfg.options.seed), \(nthreads) threads")
            let run = try TrainingRun(spec: cfg.model, options: cfg.options, train: train, test: test, outDir: out, threads: nthreads)
            let metrics = try run.run(resume: resume) { printError($0) }
            if let acc = metrics.final_test_accuracy {
                print(String(format: "test accuracy %.2f%% after %d epochs; model in %@ (model.json, model.safetensors), metrics in %@/metrics.json",
                             100 * acc, metrics.epochs.count, out, out))
            }
        } catch let e as ConfigError {
            throw CLIFailure(e.description)
        } catch let e as DatasetError {
            throw CLIFailure(e.description)
        } catch let e as ANNError {
            throw CLIFailure(e.description)
        } catch let e as IOError {
            throw CLIFailure(e.description)
        }
    }
}

/// OpenMP idle-wait policy for ANN work: idle workers sleep at once (`KMP_BLOCKTIME=0`) unless the
/// user set `OMP_WAIT_POLICY` or `KMP_BLOCKTIME`. ANN parallel regions are long (GEMM blocks, batches of
/// convolution chunks), so waking a sleeping worker costs little, while a spinning one steals the core
/// on a busy 2-core machine: measured in experiments/ann-bench/OMP_POLICY.md (the SNN default of 1 ms
/// suits its many short regions better).
func applyANNWaitPolicy() {
    let env = ProcessInfo.processInfo.environment
    if env["OMP_WAIT_POLICY"] == nil && env["KMP_BLOCKTIME"] == nil { nm_set_blocktime(0) }
}

/// A user-facing failure: the message is printed as "error: ..." and the exit code is 1.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
