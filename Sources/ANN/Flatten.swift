import Foundation

/// Flattens all but the batch dimension: [N, C, H, W] -> [N, C·H·W] in row-major order (PyTorch
/// `nn.Flatten()`). No copy: the tensor is reshaped.
public final class Flatten: Layer {
    private var inputShape: [Int]?
    public init() {}
    public var spec: LayerSpec { .flatten }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank >= 1, "Flatten: input must have a batch dimension")
        inputShape = ctx.training ? x.shape : nil
        return x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let s = inputShape else { preconditionFailure("Flatten.backward without a training-mode forward") }
        return needInputGradient ? dy.reshaped(s) : nil
    }
}
