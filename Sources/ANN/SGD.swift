import CANN
import Foundation

/// Stochastic gradient descent with momentum and L2 weight decay (PyTorch `torch.optim.SGD`):
/// g ← g + λ p; b ← μ b + (1 − dampening) g (b = g at the first step); p ← p − lr · (nesterov ? g + μ b : b).
/// With μ = 0: p ← p − lr · g.
public final class SGD: OptimizerBase, Optimizer {
    public let momentum: Double
    public let dampening: Double
    public let weightDecay: Double
    public let nesterov: Bool

    public init(learningRate: Double, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        super.init(learningRate: learningRate, slotNames: momentum != 0 ? ["momentum_buffer"] : [])
    }

    public func step(_ parameters: [Parameter], threads: Int) {
        prepare(parameters)
        for (i, p) in parameters.enumerated() {
            let buf: UnsafeMutablePointer<Float>? = momentum != 0 ? slots[i][0].writePointer() : nil
            nm_sgd_step(p.value.writePointer(), p.grad.readPointer, buf, Int64(p.value.count), Float(learningRate), Float(momentum),
                        Float(dampening), Float(weightDecay), nesterov ? 1 : 0, stepCount == 0 ? 1 : 0, Int32(threads))
        }
        stepCount += 1
    }
}
