import CANN
import Foundation

/// Fully connected layer: y = x Wᵀ + b with x [N, in], W [out, in] (PyTorch `nn.Linear` layout),
/// b [out], y [N, out]. GEMMs through OpenBLAS (`nm_gemm`).
public final class Dense: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    /// W [out, in].
    public let weight: Parameter
    /// b [out], or nil without bias.
    public let bias: Parameter?
    private var input: Tensor?

    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true, initializer: WeightInit = .heNormal, seed: UInt64 = 0, stream: UInt64 = 0) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        var w = Tensor(zeros: [outFeatures, inFeatures])
        initializer.fill(&w, fanIn: inFeatures, fanOut: outFeatures, seed: seed, stream: stream)
        weight = Parameter(name: "weight", value: w)
        self.bias = bias ? Parameter(name: "bias", value: Tensor(zeros: [outFeatures])) : nil
    }

    public var spec: LayerSpec { .dense(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias != nil) }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inFeatures, "Dense(\(inFeatures)->\(outFeatures)): input \(x.shape), expected [N, \(inFeatures)]")
        let n = x.shape[0]
        var y = Tensor(uninitialized: [n, outFeatures])
        let yp = y.writePointer()
        nm_gemm(0, 1, Int32(n), Int32(outFeatures), Int32(inFeatures), 1, x.readPointer, Int32(inFeatures),
                weight.value.readPointer, Int32(inFeatures), 0, yp, Int32(outFeatures), Int32(ctx.threads))
        if let bias { nm_add_bias_rows(yp, bias.value.readPointer, Int32(n), Int32(outFeatures), Int32(ctx.threads)) }
        input = ctx.training ? x : nil
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let x = input else { preconditionFailure("Dense.backward without a training-mode forward") }
        let n = x.shape[0]
        precondition(dy.shape == [n, outFeatures], "Dense.backward: dy \(dy.shape), expected [\(n), \(outFeatures)]")
        let t = Int32(threads)
        // dW [out, in] = dyᵀ [out, N] · x [N, in]
        nm_gemm(1, 0, Int32(outFeatures), Int32(inFeatures), Int32(n), 1, dy.readPointer, Int32(outFeatures),
                x.readPointer, Int32(inFeatures), 0, weight.grad.writePointer(), Int32(inFeatures), t)
        if let bias { nm_sum_rows(dy.readPointer, Int32(n), Int32(outFeatures), bias.grad.writePointer(), t) }
        input = nil
        guard needInputGradient else { return nil }
        // dx [N, in] = dy [N, out] · W [out, in]
        var dx = Tensor(uninitialized: [n, inFeatures])
        nm_gemm(0, 0, Int32(n), Int32(inFeatures), Int32(outFeatures), 1, dy.readPointer, Int32(outFeatures),
                weight.value.readPointer, Int32(inFeatures), 0, dx.writePointer(), Int32(inFeatures), t)
        return dx
    }
}
