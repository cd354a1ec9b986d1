import CANN
import Foundation

/// Rectified linear unit, elementwise: y = max(x, 0); dL/dx = dL/dy where y > 0, else 0.
public final class ReLU: Layer {
    private var output: Tensor?
    public init() {}
    public var spec: LayerSpec { .relu }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        var y = Tensor(uninitialized: x.shape)
        nm_relu_forward(x.readPointer, y.writePointer(), Int64(x.count), Int32(ctx.threads))
        output = ctx.training ? y : nil
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let y = output else { preconditionFailure("ReLU.backward without a training-mode forward") }
        precondition(dy.shape == y.shape, "ReLU.backward: dy \(dy.shape), expected \(y.shape)")
        output = nil
        guard needInputGradient else { return nil }
        var dx = Tensor(uninitialized: y.shape)
        nm_relu_backward(y.readPointer, dy.readPointer, dx.writePointer(), Int64(y.count), Int32(threads))
        return dx
    }
}
