import CANN
import Foundation

/// Adam (Kingma & Ba 2015; PyTorch `torch.optim.Adam` with L2 weight decay), at step t ≥ 1:
/// g ← g + λ p; m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g²;
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
public final class Adam: OptimizerBase, Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let weightDecay: Double

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        super.init(learningRate: learningRate, slotNames: ["exp_avg", "exp_avg_sq"])
    }

    public func step(_ parameters: [Parameter], threads: Int) {
        prepare(parameters)
        stepCount += 1
        // One parallel region for all tensors (fewer OpenMP fork/joins per step).
        var ps: [UnsafeMutablePointer<Float>?] = [], gs: [UnsafePointer<Float>?] = []
        var ms: [UnsafeMutablePointer<Float>?] = [], vs: [UnsafeMutablePointer<Float>?] = [], ns: [Int64] = []
        for (i, p) in parameters.enumerated() {
            ps.append(p.value.writePointer())
            gs.append(p.grad.readPointer)
            ms.append(slots[i][0].writePointer())
            vs.append(slots[i][1].writePointer())
            ns.append(Int64(p.value.count))
        }
        nm_adam_step_multi(Int32(parameters.count), ps, gs, ms, vs, ns, Float(learningRate), Float(beta1), Float(beta2),
                           Float(eps), Float(weightDecay), stepCount, Int32(threads))
    }
}
