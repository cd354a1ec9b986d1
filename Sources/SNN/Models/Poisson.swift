import CEngine
import Foundation

/// `poisson`: a Poisson spike source: every neuron spikes in a step with probability p = rate·dt
/// (one Bernoulli draw per step, so rate <= 1/dt), drawn exactly as geometric inter-spike steps from
/// random streams per block of 1024 neurons (the same spikes on any thread count). Per-neuron rates
/// (`Population.rates`, `Simulator.setPoissonRates`) override `rate`. Engine:
/// `Sources/CEngine/models/poisson.c`.
public struct PoissonParameters: NeuronModelKind {
    /// Rate of every neuron (Hz).
    public var rateHz: Double = 0
    public init() {}
    public init(rateHz: Double) { self.rateHz = rateHz }

    public static let name = "poisson"
    public static var summary: String { "Poisson spike source (a Bernoulli draw per step, p = rate dt)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("rate", .frequency, \.rateHz, "rate of every neuron", [.perStepProbability], required: true),
    ] }
    public static var variables: [StateVariable] { [] }
    public static var receptors: [Receptor] { [] }
    public static var weightDimensions: [Dimension] { [] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] { [("p", rateHz * dt / 1000)] }

    public func problem(size: Int, rates: [Double]?, dt: Double) -> String? {
        guard let rates else { return nil }
        guard rates.count == size else { return "\(rates.count) rates for \(size) neurons" }
        for r in rates where !(r >= 0 && r * dt / 1000 <= 1) { return "Poisson rate \(r) Hz must be in [0, 1/dt]" }
        return nil
    }
    /// The step of every neuron's next spike (8 B), and per-neuron probabilities (+ 12 B with rates).
    public func extraBytes(size: Int, rates: [Double]?) -> Double { Double(size) * (8 + (rates != nil ? 12 : 0)) }
    public func expectedSpikes(size: Int, neurons: [Int]?, rates: [Double]?, steps: Double, dt: Double) -> Double {
        let fraction = Double(neurons?.count ?? size) / Double(max(1, size))
        let total = rates?.reduce(0, +) ?? rateHz * Double(size)
        return total * fraction * steps * dt / 1000
    }
}

extension NeuronModel {
    /// A Poisson source of `rateHz` per neuron.
    public static func poisson(rateHz: Double) -> NeuronModel { NeuronModel(PoissonParameters(rateHz: rateHz)) }
}

extension Simulator {
    /// Per-neuron rates (Hz) of the Poisson population `i` (the engine's data block "rates": a probability
    /// per step each); nil restores the model rate. E.g. one image's pixel rates (conversion).
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
