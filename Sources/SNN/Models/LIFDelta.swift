import Foundation

/// `lif_delta`: leaky integrate-and-fire with delta synapses (NEST `iaf_psc_delta`; the neuron of
/// Brunel 2000).
///
///     C_m dv/dt = -(C_m/tau_m)(v - E_L) + I_e + I_ext;   a spike of weight w (mV) arriving at t: v(t) += w
///     v >= V_th: spike, v = V_reset, held there for t_ref; spikes arriving meanwhile are dropped (NEST's
///     default, refractory_input = false); v >= V_min
///
/// Integration: exact: over a step u = v - E_L goes to p22 u + p30 I (p22 = e^{-dt/tau_m},
/// p30 = (tau_m/C_m)(1 - p22)) plus the weights arriving at the step's end. Timing as NEST's: an input
/// arriving at t is in v(t) (one step earlier than the current-based models, whose currents first move
/// v at t + dt), so a delay d means what it means in NEST. One port: the weight's sign decides.
/// Engine: `Sources/CEngine/models/lif_delta.c`.
public struct LIFDeltaParameters: NeuronModelKind {
    public var capacitance: Double = 250          // C_m (pF)
    public var tauMembrane: Double = 10           // tau_m (ms)
    public var restingPotential: Double = -70     // E_L (mV)
    public var threshold: Double = -55            // V_th (mV)
    public var resetPotential: Double = -70       // V_reset (mV)
    public var refractoryPeriod: Double = 2       // t_ref (ms)
    public var biasCurrent: Double = 0            // I_e (pA)
    public var lowerBound: Double = -.infinity    // V_min (mV; -inf: none)
    public init() {}

    public static let name = "lif_delta"
    public static var summary: String { "leaky integrate-and-fire, delta synapses (NEST iaf_psc_delta, Brunel 2000)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("C_m", .capacitance, \.capacitance, "membrane capacitance", [.positive]),
        .init("tau_m", .time, \.tauMembrane, "membrane time constant", [.positive]),
        .init("E_L", .voltage, \.restingPotential, "resting potential"),
        .init("V_th", .voltage, \.threshold, "threshold"),
        .init("V_reset", .voltage, \.resetPotential, "reset potential", [.below("V_th")]),
        .init("t_ref", .time, \.refractoryPeriod, "refractory period (inputs dropped)", [.nonNegative, .steps]),
        .init("I_e", .current, \.biasCurrent, "constant input current"),
        .init("V_min", .voltage, \.lowerBound, "lower bound of v"),
    ] }
    public static var variables: [StateVariable] { [StateVariable("v", "mV", .voltage)] }
    public static var receptors: [Receptor] { [.excitatory] }
    public static var weightDimensions: [Dimension] { [.voltage] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        [("e_l", restingPotential), ("v_th", threshold), ("v_reset", resetPotential),
         ("t_ref_steps", (refractoryPeriod / dt).rounded()), ("v_min", lowerBound),
         ("p22", exp(-dt / tauMembrane)), ("p30", -tauMembrane / capacitance * expm1(-dt / tauMembrane)), ("i_e", biasCurrent)]
    }
    public func initialValue(of variable: Int) -> Double { restingPotential }
}

extension NeuronModel {
    /// A LIF model with delta synapses (`LIFDeltaParameters`).
    public static func lifDelta(_ p: LIFDeltaParameters) -> NeuronModel { NeuronModel(p) }
}
