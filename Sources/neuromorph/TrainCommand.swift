import ANN
import ArgumentParser
import CCore
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
            Writes into --out after every epoch: model.json + model.safetensors (PyTorch state-dict names), \
            metrics.json (per epoch: train_loss, test_accuracy, samples_per_second, ...) and \
            checkpoint.safetensors. The folder appears after the first epoch, complete; a run killed earlier \
            leaves nothing. --resume continues after the last checkpoint (restoring model and metrics from \
            it if a kill left them behind) and ends with the same weights as an uninterrupted run; --force \
            trains again into a folder an earlier `neuromorph train` wrote. Results do not depend on --threads.
            Example: neuromorph train configs/fmnist-cnn.yaml --out runs/cnn --epochs 3
            """)

    @Argument(help: "YAML training config (e.g. configs/fmnist-cnn.yaml).")
    var config: String

    @Option(name: .long, help: "Output folder for the model, metrics and checkpoints (a new or empty folder; see --resume, --force).")
    var out: String

    @Option(name: .long, parsing: .unconditional, help: "Number of epochs, 1 to 100000 (overrides training.epochs).")
    var epochs: Int?

    @Option(name: .long, parsing: .unconditional, help: "Random seed, \(FlagChecks.seedRange) (overrides training.seed): weights, shuffling, dropout.")
    var seed: Int?

    @Option(name: .long, parsing: .unconditional, help: "Mini-batch size, 1 to \(FlagChecks.maxBatch) (overrides training.batch_size).")
    var batchSize: Int?

    @Option(name: .long, parsing: .unconditional, help: "OpenMP threads, 1 to \(FlagChecks.maxThreads) (default: all cores). Does not change results.")
    var threads: Int?

    @Option(name: .long, parsing: .unconditional, help: "Train on the first N training images only.")
    var limitTrain: Int?

    @Option(name: .long, parsing: .unconditional, help: "Evaluate on the first N test images only.")
    var limitTest: Int?

    @Option(name: .long, help: "Folder of IDX files (overrides data.folder).")
    var data: String?

    @Flag(name: .long, help: "Continue from DIR/checkpoint.safetensors if DIR was written by neuromorph train (else start from scratch).")
    var resume = false

    @Flag(name: .long, help: "Train again into a folder an earlier neuromorph train wrote, replacing it after the first epoch.")
    var force = false

    func validate() throws {
        try FlagChecks.count("--epochs", epochs, 1...100_000)
        try FlagChecks.count("--batch-size", batchSize, 1...FlagChecks.maxBatch)
        try FlagChecks.threads(threads)
        try FlagChecks.count("--limit-train", limitTrain, 1...FlagChecks.maxImages)
        try FlagChecks.count("--limit-test", limitTest, 1...FlagChecks.maxImages)
        try FlagChecks.seed(seed)
        try FlagChecks.outFolder(out)
        if resume && force { throw ValidationError("--resume and --force exclude each other: --resume continues the run in --out, --force starts it again") }
    }

    func run() throws {
        applyANNWaitPolicy()
        try reportingErrors {
            var cfg = try TrainingConfig.load(path: config)
            if let epochs { cfg.options.epochs = epochs }
            if let seed { cfg.options.seed = UInt64(seed) }
            if let batchSize { cfg.options.batchSize = batchSize }
            if let data { cfg.data.folder = data }
            // claim --out before the data is read: a refused or busy folder fails at once
            let claim = try OutputClaim(out, policy: OutputPolicy(kind: .train, force: force, resume: resume, inputs: [config, cfg.data.folder]))
            let nthreads = threads ?? ThreadPolicy.defaultThreads
            let ds = cfg.data.dataset
            let train = try ds.load(.train, normalization: cfg.data.normalization, limit: limitTrain ?? cfg.data.limitTrain, threads: nthreads)
            let test = try ds.load(.test, normalization: cfg.data.normalization, limit: limitTest ?? cfg.data.limitTest, threads: nthreads)
            try cfg.checkData(train, test)
            let params = try Sequential(spec: cfg.model).namedParameters.reduce(0) { $0 + $1.parameter.value.count }
            printError("train: \(config): \(cfg.model.layers.count) layers, \(params) parameters; \(train.count) training / \(test.count) test images from \(ds.folder); \(cfg.options.epochs) epochs, batch \(cfg.options.batchSize), \(cfg.options.optimizer), seed \(cfg.options.seed), \(nthreads) threads")
            let run = try TrainingRun(spec: cfg.model, options: cfg.options, train: train, test: test, outDir: out, threads: nthreads)
            let metrics = try run.run(resume: resume, claim: claim) { printError($0) }
            if let acc = metrics.final_test_accuracy {
                print(String(format: "test accuracy %.2f%% after %d epochs; model in %@ (model.json, model.safetensors), metrics in %@/metrics.json",
                             100 * acc, metrics.epochs.count, out, out))
            }
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
