/// The neurons a monitor records: a range (`all`, `a:b` in a config) kept as its bounds, or an explicit
/// list. A range is expanded into indices only when the run allocates its recording, after the memory
/// estimate (`SimulationBudget`) has counted it: `neurons: all` on 10^8 neurons is 800 MB as `[Int]`.
public enum NeuronSelection: Sendable, Equatable {
    case range(Range<Int>)
    case list([Int])

    /// How many neurons (without expanding a range).
    public var count: Int {
        switch self {
        case .range(let r): return r.count
        case .list(let l): return l.count
        }
    }

    /// The indices, in order (allocates `count` elements).
    public var indices: [Int] {
        switch self {
        case .range(let r): return Array(r)
        case .list(let l): return l
        }
    }

    /// Whether neuron `i` is selected (a list is searched linearly).
    public func contains(_ i: Int) -> Bool {
        switch self {
        case .range(let r): return r.contains(i)
        case .list(let l): return l.contains(i)
        }
    }
}
