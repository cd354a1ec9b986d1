import ANN
import ArgumentParser
import CCore
import Common
import Conversion
import Datasets
import Foundation

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a trained dense/CNN model to a spiking network of IF neurons.",
        discussion: """
            Folds BatchNorm, normalizes weights from calibration images (percentile of activations, layer- or \
            channel-wise), maps conv/dense layers to weight-shared projections, average pooling to a fixed \
            projection and max pooling to spike-count gating. Unsupported layers are refused with their index. \
            Writes SNN_DIR/network.json + weights.safetensors, which `neuromorph simulate SNN_DIR` and \
            `neuromorph compare MODEL SNN_DIR` read.
            Example: neuromorph convert runs/cnn --out runs/cnn-snn
            """)

    @Argument(help: "Model folder (model.json + model.safetensors), e.g. written by `neuromorph train`.")
    var model: String

    @Option(name: .long, help: "Output folder for the converted network (a new or empty folder, or one an earlier convert wrote with --force).")
    var out: String

    @Flag(name: .long, help: "Replace an existing --out folder written by an earlier neuromorph convert.")
    var force = false

    @OptionGroup var flags: ConversionFlags

    @Option(name: .long, parsing: .unconditional, help: "Threads for calibration, 1 to \(FlagChecks.maxThreads) (default: all cores).")
    var threads: Int?

    func validate() throws {
        try FlagChecks.threads(threads)
        try FlagChecks.outFolder(out)
    }

    func run() throws {
        let options = try flags.options()
        try reportingErrors {
            // claim --out first: never the model folder, a folder holding it, or a folder convert did not write
            let dir = try AtomicDirectory(out, policy: OutputPolicy(kind: .convert, force: force, inputs: [model, flags.data]))
            let net = try ModelDirectory.load(model)
            let nthreads = threads ?? Int(nm_max_threads())
            // a QCFS model needs no calibration images (its thresholds are the scales): no data is read
            let cal = try Converter.needsCalibration(net, options: options)
                ? IDXDataset(folder: flags.data, prefix: flags.prefix).load(.train, normalization: net.normalization, limit: options.calibrationImages, threads: nthreads)
                : LabeledImages(sampleShape: net.inputShape, pixels: [], labels: [], classCount: net.classes)
            let t0 = Date()
            let snn = try Converter.convert(net, calibration: cal, options: options, threads: nthreads, source: model)
            try snn.save(into: dir)
            print("converted \(model) in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s -> \(out)/ (\(ConvertedNetwork.specFile), \(ConvertedNetwork.weightsFile))")
            print("  recipe: \(snn.recipe.rawValue) — \(snn.recipe.summary)")
            for l in snn.layers {
                let sc = l.scale.reduce(0, +) / Float(l.scale.count)
                print("  \(l.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(l.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(format: "%6d", l.size)) neurons  shape \(l.outputShape)  scale \(String(format: "%.3g", sc))\(l.isOutput ? "  (output)" : "")")
            }
        }
    }
}
