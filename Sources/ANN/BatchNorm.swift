import CANN
import Foundation

/// Batch normalisation (Ioffe & Szegedy 2015), PyTorch `nn.BatchNorm1d` (input [N, F]) or
/// `nn.BatchNorm2d` (input [N, C, H, W], statistics per channel over N·H·W):
/// y = γ (x − μ) / √(σ² + eps) + β.
/// Training: μ, σ² are the batch mean and biased variance; running averages are updated as
/// r ← (1 − momentum) r + momentum · batch (the unbiased variance for `runningVar`), and
/// `numBatchesTracked` counts updates. Evaluation: μ, σ² are the running averages.
public final class BatchNorm: Layer {
    public let features: Int
    /// True for 2-D (per-channel of images), false for 1-D (per-feature).
    public let spatial: Bool
    public let eps: Double
    public let momentum: Double
    /// γ [features], PyTorch "weight".
    public let gamma: Parameter
    /// β [features], PyTorch "bias".
    public let beta: Parameter
    public var runningMean: Tensor
    public var runningVar: Tensor
    public var numBatchesTracked: Int64 = 0

    private var input: Tensor?
    private var savedMean = Tensor(zeros: [0])
    private var savedInvStd = Tensor(zeros: [0])
    private var trainedForward = true

    public init(features: Int, spatial: Bool, eps: Double = 1e-5, momentum: Double = 0.1) {
        self.features = features
        self.spatial = spatial
        self.eps = eps
        self.momentum = momentum
        gamma = Parameter(name: "weight", value: Tensor(shape: [features], repeating: 1))
        beta = Parameter(name: "bias", value: Tensor(zeros: [features]))
        runningMean = Tensor(zeros: [features])
        runningVar = Tensor(shape: [features], repeating: 1)
    }

    public var spec: LayerSpec { .batchNorm(features: features, spatial: spatial, eps: eps, momentum: momentum) }
    public var parameters: [Parameter] { [gamma, beta] }
    public var buffers: [(name: String, value: StateValue)] {
        [("running_mean", .float(runningMean)), ("running_var", .float(runningVar)), ("num_batches_tracked", .int64(numBatchesTracked))]
    }

    public func setBuffer(_ name: String, _ value: StateValue) throws {
        switch (name, value) {
        case ("running_mean", .float(let t)) where t.shape == [features]: runningMean = t
        case ("running_var", .float(let t)) where t.shape == [features]: runningVar = t
        case ("num_batches_tracked", .int64(let v)): numBatchesTracked = v
        default: throw ANNError.invalidModel("\(spec.typeName) buffer '\(name)' must be \(name == "num_batches_tracked" ? "an int64 scalar" : "float32 [\(features)]"), found shape \(value.shape)")
        }
    }

    private func dims(_ x: Tensor) -> (Int32, Int32, Int32) {
        if spatial {
            precondition(x.rank == 4 && x.shape[1] == features, "BatchNorm2d(\(features)): input \(x.shape), expected [N, \(features), H, W]")
            return (Int32(x.shape[0]), Int32(features), Int32(x.shape[2] * x.shape[3]))
        }
        precondition(x.rank == 2 && x.shape[1] == features, "BatchNorm1d(\(features)): input \(x.shape), expected [N, \(features)]")
        return (Int32(x.shape[0]), Int32(features), 1)
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let (n, c, hw) = dims(x)
        var y = Tensor(uninitialized: x.shape)
        if ctx.training {
            precondition(Int(n) * Int(hw) > 1, "BatchNorm in training needs more than one value per channel, got input \(x.shape)")
            if savedMean.count != features { savedMean = Tensor(zeros: [features]); savedInvStd = Tensor(zeros: [features]) }
            nm_batchnorm_forward_train(x.readPointer, n, c, hw, gamma.value.readPointer, beta.value.readPointer, Float(eps), Float(momentum),
                                       runningMean.writePointer(), runningVar.writePointer(), y.writePointer(),
                                       savedMean.writePointer(), savedInvStd.writePointer(), Int32(ctx.threads))
            numBatchesTracked += 1
            input = x
            trainedForward = true
        } else {
            nm_batchnorm_forward_eval(x.readPointer, n, c, hw, gamma.value.readPointer, beta.value.readPointer,
                                      runningMean.readPointer, runningVar.readPointer, Float(eps), y.writePointer(), Int32(ctx.threads))
            input = nil
        }
        return y
    }

    /// Forward in evaluation mode that keeps the input, so `backward` differentiates the inference
    /// function (statistics held constant). Used by gradient checks.
    public func forwardFrozen(_ x: Tensor, threads: Int = 1) -> Tensor {
        let y = forward(x, .eval(threads: threads))
        input = x
        trainedForward = false
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let x = input else { preconditionFailure("BatchNorm.backward without a training-mode forward") }
        precondition(dy.shape == x.shape, "BatchNorm.backward: dy \(dy.shape), expected \(x.shape)")
        let (n, c, hw) = dims(x)
        var dx: Tensor? = needInputGradient ? Tensor(uninitialized: x.shape) : nil
        let dxp = dx?.writePointer()
        if trainedForward {
            nm_batchnorm_backward_train(x.readPointer, dy.readPointer, n, c, hw, gamma.value.readPointer, savedMean.readPointer,
                                        savedInvStd.readPointer, dxp, gamma.grad.writePointer(), beta.grad.writePointer(), Int32(threads))
        } else {
            nm_batchnorm_backward_eval(x.readPointer, dy.readPointer, n, c, hw, gamma.value.readPointer, runningMean.readPointer,
                                       runningVar.readPointer, Float(eps), dxp, gamma.grad.writePointer(), beta.grad.writePointer(), Int32(threads))
        }
        input = nil
        return dx
    }
}
