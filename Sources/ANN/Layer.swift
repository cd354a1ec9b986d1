import Foundation

/// Per-call settings for a forward pass. Thread count and randomness flow in here (no global state).
public struct ForwardContext: Sendable {
    /// Training mode: batch statistics in BatchNorm, active Dropout, activations kept for `backward`.
    /// Evaluation mode: running statistics, Dropout is the identity, nothing kept.
    public var training: Bool
    /// OpenMP threads for the kernels. Results do not depend on it.
    public var threads: Int
    /// Seed of stochastic layers (Dropout): a layer's draws are a hash of (seed, step, layer index).
    public var seed: UInt64
    /// Optimisation step (mini-batch counter), so every step draws new masks, reproducibly.
    public var step: UInt64
    /// Index of the layer in its `Sequential` (set by `Sequential`).
    public var layerIndex: Int

    public init(training: Bool, threads: Int = 1, seed: UInt64 = 0, step: UInt64 = 0, layerIndex: Int = 0) {
        self.training = training
        self.threads = max(1, threads)
        self.seed = seed
        self.step = step
        self.layerIndex = layerIndex
    }

    public static func eval(threads: Int = 1) -> ForwardContext { ForwardContext(training: false, threads: threads) }
}

/// A layer of a feed-forward network with an explicit forward and backward pass.
///
/// Shapes: inputs and outputs carry the batch as the first dimension (`[N, C, H, W]` for images,
/// `[N, F]` for features); `outputShape` works on per-sample shapes (without N).
/// `backward` must follow a training-mode `forward` of the same batch: it receives dL/dy, writes
/// dL/dθ into each parameter's `grad` (overwriting) and returns dL/dx, or nil when
/// `needInputGradient` is false (the first layer of a network).
public protocol Layer: AnyObject {
    /// The layer's kind and hyper-parameters (what model.json stores; what a converter switches on).
    var spec: LayerSpec { get }
    /// Trainable parameters in PyTorch's state-dict order (weight, then bias).
    var parameters: [Parameter] { get }
    /// Non-trainable state saved with the model (BatchNorm running statistics), PyTorch names.
    var buffers: [(name: String, value: StateValue)] { get }
    /// Restores one buffer by name (called when loading a model or checkpoint).
    func setBuffer(_ name: String, _ value: StateValue) throws
    func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor
    func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor?
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var buffers: [(name: String, value: StateValue)] { [] }
    public func setBuffer(_ name: String, _ value: StateValue) throws {
        throw ANNError.invalidModel("layer \(spec.typeName) has no buffer '\(name)'")
    }
}

/// A saved tensor value: float32 tensors, or the int64 scalars PyTorch keeps (BatchNorm's
/// `num_batches_tracked`).
public enum StateValue: Equatable {
    case float(Tensor)
    case int64(Int64)

    public static func == (a: StateValue, b: StateValue) -> Bool {
        switch (a, b) {
        case let (.float(x), .float(y)): return x.bitwiseEqual(y)
        case let (.int64(x), .int64(y)): return x == y
        default: return false
        }
    }

    public var shape: [Int] {
        switch self {
        case .float(let t): return t.shape
        case .int64: return []
        }
    }
}

/// Errors of the ANN module: invalid shapes or models, bad model files, and training or inference
/// that produced NaN or infinity. Each names what it expected (and where: file, tensor, epoch, batch,
/// layer).
public enum ANNError: Error, CustomStringConvertible, Equatable {
    case invalidModel(String)
    case shape(String)
    case file(path: String, message: String)
    /// A loss, gradient, weight or output became NaN or infinite; the message names the epoch,
    /// batch and layer (or image) and what to change.
    case nonFinite(String)

    public var description: String {
        switch self {
        case .invalidModel(let m): return "invalid model: \(m)"
        case .shape(let m): return m
        case let .file(path, message): return "\(path): \(message)"
        case .nonFinite(let m): return m
        }
    }
}
