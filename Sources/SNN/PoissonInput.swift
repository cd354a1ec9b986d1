import Foundation

/// An aggregated Poisson drive onto a population (Brian2's `PoissonInput`; NEST's `poisson_generator`
/// connected to every neuron): each target neuron receives the summed spikes of `sources` independent
/// trains of `rateHz` each, drawn as one count per neuron and step and added to the receptor as
/// `weight` × count — no source neurons and no synapses are stored.
///
/// The count per step is Poisson(sources·rate·dt) (`.poisson`, the default: the trains are Poisson
/// processes, so the drive equals `sources` explicit `poisson` sources, or one at sources × rate) or
/// Binomial(sources, rate·dt) (`.binomial`: Bernoulli trains, rate ≤ 1/dt, as Brian2's PoissonInput,
/// which replaces it by a normal law when N·p > 5 and N·(1 − p) > 5; here it is exact). Drawn by
/// inversion of the exact cumulative table in 32-bit fixed point (every probability exact to 2⁻³²)
/// from one xoshiro128+ stream per pair of target neurons (16 bits per neuron and step where the mean is
/// up to ~10, with the same probabilities), 32 neurons at a time on every vector path: the same counts on
/// any thread count and path.
///
/// Timing: the counts arrive as the spikes of an explicit source connected with the minimum delay (dt)
/// would: that source's spikes of update m act in update m + 2 (m + 1 for `lif_delta`, whose inputs act
/// in the step ending at their arrival), so the first counts act at t = 2·dt (dt); each is drawn right
/// before the update it acts in (the count is the same random variable whenever it is drawn).
/// `Simulator.inputEvents` counts the spikes delivered. Engine: `Sources/CEngine/snn_poisson_input.c`.
public struct PoissonInput: Sendable, Equatable {
    public enum Draw: String, Sendable, Equatable, CaseIterable {
        case poisson, binomial
    }
    /// The largest mean count per neuron and step, sources × rate × dt (the engine's NM_PINPUT_MAX_MEAN).
    public static let maxMeanPerStep = 1e7

    public var name: String
    /// The target population.
    public var population: String
    /// Target neurons (nil = all).
    public var neurons: [Int]?
    /// Independent trains per target neuron (1 ... 2^31 − 1).
    public var sources: Int
    /// Rate of each train (Hz).
    public var rateHz: Double
    /// Added per input spike, in the target model's weight unit (`NeuronModel.weightUnit`).
    public var weight: Double
    public var receptor: Receptor
    public var draw: Draw

    public init(name: String = "", population: String, neurons: [Int]? = nil, sources: Int, rateHz: Double, weight: Double,
                receptor: Receptor = .excitatory, draw: Draw = .poisson) {
        self.name = name.isEmpty ? "poisson_input->\(population)" : name
        self.population = population
        self.neurons = neurons
        self.sources = sources
        self.rateHz = rateHz
        self.weight = weight
        self.receptor = receptor
        self.draw = draw
    }

    /// Each train's mean spikes (or spike probability) per step of `dt` ms.
    public func perSourcePerStep(dt: Double) -> Double { rateHz * dt / 1000 }
    /// The mean count per target neuron and step.
    public func meanPerStep(dt: Double) -> Double { Double(sources) * perSourcePerStep(dt: dt) }

    /// Why this input cannot drive `target` on a grid of `dt` ms (the rules the engine checks too), or nil.
    public func problem(target: Population, dt: Double) -> String? {
        if target.model.isSource { return "'\(target.name)' is a spike source (\(target.model.name)) and receives no input" }
        if !target.model.receptors.contains(receptor) {
            return "model \(target.model.name) has no \(receptor.rawValue) receptor (it has: \(target.model.receptors.map(\.rawValue).joined(separator: ", ")))"
        }
        guard sources >= 1, sources <= Int(Int32.max) else { return "sources must be a whole number in 1 ... 2^31 - 1, found \(sources)" }
        guard rateHz.isFinite, rateHz >= 0 else { return "rate must be finite and >= 0 Hz, found \(rateHz)" }
        if draw == .binomial, perSourcePerStep(dt: dt) > 1 {
            return "rate \(String(format: "%g", rateHz)) Hz is more than 1/dt (\(String(format: "%g", 1000 / dt)) Hz): draw: binomial has at most one spike per source and step (draw: poisson takes any rate)"
        }
        let lambda = meanPerStep(dt: dt)
        if !(lambda <= Self.maxMeanPerStep) {
            return "sources x rate x dt = \(String(format: "%g", lambda)) spikes per neuron and step is more than \(String(format: "%g", Self.maxMeanPerStep))"
        }
        if let why = Distribution.constant(weight).problem { return "weight: \(why)" }
        if target.model.weightUnit == "nS", weight < 0 { return "conductance weights must be >= 0 (use receptor: inh for inhibition)" }
        if let ns = neurons {
            guard !ns.isEmpty else { return "the neuron list is empty" }
            if let k = ns.first(where: { $0 < 0 || $0 >= target.size }) { return "neuron \(k) out of range 0..<\(target.size)" }
        }
        return nil
    }

    /// Bytes the engine keeps for it: a 16-byte random stream per pair of target neurons, 8 B per neuron
    /// (rounded up to 32 neurons, + 32 of padding), the neuron mask (1 B each) and the cumulative tables
    /// for at most ~13·√λ + 30 counts: 12 B per entry in 32-bit forms, 64 B in the 16-bit kernel's
    /// (one 32-lane vector per entry), and the guide of large means (at most 4× the entries, 4 B each).
    public func engineBytes(targetSize: Int, dt: Double) -> Double {
        let n = Double((targetSize + 31) / 32 * 32 + 32)
        let table = 13 * meanPerStep(dt: dt).squareRoot() + 30
        return 8 * n + (neurons != nil ? n : 0) + (12 + 64 + 16) * table
    }
}
