import Common
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

    /// Per-sample output shape of every layer; throws naming the first layer whose input does not fit
    /// or whose hyper-parameters are out of range.
    public func shapes() throws -> [[Int]] {
        var s = inputShape
        var out: [[Int]] = []
        for (i, l) in layers.enumerated() {
            do {
                try l.validate()
                s = try l.outputShape(s)
                guard CheckedMath.product(s) != nil else { throw ANNError.shape("its output \(s) has too many elements") }
            } catch let e as ANNError {
                throw ANNError.invalidModel("layer \(i) (\(l.typeName)): \(e.description.replacingOccurrences(of: "invalid model: ", with: ""))")
            }
            out.append(s)
        }
        return out
    }

    /// Largest class count a model may have.
    public static let maxClasses = 1 << 20

    /// Checks the whole architecture for meaning, as a loaded `model.json` must be: an input shape
    /// [F] or [C, H, W] of sizes in 1...`LayerSpec.maxSize`, at least one layer, every layer's
    /// hyper-parameters in range and its input fitting (shapes chain), exactly one output: the last
    /// layer gives [classes], with 2 ≤ classes ≤ `maxClasses`, and a usable pixel normalization.
    /// Returns the per-layer output shapes.
    @discardableResult
    public func validate() throws -> [[Int]] {
        guard inputShape.count == 1 || inputShape.count == 3 else {
            throw ANNError.invalidModel("input_shape must be [features] or [channels, height, width], found \(inputShape)")
        }
        guard inputShape.allSatisfy({ $0 > 0 && $0 <= LayerSpec.maxSize }) else {
            throw ANNError.invalidModel("input_shape sizes must be in 1...\(LayerSpec.maxSize), found \(inputShape)")
        }
        guard !layers.isEmpty else { throw ANNError.invalidModel("layers is empty; the model needs at least one layer") }
        guard classes >= 2 && classes <= Self.maxClasses else {
            throw ANNError.invalidModel("classes must be in 2...\(Self.maxClasses), found \(classes)")
        }
        if let p = normalization.problem { throw ANNError.invalidModel("normalization: \(p)") }
        let s = try shapes()
        guard s.last == [classes] else {
            throw ANNError.invalidModel("the last layer (\(layers.count - 1), \(layers.last!.typeName)) outputs \(s.last!) per sample; the model's single output must be [\(classes)], one value per class")
        }
        return s
    }

    /// Number of float32 values the model stores (parameters and buffers), or nil on overflow.
    public var storedValueCount: Int? {
        var n = 0
        for l in layers {
            for (_, shape) in l.tensorShapes {
                guard let c = CheckedMath.product(shape), let m = CheckedMath.add(n, c) else { return nil }
                n = m
            }
        }
        return n
    }

    /// Rough memory (bytes) to train this model with mini-batches of `batchSize`: four float32 copies
    /// of every stored value (weights, gradients, two optimizer slots) plus, per sample, the input, three
    /// copies of every layer output (output, kept input, gradient) and the im2col columns of every
    /// convolution. nil when it overflows (or the shapes do not chain). An estimate for refusing absurd
    /// models before allocating, not a measurement.
    public func trainingBytes(batchSize: Int) -> Int? {
        guard let shapes = try? shapes(), let stored = storedValueCount else { return nil }
        var perSample = CheckedMath.product(inputShape) ?? Int.max
        for (l, out) in zip(layers, shapes) {
            guard let n = CheckedMath.product(out), let a = CheckedMath.multiply(n, 3), let b = CheckedMath.add(perSample, a) else { return nil }
            perSample = b
            if case let .conv2d(inC, _, k, _, _, _) = l, out.count == 3,
               let cols = CheckedMath.product([inC, k.h, k.w, out[1], out[2]]) {
                guard let c = CheckedMath.add(perSample, cols) else { return nil }
                perSample = c
            } else if case .conv2d = l { return nil }
        }
        guard let w = CheckedMath.multiply(stored, 4), let act = CheckedMath.multiply(perSample, max(batchSize, 1)),
              let total = CheckedMath.add(w, act) else { return nil }
        return CheckedMath.multiply(total, 4)
    }

    /// Checks a state dict (as read from `source`) against this architecture before anything is built
    /// from it: every tensor present as float32 with the layer's shape, every value finite, BatchNorm
    /// variances >= 0, `num_batches_tracked` (optional) an int64 scalar, and no unknown key. Errors
    /// name `source`, the tensor and what was expected.
    public func checkState(_ state: [String: StateValue], source: String) throws {
        func fail(_ m: String) -> ANNError { .file(path: source, message: m) }
        var used = Set<String>()
        for (i, l) in layers.enumerated() {
            for (name, shape) in l.tensorShapes {
                let key = "\(i).\(name)"
                guard let v = state[key] else {
                    throw fail("missing tensor '\(key)' (layer \(i), \(l.typeName), expects float32 \(shape))")
                }
                guard case .float(let t) = v, t.shape == shape else {
                    let found: String
                    if case .int64 = v { found = "is an int64 scalar" } else { found = "has shape \(v.shape)" }
                    throw fail("tensor '\(key)' \(found), expected float32 \(shape) for layer \(i) (\(l.typeName))")
                }
                if let j = t.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                    throw fail("tensor '\(key)' (layer \(i), \(l.typeName)) holds \(FiniteCheck.describe(t[flat: j])) at index \(j) of \(t.count); a model needs finite weights (did the training diverge? retrain with a lower learning rate)")
                }
                if l.isQCFSThreshold(name), let j = t.withUnsafeBufferPointer({ p in (0..<p.count).first { !(p[$0] > 0) } }) {
                    throw fail("tensor '\(key)' (layer \(i), \(l.typeName)) holds the threshold \(t[flat: j]) at index \(j); QCFS thresholds must be > 0")
                }
                if name == "running_var", let j = t.withUnsafeBufferPointer({ p in (0..<p.count).first { p[$0] < 0 } }) {
                    throw fail("tensor '\(key)' (layer \(i), \(l.typeName)) holds the variance \(t[flat: j]) at index \(j); variances must be >= 0")
                }
                used.insert(key)
            }
            for name in l.int64Buffers {
                let key = "\(i).\(name)"
                if let v = state[key] {
                    guard case .int64(let n) = v else {
                        throw fail("tensor '\(key)' has shape \(v.shape) of float32, expected an int64 scalar for layer \(i) (\(l.typeName))")
                    }
                    guard n >= 0 else { throw fail("tensor '\(key)' (layer \(i), \(l.typeName)) is \(n), expected a count >= 0") }
                    used.insert(key)
                }
            }
        }
        if let extra = state.keys.filter({ !used.contains($0) }).sorted().first {
            throw fail("unexpected tensor '\(extra)': the architecture has no such parameter")
        }
    }
}
