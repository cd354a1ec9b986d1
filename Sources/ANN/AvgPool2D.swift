import CANN
import Foundation

/// Average pooling over kernel windows (no padding, floor mode; PyTorch `nn.AvgPool2d`):
/// x [N, C, H, W] -> y [N, C, (H − kh)/sh + 1, (W − kw)/sw + 1], y = mean of the window.
public final class AvgPool2D: Layer {
    public let kernel: Size2
    public let stride: Size2
    private var inputShape: [Int]?

    /// `stride` defaults to the kernel size (non-overlapping windows).
    public init(kernel: Size2, stride: Size2? = nil) {
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public var spec: LayerSpec { .avgPool2d(kernel: kernel, stride: stride) }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[2] >= kernel.h && x.shape[3] >= kernel.w, "AvgPool2D(\(kernel)): input \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h - kernel.h) / stride.h + 1, ow = (w - kernel.w) / stride.w + 1
        var y = Tensor(uninitialized: [n, c, oh, ow])
        nm_avgpool_forward(x.readPointer, Int32(n * c), Int32(h), Int32(w), Int32(kernel.h), Int32(kernel.w),
                           Int32(stride.h), Int32(stride.w), y.writePointer(), Int32(ctx.threads))
        inputShape = ctx.training ? x.shape : nil
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let s = inputShape else { preconditionFailure("AvgPool2D.backward without a training-mode forward") }
        guard needInputGradient else { return nil }
        var dx = Tensor(uninitialized: s)
        nm_avgpool_backward(dy.readPointer, Int32(s[0] * s[1]), Int32(s[2]), Int32(s[3]), Int32(kernel.h), Int32(kernel.w),
                            Int32(stride.h), Int32(stride.w), dx.writePointer(), Int32(threads))
        return dx
    }
}
