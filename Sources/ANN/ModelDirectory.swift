import Common
import Foundation

/// A saved model: a folder with `model.json` (the `ModelSpec`) and `model.safetensors` (weights and
/// BatchNorm buffers with PyTorch state-dict keys). The unit users pass around:
/// `neuromorph eval runs/cnn` and `torch.nn.Sequential(...).load_state_dict(safetensors.torch.load_file(...))`.
public enum ModelDirectory {
    public static let specFile = "model.json"
    public static let weightsFile = "model.safetensors"

    /// Writes both files atomically (weights first, then the spec) into `dir` (created if needed).
    /// Output folders of commands go through `TrainingRun` (the output policy); this writes files only.
    public static func save(_ model: Sequential, to dir: String, metadata: [String: String] = [:]) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw IOError.cannotWrite(path: dir, reason: "cannot create the folder (\(IOError.reason(error)))")
        }
        var meta = metadata
        meta["format"] = "pt"
        try Safetensors.write(model.stateDict(), metadata: meta, to: "\(dir)/\(weightsFile)")
        try JSONOutput.write(model.spec, to: URL(fileURLWithPath: "\(dir)/\(specFile)"))
    }

    /// Reads the architecture from `path` (a model folder or its model.json).
    public static func loadSpec(_ path: String) throws -> ModelSpec {
        let specPath = path.hasSuffix(".json") ? path : "\(path)/\(specFile)"
        guard let data = FileManager.default.contents(atPath: specPath) else {
            throw ANNError.file(path: specPath, message: "cannot read the model architecture (expected a folder with \(specFile) and \(weightsFile), as written by `neuromorph train`)")
        }
        do {
            let spec = try JSONDecoder().decode(ModelSpec.self, from: data)
            try spec.validate()
            return spec
        } catch let e as DecodingError {
            throw ANNError.file(path: specPath, message: describe(e))
        } catch let e as ANNError {
            throw ANNError.file(path: specPath, message: e.description)
        }
    }

    /// Loads a model folder (or a model.json path with model.safetensors beside it). Both files are
    /// checked for meaning before anything is built: the architecture (`ModelSpec.validate`: shapes
    /// chain, sizes in range, one output of `classes` values, normalization std > 0), the safetensors
    /// header (`Safetensors.decode`), and every tensor (`ModelSpec.checkState`: present, float32 with
    /// the layer's shape, finite, BatchNorm variances >= 0). Errors name the file and the key or tensor.
    public static func load(_ path: String) throws -> Sequential {
        let spec = try loadSpec(path)
        let dir = path.hasSuffix(".json") ? (path as NSString).deletingLastPathComponent : path
        let weights = "\(dir.isEmpty ? "." : dir)/\(weightsFile)"
        let (tensors, _) = try Safetensors.read(path: weights)
        try spec.checkState(tensors, source: weights)
        let model = try Sequential(spec: spec, initializer: .heNormal, seed: 0)
        try model.loadState(tensors, source: weights)
        return model
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch e {
        case let .keyNotFound(k, ctx): return "\(path(ctx.codingPath + [k])): missing key"
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx): return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        case let .dataCorrupted(ctx): return "\(path(ctx.codingPath).isEmpty ? "" : path(ctx.codingPath) + ": ")\(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
