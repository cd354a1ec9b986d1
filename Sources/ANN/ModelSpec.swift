import Datasets
import Foundation

/// The architecture of a `Sequential` network as stored in `model.json`: per-sample input shape
/// [C, H, W] (or [F]), the layers in order (indices match PyTorch's `nn.Sequential`, so state-dict
/// keys are "<index>.<name>"), and the pixel preprocessing the weights were trained with.
///
///     {"format": "neuromorph.sequential", "version": 1, "input_shape": [1, 28, 28],
///      "layers": [{"type": "flatten"}, {"type": "dense", "in_features": 784, "out_features": 10, "bias": true}],
///      "normalization": {"scale": 0.00392156862745098, "mean": 0.286, "std": 0.353}, "classes": 10}
public struct ModelSpec: Codable, Equatable, Sendable {
    public static let format = "neuromorph.sequential"
    public var inputShape: [Int]
    public var layers: [LayerSpec]
    /// How raw pixels are scaled before the first layer.
    public var normalization: Normalization
    /// Number of output classes.
    public var classes: Int

    public init(inputShape: [Int], layers: [LayerSpec], normalization: Normalization = .unit, classes: Int = 10) {
        self.inputShape = inputShape
        self.layers = layers
        self.normalization = normalization
        self.classes = classes
    }

    enum Key: String, CodingKey { case format, version, input_shape, layers, normalization, classes }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let f = try c.decodeIfPresent(String.self, forKey: .format) ?? Self.format
        guard f == Self.format else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription: "format is '\(f)', expected '\(Self.format)'")
        }
        let v = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        guard v == 1 else { throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription: "version \(v) is not supported (expected 1)") }
        inputShape = try c.decode([Int].self, forKey: .input_shape)
        layers = try c.decode([LayerSpec].self, forKey: .layers)
        normalization = try c.decodeIfPresent(Normalization.self, forKey: .normalization) ?? .unit
        classes = try c.decodeIfPresent(Int.self, forKey: .classes) ?? 10
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(1, forKey: .version)
        try c.encode(inputShape, forKey: .input_shape)
        try c.encode(layers, forKey: .layers)
        try c.encode(normalization, forKey: .normalization)
        try c.encode(classes, forKey: .classes)
    }

    /// Per-sample output shape of every layer; throws naming the first layer whose input does not fit.
    public func shapes() throws -> [[Int]] {
        var s = inputShape
        var out: [[Int]] = []
        for (i, l) in layers.enumerated() {
            do {
                try l.validate()
                s = try l.outputShape(s)
            } catch let e as ANNError {
                throw ANNError.invalidModel("layer \(i) (\(l.typeName)): \(e.description.replacingOccurrences(of: "invalid model: ", with: ""))")
            }
            out.append(s)
        }
        return out
    }
}
