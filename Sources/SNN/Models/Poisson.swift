import CEngine
import Foundation

/// `poisson`: a Poisson spike source with NEST's `poisson_generator` semantics: in every step each
/// neuron emits a Poisson-distributed number of spikes with mean λ = rate·dt, for any rate ≥ 0; a
/// neuron that spikes k times in one step delivers k times its weight and counts k synaptic events
/// (its id travels k times through the engine, and spike monitors record it k times, as NEST's
/// `spike_recorder` does). Drawn exactly as a Poisson process: exponential inter-spike intervals in
/// continuous time, counted per step (the counts of disjoint steps are independent Poisson(λ)).
///
/// `draw: bernoulli`: at most one spike per step, with probability rate·dt (so rate ≤ 1/dt): Brian2's
/// `PoissonGroup`, and what ANN→SNN converters call Poisson rate coding (the converter's
/// `--encoding poisson` uses it: a pixel of intensity x spikes with probability x per step). Drawn as
/// geometric inter-spike steps. Convolutional and max-pool projections need this draw (one spike per
/// neuron and step).
///
/// Random streams per block of 1024 neurons (the same spikes on any thread count). Per-neuron rates
/// (`Population.rates`, `Simulator.setPoissonRates`) override `rate`. Engine:
/// `Sources/CEngine/models/poisson.c`.
public struct PoissonParameters: NeuronModelKind {
    /// Rate of every neuron (Hz).
    public var rateHz: Double = 0
    /// At most one spike per step (Bernoulli, rate ≤ 1/dt) instead of a Poisson count.
    public var bernoulli: Bool = false
    public init() {}
    public init(rateHz: Double, bernoulli: Bool = false) { self.rateHz = rateHz; self.bernoulli = bernoulli }

    /// The largest mean count per step (the engine's NM_POISSON_MAX_MEAN: 10^10 Hz at dt = 0.1 ms);
    /// aggregated drives are `poisson_input`s.
    public static let maxMeanPerStep = 1e6

    public static let name = "poisson"
    public static var summary: String { "Poisson spike source (NEST poisson_generator: a Poisson count per step, mean rate dt; or a Bernoulli draw)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("rate", .frequency, \.rateHz, "rate of every neuron", [.nonNegative, .perStepAtMost(maxMeanPerStep)], required: true),
        .init("draw", choice: "bernoulli", "poisson", \.bernoulli,
              "poisson: a Poisson count per step (several spikes possible; NEST poisson_generator), or bernoulli: at most one spike per step, rate <= 1/dt (Brian2 PoissonGroup)"),
    ] }
    public static var variables: [StateVariable] { [] }
    public static var receptors: [Receptor] { [] }
    public static var weightDimensions: [Dimension] { [] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        [("p", rateHz * dt / 1000), ("bernoulli", bernoulli ? 1 : 0)]
    }

    public func problem(size: Int, rates: [Double]?, dt: Double) -> String? {
        if bernoulli, rateHz * dt / 1000 > 1 {
            return "rate \(String(format: "%g", rateHz)) Hz is more than 1/dt (\(String(format: "%g", 1000 / dt)) Hz): draw: bernoulli gives at most one spike per step (draw: poisson, the default, takes any rate)"
        }
        guard let rates else { return nil }
        guard rates.count == size else { return "\(rates.count) rates for \(size) neurons" }
        let limit = bernoulli ? 1 : Self.maxMeanPerStep
        for r in rates where !(r >= 0 && r * dt / 1000 <= limit) {
            return bernoulli ? "Poisson rate \(r) Hz must be in [0, 1/dt] with draw: bernoulli"
                             : "Poisson rate \(r) Hz must be >= 0 and at most \(String(format: "%g", limit)) spikes per step"
        }
        return nil
    }
    /// The step (8 B) and, for the Poisson draw, the offset within it (8 B) of every neuron's next spike
    /// and its count in the current step (4 B); per-neuron rates + 12 B.
    public func extraBytes(size: Int, rates: [Double]?) -> Double { Double(size) * (16 + (bernoulli ? 0 : 4) + (rates != nil ? 12 : 0)) }
    public func expectedSpikes(size: Int, neurons: [Int]?, rates: [Double]?, steps: Double, dt: Double) -> Double {
        let fraction = Double(neurons?.count ?? size) / Double(max(1, size))
        let total = rates?.reduce(0, +) ?? rateHz * Double(size)
        return total * fraction * steps * dt / 1000
    }
    /// A neuron's id is listed once per spike: with a mean of λ per step, the engine's lists grow to
    /// about λ + 4√λ entries per neuron and step (doubling as they grow).
    public func spikeListEntries(rates: [Double]?, dt: Double) -> Double {
        guard !bernoulli else { return 1 }
        let lambda = (rates?.max() ?? rateHz) * dt / 1000
        return max(1, 2 * (lambda + 4 * lambda.squareRoot()))
    }
}

extension NeuronModel {
    /// A Poisson source of `rateHz` per neuron (a Poisson count per step; `bernoulli`: at most one spike
    /// per step).
    public static func poisson(rateHz: Double, bernoulli: Bool = false) -> NeuronModel {
        NeuronModel(PoissonParameters(rateHz: rateHz, bernoulli: bernoulli))
    }
}

extension Simulator {
    /// Per-neuron rates (Hz) of the Poisson population `i` (the engine's data block "rates": a mean per
    /// step each, or a probability with `draw: bernoulli`); nil restores the model rate. E.g. one image's
    /// pixel rates (conversion).
    public func setPoissonRates(population i: Int, hz: [Float]?) throws {
        let rc: Int32
        if let hz {
            let p = hz.map { $0 * Float(network.dt / 1000) }
            rc = nm_pop_set_rates(engine, Int32(i), p)
        } else {
            rc = nm_pop_set_rates(engine, Int32(i), nil)
        }
        guard rc == 0 else { throw NetworkError(String(cString: nm_engine_error(engine))) }
    }
}
