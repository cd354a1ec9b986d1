import CANN
import Foundation

/// Max pooling over kernel windows (no padding, floor mode; PyTorch `nn.MaxPool2d`):
/// x [N, C, H, W] -> y [N, C, (H − kh)/sh + 1, (W − kw)/sw + 1]. The gradient flows to the first
/// maximum of each window.
public final class MaxPool2D: Layer {
    public let kernel: Size2
    public let stride: Size2
    private var inputShape: [Int]?
    private var argmax: [Int32] = []

    /// `stride` defaults to the kernel size.
    public init(kernel: Size2, stride: Size2? = nil) {
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public var spec: LayerSpec { .maxPool2d(kernel: kernel, stride: stride) }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[2] >= kernel.h && x.shape[3] >= kernel.w, "MaxPool2D(\(kernel)): input \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h - kernel.h) / stride.h + 1, ow = (w - kernel.w) / stride.w + 1
        var y = Tensor(uninitialized: [n, c, oh, ow])
        let yp = y.writePointer()
        if ctx.training {
            if argmax.count != n * c * oh * ow { argmax = [Int32](repeating: 0, count: n * c * oh * ow) }
            argmax.withUnsafeMutableBufferPointer { a in
                nm_maxpool_forward(x.readPointer, Int32(n * c), Int32(h), Int32(w), Int32(kernel.h), Int32(kernel.w),
                                   Int32(stride.h), Int32(stride.w), yp, a.baseAddress, Int32(ctx.threads))
            }
            inputShape = x.shape
        } else {
            nm_maxpool_forward(x.readPointer, Int32(n * c), Int32(h), Int32(w), Int32(kernel.h), Int32(kernel.w),
                               Int32(stride.h), Int32(stride.w), yp, nil, Int32(ctx.threads))
            inputShape = nil
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let s = inputShape else { preconditionFailure("MaxPool2D.backward without a training-mode forward") }
        guard needInputGradient else { return nil }
        var dx = Tensor(uninitialized: s)
        let dxp = dx.writePointer()
        argmax.withUnsafeBufferPointer { a in
            nm_maxpool_backward(dy.readPointer, a.baseAddress, Int32(s[0] * s[1]), Int32(s[2]), Int32(s[3]),
                                Int32(dy.shape[2]), Int32(dy.shape[3]), dxp, Int32(threads))
        }
        return dx
    }
}
