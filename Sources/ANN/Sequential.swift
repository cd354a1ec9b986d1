import Datasets
import Foundation

/// A feed-forward network: layers applied in order, like PyTorch's `nn.Sequential`.
///
/// For a converter: iterate `layers`, switch on each layer's `spec` (kind and hyper-parameters) and
/// read parameters from the concrete classes (`Dense.weight` [out, in], `Conv2D.weight`
/// [out, in, kh, kw], `BatchNorm.gamma/beta/runningMean/runningVar/eps`, ...). `predict` runs
/// inference (evaluation mode) on a batch; `activations` returns every layer's output for a batch
/// (data-based normalisation).
///
///     let model = try Sequential(spec: spec, seed: 1)
///     let logits = model.predict(x, threads: 2)          // x [N, 1, 28, 28] -> [N, 10]
///     for (i, layer) in model.layers.enumerated() { if case .dense = layer.spec { ... } }
public final class Sequential {
    /// Per-sample input shape, e.g. [1, 28, 28].
    public let inputShape: [Int]
    public let layers: [Layer]
    /// Pixel preprocessing the model expects (saved in model.json).
    public var normalization: Normalization
    public var classes: Int

    /// Builds from layers, checking that each layer accepts its predecessor's output.
    public init(inputShape: [Int], layers: [Layer], normalization: Normalization = .unit, classes: Int = 10) throws {
        self.inputShape = inputShape
        self.layers = layers
        self.normalization = normalization
        self.classes = classes
        _ = try spec.shapes()
    }

    /// Builds fresh layers from an architecture, weights drawn from `seed` (layer i uses stream i).
    public convenience init(spec: ModelSpec, initializer: WeightInit = .heNormal, seed: UInt64 = 0) throws {
        _ = try spec.shapes()
        try self.init(inputShape: spec.inputShape,
                      layers: spec.layers.enumerated().map { $1.makeLayer(initializer: initializer, seed: seed, index: $0) },
                      normalization: spec.normalization, classes: spec.classes)
    }

    /// The architecture (for model.json).
    public var spec: ModelSpec {
        ModelSpec(inputShape: inputShape, layers: layers.map(\.spec), normalization: normalization, classes: classes)
    }

    /// Per-sample output shapes of the layers.
    public var outputShapes: [[Int]] { (try? spec.shapes()) ?? [] }

    /// Forward pass of a batch [N, ...inputShape]; in training mode layers keep what `backward` needs.
    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == inputShape, "Sequential: input \(x.shape), expected [N] + \(inputShape)")
        var h = x
        var c = ctx
        for (i, l) in layers.enumerated() {
            c.layerIndex = i
            h = l.forward(h, c)
        }
        return h
    }

    /// Inference on a batch (evaluation mode).
    public func predict(_ x: Tensor, threads: Int = 1) -> Tensor { forward(x, .eval(threads: threads)) }

    /// Every layer's output for a batch in evaluation mode: element i is the output of `layers[i]`.
    public func activations(_ x: Tensor, threads: Int = 1) -> [Tensor] {
        precondition(Array(x.shape.dropFirst()) == inputShape, "Sequential: input \(x.shape), expected [N] + \(inputShape)")
        var out: [Tensor] = []
        var h = x
        var c = ForwardContext.eval(threads: threads)
        for (i, l) in layers.enumerated() {
            c.layerIndex = i
            h = l.forward(h, c)
            out.append(h)
        }
        return out
    }

    /// Backward pass after a training-mode `forward`: fills every parameter's `grad`; returns dL/dx
    /// when `needInputGradient`.
    @discardableResult
    public func backward(_ dy: Tensor, threads: Int = 1, needInputGradient: Bool = false) -> Tensor? {
        var g: Tensor? = dy
        for (i, l) in layers.enumerated().reversed() {
            g = l.backward(g!, needInputGradient: i > 0 || needInputGradient, threads: threads)
        }
        return g
    }

    /// Trainable parameters with their state-dict keys ("0.weight", "0.bias", ...), in order.
    public var namedParameters: [(key: String, parameter: Parameter)] {
        layers.enumerated().flatMap { i, l in l.parameters.map { ("\(i).\($0.name)", $0) } }
    }

    /// Everything saved with the model (parameters and buffers), keyed like PyTorch's state_dict.
    public func stateDict() -> [(key: String, value: StateValue)] {
        layers.enumerated().flatMap { i, l -> [(key: String, value: StateValue)] in
            l.parameters.map { ("\(i).\($0.name)", StateValue.float($0.value)) } + l.buffers.map { ("\(i).\($0.name)", $0.value) }
        }
    }

    /// Restores a state dict. Strict (see `ModelSpec.checkState`): every expected key must be present
    /// with the right shape and finite values (except BatchNorm's `num_batches_tracked`, which defaults
    /// to 0), and no unknown key may remain. Errors name `source` and the tensor; nothing is changed
    /// when the state is refused.
    public func loadState(_ state: [String: StateValue], source: String = "state") throws {
        try spec.checkState(state, source: source)
        for (i, l) in layers.enumerated() {
            for p in l.parameters {
                guard case .float(let t)? = state["\(i).\(p.name)"] else { continue }
                p.value = t
            }
            for b in l.buffers {
                let key = "\(i).\(b.name)"
                do { try l.setBuffer(b.name, state[key] ?? .int64(0)) } catch let e as ANNError {
                    throw ANNError.file(path: source, message: "tensor '\(key)': \(e.description)")
                }
            }
        }
    }
}
