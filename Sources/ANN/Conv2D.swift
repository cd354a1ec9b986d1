import CANN
import Foundation

/// 2-D convolution (cross-correlation, as PyTorch `nn.Conv2d`): x [N, in, H, W], W [out, in, kh, kw],
/// b [out], y [N, out, OH, OW] with OH = (H + 2·padding.h − kh) / stride.h + 1.
/// y[n,o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v] · x[n, c, i·sh − ph + u, j·sw − pw + v] (zero outside).
/// Computed as im2col + GEMM in C, OpenMP over chunks of the batch.
public final class Conv2D: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Size2
    public let stride: Size2
    public let padding: Size2
    /// W [out, in, kh, kw].
    public let weight: Parameter
    /// b [out], or nil without bias.
    public let bias: Parameter?
    private var cols: Tensor?
    private var inputShape: [Int] = []

    public init(inChannels: Int, outChannels: Int, kernel: Size2, stride: Size2 = Size2(1), padding: Size2 = Size2(0),
                bias: Bool = true, initializer: WeightInit = .heNormal, seed: UInt64 = 0, stream: UInt64 = 0) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        var w = Tensor(zeros: [outChannels, inChannels, kernel.h, kernel.w])
        let area = kernel.h * kernel.w
        initializer.fill(&w, fanIn: inChannels * area, fanOut: outChannels * area, seed: seed, stream: stream)
        weight = Parameter(name: "weight", value: w)
        self.bias = bias ? Parameter(name: "bias", value: Tensor(zeros: [outChannels])) : nil
    }

    public var spec: LayerSpec {
        .conv2d(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding, bias: bias != nil)
    }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    func outSize(_ h: Int, _ w: Int) -> (Int, Int) {
        ((h + 2 * padding.h - kernel.h) / stride.h + 1, (w + 2 * padding.w - kernel.w) / stride.w + 1)
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "Conv2D: input \(x.shape), expected [N, \(inChannels), H, W]")
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (oh, ow) = outSize(h, w)
        precondition(oh > 0 && ow > 0, "Conv2D: kernel \(kernel) larger than padded input \(h)x\(w)")
        var y = Tensor(uninitialized: [n, outChannels, oh, ow])
        var colsPtr: UnsafeMutablePointer<Float>? = nil
        if ctx.training {
            let size = Int(nm_conv2d_cols_size(Int32(n), Int32(inChannels), Int32(kernel.h), Int32(kernel.w), Int32(oh), Int32(ow)))
            var c = Tensor(uninitialized: [size])
            colsPtr = c.writePointer()
            cols = c
            inputShape = x.shape
        } else {
            cols = nil
        }
        nm_conv2d_forward(x.readPointer, Int32(n), Int32(inChannels), Int32(h), Int32(w), weight.value.readPointer,
                          bias?.value.readPointer, Int32(outChannels), Int32(kernel.h), Int32(kernel.w),
                          Int32(stride.h), Int32(stride.w), Int32(padding.h), Int32(padding.w), y.writePointer(), colsPtr,
                          Int32(ctx.threads))
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let cols else { preconditionFailure("Conv2D.backward without a training-mode forward") }
        let (n, h, w) = (inputShape[0], inputShape[2], inputShape[3])
        let (oh, ow) = outSize(h, w)
        precondition(dy.shape == [n, outChannels, oh, ow], "Conv2D.backward: dy \(dy.shape), expected \([n, outChannels, oh, ow])")
        var dx: Tensor? = needInputGradient ? Tensor(uninitialized: inputShape) : nil
        let dxp = dx?.writePointer()
        let dbp = bias?.grad.writePointer()
        nm_conv2d_backward(cols.readPointer, Int32(n), Int32(inChannels), Int32(h), Int32(w), weight.value.readPointer,
                           Int32(outChannels), Int32(kernel.h), Int32(kernel.w), Int32(stride.h), Int32(stride.w),
                           Int32(padding.h), Int32(padding.w), dy.readPointer, dxp, weight.grad.writePointer(), dbp, Int32(threads))
        self.cols = nil
        return dx
    }
}
