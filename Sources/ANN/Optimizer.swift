import Common
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
    /// The first state value that is NaN or ±inf: the parameter's index in the list `step` was given,
    /// the buffer's name, the element and its value; nil when all are finite.
    func firstNonFiniteState() -> (parameter: Int, buffer: String, index: Int, value: Float)?
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

    public func firstNonFiniteState() -> (parameter: Int, buffer: String, index: Int, value: Float)? {
        for (i, row) in slots.enumerated() {
            for (b, t) in row.enumerated() {
                if let j = t.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) { return (i, slotNames[b], j, t[flat: j]) }
            }
        }
        return nil
    }

    /// Restores the state saved by `state()`. Refused (`ANNError.invalidModel`, naming the key) when a
    /// buffer is missing, has another shape than its parameter, holds NaN or ±inf (a resumed run would
    /// write it back or diverge), a second-moment buffer (`*_sq`, `square_avg`) is negative, the step
    /// count is negative, or a key is not one this optimiser writes.
    public func loadState(_ state: [String: StateValue], parameters: [Parameter]) throws {
        guard case .int64(let st)? = state["step"] else { throw ANNError.invalidModel("optimizer state has no 'step'") }
        guard st >= 0 else { throw ANNError.invalidModel("optimizer state 'step' is \(st), expected a count >= 0") }
        var newSlots: [[Tensor]] = []
        var known: Set<String> = ["step"]
        for (i, p) in parameters.enumerated() {
            var row: [Tensor] = []
            for name in slotNames {
                let key = "\(i).\(name)"
                known.insert(key)
                guard let v = state[key] else {
                    throw ANNError.invalidModel("optimizer state '\(key)' is missing (expected float32 \(p.value.shape))")
                }
                guard case .float(let t) = v, t.shape == p.value.shape else {
                    throw ANNError.invalidModel("optimizer state '\(key)' has shape \(v.shape), expected float32 \(p.value.shape)")
                }
                if let j = t.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                    throw ANNError.invalidModel("optimizer state '\(key)' holds \(FiniteCheck.describe(t[flat: j])) at index \(j) of \(t.count); optimizer state must be finite")
                }
                if name.hasSuffix("_sq") || name == "square_avg",
                   let j = t.withUnsafeBufferPointer({ b in (0..<b.count).first { b[$0] < 0 } }) {
                    throw ANNError.invalidModel("optimizer state '\(key)' holds \(t[flat: j]) at index \(j); a mean of squares must be >= 0")
                }
                row.append(t)
            }
            newSlots.append(row)
        }
        if let extra = state.keys.filter({ !known.contains($0) }).sorted().first {
            throw ANNError.invalidModel("unexpected optimizer state '\(extra)' (this optimizer keeps \(slotNames.isEmpty ? "only 'step'" : slotNames.map { "'\($0)'" }.joined(separator: ", ")) per parameter)")
        }
        slots = st == 0 && newSlots.isEmpty ? [] : newSlots
        stepCount = st
    }
}
