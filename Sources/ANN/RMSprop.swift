import CANN
import Foundation

/// RMSprop (Hinton's lecture 6e; PyTorch `torch.optim.RMSprop`, non-centred):
/// g ← g + λ p; s ← α s + (1 − α) g²; with momentum μ > 0: b ← μ b + g / (√s + ε), p ← p − lr · b;
/// else p ← p − lr · g / (√s + ε).
public final class RMSprop: OptimizerBase, Optimizer {
    public let alpha: Double
    public let eps: Double
    public let weightDecay: Double
    public let momentum: Double

    public init(learningRate: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8, weightDecay: Double = 0, momentum: Double = 0) {
        self.alpha = alpha
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentum = momentum
        super.init(learningRate: learningRate, slotNames: momentum > 0 ? ["square_avg", "momentum_buffer"] : ["square_avg"])
    }

    public func step(_ parameters: [Parameter], threads: Int) {
        prepare(parameters)
        for (i, p) in parameters.enumerated() {
            let buf: UnsafeMutablePointer<Float>? = momentum > 0 ? slots[i][1].writePointer() : nil
            nm_rmsprop_step(p.value.writePointer(), p.grad.readPointer, slots[i][0].writePointer(), buf, Int64(p.value.count),
                            Float(learningRate), Float(alpha), Float(eps), Float(weightDecay), Float(momentum), Int32(threads))
        }
        stepCount += 1
    }
}
