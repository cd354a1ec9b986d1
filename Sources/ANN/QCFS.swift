import CANN
import Foundation

/// Quantization-clip-floor-shift activation with a trainable threshold (QCFS; Bu, Fang, Ding, Dai,
/// Yu & Huang, "Optimal ANN-SNN conversion for high-accuracy and low-latency spiking neural
/// networks", ICLR 2022):
///
///     y = λ/L · clip(floor(x·L/λ + 1/2), 0, L)      (computed as λ · floor(clamp(x/λ, 0, 1)·L + 1/2)/L)
///
/// L quantization levels (`levels`), shift φ = 1/2, threshold λ one per layer or one per channel
/// (`thresh`, PyTorch shape [1] or [C], initialised to `initialThreshold`, default 8 as in the
/// authors' code). The backward pass follows the authors' code (`GradFloor`: the floor passes its
/// gradient straight through; the clamp passes it where 0 ≤ x/λ ≤ 1):
/// dL/dx = dL/dy · [0 ≤ x/λ ≤ 1], dL/dλ = Σ dL/dy · (y/λ − [0 ≤ x/λ ≤ 1] · x/λ).
/// A converted IF neuron with threshold λ, initial membrane λ/2 and reset by subtraction reproduces
/// y on average over T = L steps (the paper's Theorem 2); `Converter` uses λ as the layer's scale.
/// Input [N, C, H, W] (channel = dim 1) or [N, F] (channel = feature).
public final class QCFS: Layer {
    public let levels: Int
    /// Number of thresholds: 1 (per layer) or the channel count (per channel).
    public let thresholdCount: Int
    public let initialThreshold: Double
    /// λ, [thresholdCount].
    public let threshold: Parameter
    private var input: Tensor?

    /// Default initial threshold (the authors' `thresh=8.0`).
    public static let defaultThreshold = 8.0

    public init(levels: Int, thresholdCount: Int = 1, initialThreshold: Double = QCFS.defaultThreshold) {
        self.levels = levels
        self.thresholdCount = thresholdCount
        self.initialThreshold = initialThreshold
        threshold = Parameter(name: "thresh", value: Tensor(shape: [thresholdCount], repeating: Float(initialThreshold)))
    }

    public var spec: LayerSpec { .qcfs(levels: levels, thresholds: thresholdCount, initialThreshold: initialThreshold) }
    public var parameters: [Parameter] { [threshold] }

    /// (N, C, per-channel size) of an input.
    private func geometry(_ x: Tensor) -> (Int, Int, Int) {
        let n = x.shape[0], c = x.rank > 1 ? x.shape[1] : 1
        return (n, c, x.count / max(n * c, 1))
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let (n, c, per) = geometry(x)
        precondition(thresholdCount == 1 || thresholdCount == c, "QCFS: \(thresholdCount) thresholds for \(c) channels of input \(x.shape)")
        var y = Tensor(uninitialized: x.shape)
        nm_qcfs_forward(x.readPointer, y.writePointer(), Int64(n), Int64(c), Int64(per), threshold.value.readPointer,
                        Int64(thresholdCount), Int32(levels), Int32(ctx.threads))
        input = ctx.training ? x : nil
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let x = input else { preconditionFailure("QCFS.backward without a training-mode forward") }
        precondition(dy.shape == x.shape, "QCFS.backward: dy \(dy.shape), expected \(x.shape)")
        input = nil
        let (n, c, per) = geometry(x)
        var dx: Tensor? = needInputGradient ? Tensor(uninitialized: x.shape) : nil
        let dxp = dx == nil ? nil : dx!.writePointer()
        let rc = nm_qcfs_backward(x.readPointer, dy.readPointer, dxp, threshold.grad.writePointer(), Int64(n), Int64(c), Int64(per),
                                  threshold.value.readPointer, Int64(thresholdCount), Int32(levels), Int32(threads))
        precondition(rc == 0, "QCFS.backward: out of memory")
        return dx
    }
}

extension LayerSpec {
    /// Whether the tensor `name` of this layer is a QCFS threshold λ (`thresh` of a QCFS layer, or
    /// `body.<j>.thresh` / `shortcut.<j>.thresh` of a QCFS inside a residual block).
    func isQCFSThreshold(_ name: String) -> Bool {
        switch self {
        case .qcfs: return name == "thresh"
        case let .residual(body, shortcut):
            let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
            guard parts.count == 3, let j = Int(parts[1]) else { return false }
            let branch = parts[0] == "body" ? body : parts[0] == "shortcut" ? shortcut : []
            return j >= 0 && j < branch.count && branch[j].isQCFSThreshold(parts[2])
        default: return false
        }
    }
}
