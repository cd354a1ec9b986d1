import ANN
import ArgumentParser
import Common
import Datasets
import Foundation
import ONNX

/// `neuromorph import MODEL.onnx --out MODEL_DIR`: an ONNX model (PyTorch, Keras, JAX exports) as a
/// neuromorph model folder (model.json + model.safetensors) that `eval`, `convert` and `compare` read.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an ONNX model (e.g. exported by PyTorch) as a model folder.",
        discussion: """
            Reads MODEL.onnx (weights inline, or in external data files beside it such as the MODEL.onnx.data \
            that PyTorch's dynamo exporter writes) and writes MODEL_DIR/model.json + model.safetensors. The \
            input shape comes from the graph input, or from --input-shape when the graph leaves it dynamic; \
            ONNX does not record the pixel normalization, so give the one the network was trained with by \
            --mean/--std (default: [0, 1] pixels). Supported ops and limits: README "Importing ONNX models". \
            An unsupported op or shape is refused naming the node and its op type; nothing is written then.
            Example: neuromorph import resnet.onnx --out runs/resnet --mean 0.286 --std 0.353
            """)

    @Argument(help: "ONNX model file (.onnx).")
    var model: String

    @Option(name: .long, help: "Output folder for the model (a new or empty folder, or one an earlier import wrote with --force).")
    var out: String

    @Flag(name: .long, help: "Replace an existing --out folder written by an earlier neuromorph import.")
    var force = false

    @Option(name: .long, help: "Per-sample input shape C,H,W (or F) when the graph input's sizes are dynamic, e.g. 1,28,28.")
    var inputShape: String?

    @Option(name: .long, parsing: .unconditional, help: "Mean of the [0, 1] pixels the network was trained with (x = (u - mean)/std); default 0.")
    var mean: Double?

    @Option(name: .long, parsing: .unconditional, help: "Standard deviation of that normalization, > 0; default 1.")
    var std: Double?

    func validate() throws {
        try FlagChecks.outFolder(out)
        _ = try parsedShape()
        if let p = normalization()?.problem { throw ValidationError("--mean/--std: \(p)") }
    }

    func parsedShape() throws -> [Int]? {
        guard let s = inputShape else { return nil }
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 1 || parts.count == 3, parts.allSatisfy({ $0 != nil && $0! > 0 && $0! <= LayerSpec.maxSize }) else {
            throw ValidationError("--input-shape must be C,H,W or F with sizes 1 to \(LayerSpec.maxSize), e.g. 1,28,28; got '\(s)'")
        }
        return parts.map { $0! }
    }

    func normalization() -> Normalization? {
        guard mean != nil || std != nil else { return nil }
        return Normalization(mean: mean ?? 0, std: std ?? 1)
    }

    func run() throws {
        try reportingErrors {
            // claim --out first: never the .onnx file's folder content, a folder holding it, or a folder import did not write
            let dir = try AtomicDirectory(out, policy: OutputPolicy(kind: .import, force: force, inputs: [model]))
            let result = try ONNXImporter.importFile(model, options: ONNXImportOptions(inputShape: try parsedShape(), normalization: normalization()))
            try ModelDirectory.save(result.model, to: dir.staging.path,
                                    metadata: ["source": (model as NSString).lastPathComponent, "onnx_opset": "\(result.opset)", "producer": result.producer])
            try dir.commit()
            let m = result.model
            let n = m.normalization
            print("imported \(model) (opset \(result.opset), \(result.producer.isEmpty ? "unknown producer" : result.producer), \(result.nodeCount) nodes) -> \(out)/ (\(ModelDirectory.specFile), \(ModelDirectory.weightsFile))")
            print("  input shape \(m.inputShape) (from the \(result.inputShapeSource)), normalization mean \(n.mean) std \(n.std) (\(result.normalizationSource)), \(m.classes) classes")
            for (i, l) in m.layers.enumerated() {
                print("  \(String(format: "%3d", i)) \(describe(l.spec))  -> \(m.outputShapes[i])")
            }
        }
    }

    func describe(_ s: LayerSpec) -> String {
        if case let .residual(body, shortcut) = s {
            return "residual(body: \(body.map(\.typeName).joined(separator: " ")); shortcut: \(shortcut.isEmpty ? "identity" : shortcut.map(\.typeName).joined(separator: " ")))"
        }
        return s.typeName
    }
}
