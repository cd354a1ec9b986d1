import Foundation

/// Learning rate as a function of the epoch e (0-based), applied at the start of each epoch
/// (PyTorch's schedulers stepped once per epoch):
/// - constant: lr₀
/// - step: lr₀ · γ^⌊e / stepSize⌋ (`StepLR`)
/// - cosine: lr_min + (lr₀ − lr_min) · (1 + cos(π e / T)) / 2 (`CosineAnnealingLR`, T = `epochs`)
public enum LearningRateSchedule: Equatable, Sendable {
    case constant
    case step(stepSize: Int, gamma: Double)
    case cosine(epochs: Int, minimum: Double)

    public func learningRate(base: Double, epoch: Int) -> Double {
        switch self {
        case .constant: return base
        case let .step(s, g): return base * pow(g, Double(epoch / max(s, 1)))
        case let .cosine(t, m): return m + (base - m) * (1 + cos(Double.pi * Double(min(epoch, t)) / Double(max(t, 1)))) / 2
        }
    }
}
