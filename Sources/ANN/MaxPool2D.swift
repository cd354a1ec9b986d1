import CANN
import Foundation

/// Max pooling over kernel windows (floor mode; PyTorch `nn.MaxPool2d`, ONNX `MaxPool`):
/// x [N, C, H, W] -> y [N, C, (H + 2ph − kh)/sh + 1, (W + 2pw − kw)/sw + 1], the padding counting as
/// −∞ (a window's maximum over its pixels inside the input). The gradient flows to the first maximum of
/// each window.
public final class MaxPool2D: Layer {
    public let kernel: Size2
    public let stride: Size2
    /// Rows and columns of −∞ on each side (at most half the kernel).
    public let padding: Size2
    private var inputShape: [Int]?
    private var argmax: [Int32] = []

    /// `stride` defaults to the kernel size.
    public init(kernel: Size2, stride: Size2? = nil, padding: Size2 = Size2(0)) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
    }

    public var spec: LayerSpec { .maxPool2d(kernel: kernel, stride: stride, padding: padding) }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[2] + 2 * padding.h >= kernel.h && x.shape[3] + 2 * padding.w >= kernel.w
                     && padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, "MaxPool2D(\(kernel), padding \(padding)): input \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + 2 * padding.h - kernel.h) / stride.h + 1, ow = (w + 2 * padding.w - kernel.w) / stride.w + 1
        var y = Tensor(uninitialized: [n, c, oh, ow])
        let yp = y.writePointer()
        if ctx.training {
            if argmax.count != n * c * oh * ow { argmax = [Int32](repeating: 0, count: n * c * oh * ow) }
            argmax.withUnsafeMutableBufferPointer { a in
                nm_maxpool_forward(x.readPointer, Int32(n * c), Int32(h), Int32(w), Int32(kernel.h), Int32(kernel.w),
                                   Int32(stride.h), Int32(stride.w), Int32(padding.h), Int32(padding.w), yp, a.baseAddress, Int32(ctx.threads))
            }
            inputShape = x.shape
        } else {
            nm_maxpool_forward(x.readPointer, Int32(n * c), Int32(h), Int32(w), Int32(kernel.h), Int32(kernel.w),
                               Int32(stride.h), Int32(stride.w), Int32(padding.h), Int32(padding.w), yp, nil, Int32(ctx.threads))
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
