import ANN
import ArgumentParser
import CCore
import Common
import Datasets
import Foundation

/// `neuromorph eval MODEL`: accuracy and confusion matrix of a saved model on an IDX test set.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a saved model (folder with model.json + model.safetensors) on a test set.",
        discussion: """
            Prints accuracy, throughput and the confusion matrix (rows: true class, columns: predicted). \
            Pixels are scaled with the normalization stored in model.json.
            Example: neuromorph eval runs/cnn --limit 1000
            """)

    @Argument(help: "Model folder (model.json + model.safetensors) or its model.json.")
    var model: String

    @Option(name: .long, help: "Folder of IDX files (default: Fashion-MNIST in /usr/share/datasets/fashion-mnist).")
    var data: String = IDXDataset.fashionMNISTFolder

    @Option(name: .long, help: "File-name prefix choosing one family in the folder (e.g. emnist-digits-).")
    var prefix: String = ""

    @Option(name: .long, help: "Split to evaluate: test or train.")
    var split: String = "test"

    @Option(name: .long, parsing: .unconditional, help: "Evaluate the first N images only.")
    var limit: Int?

    @Option(name: .long, parsing: .unconditional, help: "Images per forward pass, 1 to \(FlagChecks.maxBatch) (does not change results).")
    var batchSize: Int = 1000

    @Option(name: .long, parsing: .unconditional, help: "OpenMP threads, 1 to \(FlagChecks.maxThreads) (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Also write the results as JSON to this file.")
    var json: String?

    @Option(name: .long, help: "Write the predicted class of every image as a NumPy .npy (int32 [N]).")
    var predictions: String?

    @Option(name: .long, help: "Write the network outputs (logits) as a NumPy .npy (float32 [N, classes]).")
    var outputs: String?

    @Flag(name: .long, help: "Replace existing --json/--predictions/--outputs files (only files of the same format).")
    var force = false

    func validate() throws {
        try FlagChecks.count("--limit", limit, 1...FlagChecks.maxImages)
        try FlagChecks.count("--batch-size", batchSize, 1...FlagChecks.maxBatch)
        try FlagChecks.threads(threads)
        guard split == "test" || split == "train" else { throw ValidationError("--split must be test or train, found '\(split)'") }
    }

    struct Output: Encodable {
        let model: String
        let data: String
        let count: Int
        let correct: Int
        let accuracy: Double
        let loss: Double
        let images_per_second: Double
        let confusion: [[Int]]
    }

    func run() throws {
        applyANNWaitPolicy()
        try reportingErrors {
            // output files are checked before any work: never an input, a folder, or a foreign file
            let inputs = [model, data]
            let predFile = try predictions.map { try OutputFile($0, option: "--predictions", format: .npy, force: force, inputs: inputs) }
            let outFile = try outputs.map { try OutputFile($0, option: "--outputs", format: .npy, force: force, inputs: inputs) }
            let jsonFile = try json.map { try OutputFile($0, option: "--json", format: .json, force: force, inputs: inputs) }
            let net = try ModelDirectory.load(model)
            let nthreads = threads ?? ThreadPolicy.defaultThreads
            let ds = IDXDataset(folder: data, prefix: prefix)
            let set = try ds.load(split == "train" ? .train : .test, normalization: net.normalization, limit: limit, threads: nthreads)
            guard set.sampleShape == net.inputShape else {
                throw UserError("\(data): images have shape \(set.sampleShape) but the model expects \(net.inputShape)")
            }
            let bar = ProgressReporter(label: "eval", total: Double(set.count))
            let ev = try Evaluation.run(net, on: set, batchSize: batchSize, threads: nthreads, keepOutputs: outputs != nil, source: model) { bar.update(Double($0)) }
            bar.finish()
            let names = net.classes == 10 && data.contains("fashion")
                ? ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"] : nil
            print(String(format: "accuracy %.2f%% (%d/%d) on %@ %@; loss %.4f; %.0f images/s (%d threads)",
                         100 * ev.accuracy, ev.correct, ev.count, data, split, ev.loss, ev.imagesPerSecond, nthreads))
            print("confusion matrix (rows: true class, columns: predicted):")
            print(ev.confusionTable(classNames: names))
            if let predFile {
                try predFile.write(NPY.encode(ev.predictions))
            }
            if let outFile, let values = ev.outputs {
                try outFile.write(NPY.encode(values, shape: [ev.count, values.count / max(ev.count, 1)]))
            }
            if let jsonFile {
                try jsonFile.write(JSONOutput.encode(Output(model: model, data: data, count: ev.count, correct: ev.correct, accuracy: ev.accuracy,
                                                            loss: ev.loss, images_per_second: ev.imagesPerSecond, confusion: ev.confusion)))
            }
        }
    }
}
