import CANN
import Foundation

/// Global average pooling (PyTorch `nn.AdaptiveAvgPool2d(1)`, ONNX `GlobalAveragePool`):
/// x [N, C, H, W] -> y [N, C, 1, 1], y[n, c] = (1 / (H·W)) Σ_{i,j} x[n, c, i, j].
/// dL/dx[n, c, i, j] = dL/dy[n, c] / (H·W).
public final class GlobalAvgPool2D: Layer {
    private var inputShape: [Int]?
    public init() {}
    public var spec: LayerSpec { .globalAvgPool }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4, "GlobalAvgPool2D: input \(x.shape), expected [N, C, H, W]")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var y = Tensor(uninitialized: [n, c, 1, 1])
        nm_avgpool_forward(x.readPointer, Int32(n * c), Int32(h), Int32(w), Int32(h), Int32(w), Int32(h), Int32(w),
                           y.writePointer(), Int32(ctx.threads))
        inputShape = ctx.training ? x.shape : nil
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let s = inputShape else { preconditionFailure("GlobalAvgPool2D.backward without a training-mode forward") }
        guard needInputGradient else { return nil }
        var dx = Tensor(uninitialized: s)
        nm_avgpool_backward(dy.readPointer, Int32(s[0] * s[1]), Int32(s[2]), Int32(s[3]), Int32(s[2]), Int32(s[3]),
                            Int32(s[2]), Int32(s[3]), dx.writePointer(), Int32(threads))
        return dx
    }
}
