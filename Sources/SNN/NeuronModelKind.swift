import Foundation

/// A neuron (or spike-source) model: its name in configs and saved files, its parameters with units,
/// defaults, documentation and checks, its state variables and synaptic ports, and the constants it
/// derives for the engine. A model has two homes and nothing else knows it: one Swift file in
/// `Sources/SNN/Models/` (the conforming struct, which holds the parameter values; `init()` gives the
/// defaults; the equations and integration method are its doc comment) and one C file
/// `Sources/CEngine/models/NAME.c` (the engine's named parameter struct, state layout and update kernel),
/// each registered by one line: `NeuronModels.all` here, `models.h` there. `engineParameters(dt:)` is
/// the bridge: the C struct's fields by name.
///
/// Units: time ms, voltage mV, conductance nS, capacitance pF, current pA, rate Hz. Every model advances
/// on the engine's fixed grid `dt`; an input arriving at `t_n` is added at the start of update `n`, a
/// threshold crossing found in update `n` is a spike at time `t_{n+1}` (NEST's convention).
public protocol NeuronModelKind: Sendable, Equatable {
    /// The name in configs, saved networks and the engine's registry.
    static var name: String { get }
    /// One line for the model table: what it is and its usual names elsewhere.
    static var summary: String { get }
    /// The parameters a config may set, in table order (defaults are `init()`'s values).
    static var parameters: [ModelParameter<Self>] { get }
    /// State variables that monitors can sample and configs can initialize, in the engine's order.
    static var variables: [StateVariable] { get }
    /// Synaptic ports, in the engine's order (empty for spike sources).
    static var receptors: [Receptor] { get }
    /// The dimensions a weight onto this model may be given in; the first is the engine's unit (the
    /// others are converted by `weightScale(for:)`). Empty for spike sources.
    static var weightDimensions: [Dimension] { get }

    /// The default parameters.
    init()
    /// The engine's parameters by the names of the C parameter struct's fields (derived constants such
    /// as propagators for the time step `dt`, in ms). Every field exactly once.
    func engineParameters(dt: Double) -> [(name: String, value: Double)]
    /// Initial value of state variable `variable` (in its unit) when a config does not give one.
    func initialValue(of variable: Int) -> Double
    /// Factor from the engine's stored value of `variable` to its documented unit (1 for most).
    func readoutScale(of variable: Int) -> Float
    /// Factor from a weight given in `dimension` (one of `weightDimensions`) to the engine's unit.
    func weightScale(for dimension: Dimension) -> Double
    /// Data the engine needs besides parameters (e.g. spike times as steps), as named blocks.
    func engineBlocks(size: Int, dt: Double) -> [EngineBlock]
    /// What is wrong with this model for a population of `size` neurons (with per-neuron Poisson
    /// `rates`, if any) on a grid of `dt` beyond the per-parameter rules; nil if nothing.
    func problem(size: Int, rates: [Double]?, dt: Double) -> String?
    /// Bytes per population the engine keeps besides the state variables and the 12 bytes per neuron
    /// every model has (refractory counter, external current, spike count).
    func extraBytes(size: Int, rates: [Double]?) -> Double
    /// Spikes expected from `neurons` (nil = all) in a run of `steps` steps of `dt` ms (spike sources; 0
    /// for neurons, whose spikes depend on their dynamics).
    func expectedSpikes(size: Int, neurons: [Int]?, rates: [Double]?, steps: Double, dt: Double) -> Double
    /// Entries per neuron and step the engine's spike lists need (1: at most one spike per step; more
    /// for sources that spike several times in one step).
    func spikeListEntries(rates: [Double]?, dt: Double) -> Double
}

extension NeuronModelKind {
    public func initialValue(of variable: Int) -> Double { 0 }
    public func readoutScale(of variable: Int) -> Float { 1 }
    public func weightScale(for dimension: Dimension) -> Double { 1 }
    public func engineBlocks(size: Int, dt: Double) -> [EngineBlock] { [] }
    public func problem(size: Int, rates: [Double]?, dt: Double) -> String? {
        rates == nil ? nil : "per-neuron rates need the poisson model"
    }
    public func extraBytes(size: Int, rates: [Double]?) -> Double { 0 }
    public func expectedSpikes(size: Int, neurons: [Int]?, rates: [Double]?, steps: Double, dt: Double) -> Double { 0 }
    public func spikeListEntries(rates: [Double]?, dt: Double) -> Double { 1 }

    /// The first parameter (table order) that breaks one of its rules, as "KEY must be ...", or nil.
    public func parameterProblem(dt: Double) -> (key: String, message: String)? {
        for p in Self.parameters {
            if let why = p.problem(in: self, dt: dt) { return (p.key, why) }
        }
        return nil
    }

    func isEqual(to other: any NeuronModelKind) -> Bool { (other as? Self) == self }
}

/// A state variable of a model: name, unit (of what monitors report) and dimension (of initial values
/// in configs; `.dimensionless` for units configs cannot write, e.g. pA/ms).
public struct StateVariable: Sendable, Equatable {
    public let name: String
    public let unit: String
    public let dimension: Dimension
    public init(_ name: String, _ unit: String, _ dimension: Dimension) {
        self.name = name; self.unit = unit; self.dimension = dimension
    }
}

/// A named array the engine keeps for a population besides parameters and state (the model's C data
/// blocks, e.g. a spike source's emitting steps).
public struct EngineBlock: Sendable, Equatable {
    public let name: String
    public let values: [Int64]
    public init(name: String, values: [Int64]) { self.name = name; self.values = values }
}

/// A rule a parameter's value must follow (checked by the config parser at the parameter's line, and by
/// `Network.validate` for networks built in code).
public enum ParameterRule: Sendable, Equatable {
    /// > 0
    case positive
    /// >= 0
    case nonNegative
    /// < the parameter with this key
    case below(String)
    /// > the parameter with this key
    case above(String)
    /// a duration the engine counts in 32-bit steps: at most 2^31 - 1 steps of dt
    case steps
    /// a rate (Hz) of at most this many spikes per step: rate·dt <= the value
    case perStepAtMost(Double)

    func problem(_ x: Double, other: (String) -> Double?, dt: Double) -> String? {
        switch self {
        case .positive: return x > 0 ? nil : "must be > 0"
        case .nonNegative: return x >= 0 ? nil : "must be >= 0"
        case .below(let k): return other(k).map { x < $0 ? nil : "must be below \(k)" } ?? nil
        case .above(let k): return other(k).map { x > $0 ? nil : "must be above \(k)" } ?? nil
        case .steps:
            return (x / dt).rounded() <= Double(Int32.max) ? nil : "must be at most 2^31 - 1 steps of dt (\(String(format: "%g", dt)) ms)"
        case .perStepAtMost(let m):
            return x * dt / 1000 <= m ? nil : "must be at most \(String(format: "%g", m)) spikes per step of dt (\(String(format: "%g", m * 1000 / dt)) Hz)"
        }
    }
}

/// One parameter of a model: its config key, what kind of value it takes (and where the model keeps
/// it), documentation, and rules. The default is the value in the model's `init()`.
public struct ModelParameter<Model: NeuronModelKind> {
    public enum Kind {
        /// A number with a unit of `Dimension` (a plain number for `.dimensionless`).
        case quantity(Dimension, WritableKeyPath<Model, Double>)
        /// One of two words: the first sets the flag, the second clears it.
        case choice(String, String, WritableKeyPath<Model, Bool>)
        /// One list of times (ms) per neuron, each >= dt and at most `Network.maxSteps` steps.
        case timeLists(WritableKeyPath<Model, [[Double]]>)
    }
    public let key: String
    public let kind: Kind
    /// What it is, for the model table and error messages.
    public let doc: String
    public let rules: [ParameterRule]
    /// A config must give it (the default is a placeholder).
    public let required: Bool

    public init(_ key: String, _ dimension: Dimension, _ path: WritableKeyPath<Model, Double>, _ doc: String,
                _ rules: [ParameterRule] = [], required: Bool = false) {
        self.key = key; self.kind = .quantity(dimension, path); self.doc = doc; self.rules = rules; self.required = required
    }
    public init(_ key: String, choice on: String, _ off: String, _ path: WritableKeyPath<Model, Bool>, _ doc: String) {
        self.key = key; self.kind = .choice(on, off, path); self.doc = doc; self.rules = []; self.required = false
    }
    public init(_ key: String, timeLists path: WritableKeyPath<Model, [[Double]]>, _ doc: String, required: Bool = false) {
        self.key = key; self.kind = .timeLists(path); self.doc = doc; self.rules = []; self.required = required
    }

    /// The dimension of a quantity (nil for other kinds).
    public var dimension: Dimension? { if case .quantity(let d, _) = kind { return d } else { return nil } }

    /// The value as a number (quantities; nil for other kinds).
    public func number(in m: Model) -> Double? { if case .quantity(_, let path) = kind { return m[keyPath: path] } else { return nil } }

    /// The default, as a config would write it (`10 ms`, `subtract`, `none` for -inf lower bounds,
    /// `required`).
    public var defaultText: String {
        if required { return "required" }
        let m = Model()
        switch kind {
        case .quantity(let d, let path):
            let x = m[keyPath: path]
            if x == -.infinity { return "none" }
            return d.canonicalUnit.isEmpty ? String(format: "%g", x) : "\(String(format: "%g", x)) \(d.canonicalUnit)"
        case .choice(let on, let off, let path): return m[keyPath: path] ? on : off
        case .timeLists: return "[]"
        }
    }

    /// The first rule `m`'s value breaks ("must be > 0", ...), or for time lists the first time that
    /// cannot be a spike time; nil if none.
    public func problem(in m: Model, dt: Double) -> String? {
        switch kind {
        case .quantity(_, let path):
            let x = m[keyPath: path]
            func other(_ key: String) -> Double? { Model.parameters.first { $0.key == key }?.number(in: m) }
            for r in rules { if let why = r.problem(x, other: other, dt: dt) { return why } }
            return nil
        case .choice: return nil
        case .timeLists(let path):
            for (i, ts) in m[keyPath: path].enumerated() {
                if let k = ts.firstIndex(where: { Self.timeProblem($0, dt: dt) != nil }) {
                    return "time \(String(format: "%g", ts[k])) ms of neuron \(i): \(Self.timeProblem(ts[k], dt: dt)!)"
                }
            }
            return nil
        }
    }

    /// Why `t` (ms) cannot be a spike time on a grid of `dt`, or nil.
    public static func timeProblem(_ t: Double, dt: Double) -> String? {
        guard t.isFinite, t >= dt - 1e-9 else { return "spike times must be >= dt (\(String(format: "%g", dt)) ms): a spike is stamped at the end of a step" }
        let s = (t / dt).rounded()
        guard s <= Double(Network.maxSteps) else { return "spike times must be at most \(Network.maxSteps) steps of dt (\(String(format: "%g", dt)) ms)" }
        return nil
    }
}
