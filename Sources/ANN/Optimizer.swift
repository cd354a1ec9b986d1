import Foundation

/// A first-order optimiser: `step` updates every parameter from its `grad` (elementwise kernels,
/// so results do not depend on threads). Per-parameter state (momentum, moments) is kept in the order
/// of the parameter list, which must be the same at every step. `state()` / `loadState` save and
/// restore it for checkpoints (keys "<parameter index>.<buffer>", plus "step").
public protocol Optimizer: AnyObject {
    /// Learning rate of the next step (set by the schedule each epoch).
    var learningRate: Double { get set }
    /// Steps taken so far.
    var stepCount: Int64 { get }
    func step(_ parameters: [Parameter], threads: Int)
    func state() -> [(key: String, value: StateValue)]
    func loadState(_ state: [String: StateValue], parameters: [Parameter]) throws
}

/// Shared bookkeeping for optimisers whose state is a fixed set of tensors per parameter.
public class OptimizerBase {
    public var learningRate: Double
    public internal(set) var stepCount: Int64 = 0
    var slots: [[Tensor]] = []
    let slotNames: [String]

    init(learningRate: Double, slotNames: [String]) {
        self.learningRate = learningRate
        self.slotNames = slotNames
    }

    func prepare(_ parameters: [Parameter]) {
        if slots.count != parameters.count {
            slots = parameters.map { p in slotNames.map { _ in Tensor(zeros: p.value.shape) } }
        }
    }

    public func state() -> [(key: String, value: StateValue)] {
        var out: [(key: String, value: StateValue)] = [("step", .int64(stepCount))]
        for (i, s) in slots.enumerated() {
            for (j, name) in slotNames.enumerated() { out.append(("\(i).\(name)", .float(s[j]))) }
        }
        return out
    }

    public func loadState(_ state: [String: StateValue], parameters: [Parameter]) throws {
        guard case .int64(let st)? = state["step"] else { throw ANNError.invalidModel("optimizer state has no 'step'") }
        var newSlots: [[Tensor]] = []
        for (i, p) in parameters.enumerated() {
            var row: [Tensor] = []
            for name in slotNames {
                guard case .float(let t)? = state["\(i).\(name)"], t.shape == p.value.shape else {
                    throw ANNError.invalidModel("optimizer state '\(i).\(name)' is missing or not \(p.value.shape)")
                }
                row.append(t)
            }
            newSlots.append(row)
        }
        slots = st == 0 && newSlots.isEmpty ? [] : newSlots
        stepCount = st
    }
}
