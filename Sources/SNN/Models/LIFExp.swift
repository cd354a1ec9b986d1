import Foundation

/// `lif_exp`: leaky integrate-and-fire with exponentially decaying synaptic currents (NEST
/// `iaf_psc_exp`; Brian2's CUBA example).
///
///     C_m dv/dt = -(C_m/tau_m)(v - E_L) + I_exc + I_inh + I_e + I_ext
///     dI_x/dt = -I_x/tau_syn_x;   a spike of weight w on port x: I_x += w
///     v >= V_th: spike, v = V_reset, clamped there for t_ref
///
/// Integration: exact (propagator matrix, Rotter & Diesmann 1999): over a step u = v - E_L goes to
/// r I + (u - r I) p22 + x_e p21e + x_i p21i with r = tau_m/C_m, p22 = e^{-dt/tau_m}, and the synaptic
/// inputs decay by p11x = e^{-dt/tau_syn_x}. The engine keeps the synaptic currents as voltages
/// x = I tau_m/C_m, so a weight in mV (Brian2's convention: the jump of x in
/// dv/dt = (x_e + x_i - (v - E_L))/tau_m) is used as is and one in pA (NEST's) is scaled by tau_m/C_m.
/// Engine: `Sources/CEngine/models/lif_exp.c`.
public struct LIFExpParameters: NeuronModelKind {
    public var capacitance: Double = 250          // C_m (pF)
    public var tauMembrane: Double = 10           // tau_m (ms)
    public var restingPotential: Double = -70     // E_L (mV)
    public var threshold: Double = -55            // V_th (mV)
    public var resetPotential: Double = -70       // V_reset (mV)
    public var refractoryPeriod: Double = 2       // t_ref (ms)
    public var tauExc: Double = 2                 // tau_syn_exc (ms)
    public var tauInh: Double = 2                 // tau_syn_inh (ms)
    public var biasCurrent: Double = 0            // I_e (pA)
    public init() {}

    public static let name = "lif_exp"
    public static var summary: String { "leaky integrate-and-fire, exponential current synapses (NEST iaf_psc_exp, Brian2 CUBA)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("C_m", .capacitance, \.capacitance, "membrane capacitance", [.positive]),
        .init("tau_m", .time, \.tauMembrane, "membrane time constant", [.positive]),
        .init("E_L", .voltage, \.restingPotential, "resting potential"),
        .init("V_th", .voltage, \.threshold, "threshold"),
        .init("V_reset", .voltage, \.resetPotential, "reset potential", [.below("V_th")]),
        .init("t_ref", .time, \.refractoryPeriod, "refractory period", [.nonNegative, .steps]),
        .init("tau_syn_exc", .time, \.tauExc, "excitatory synaptic time constant", [.positive]),
        .init("tau_syn_inh", .time, \.tauInh, "inhibitory synaptic time constant", [.positive]),
        .init("I_e", .current, \.biasCurrent, "constant input current"),
    ] }
    public static var variables: [StateVariable] {
        [StateVariable("v", "mV", .voltage), StateVariable("i_exc", "pA", .current), StateVariable("i_inh", "pA", .current)]
    }
    public static var receptors: [Receptor] { [.excitatory, .inhibitory] }
    public static var weightDimensions: [Dimension] { [.voltage, .current] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        let p22 = exp(-dt / tauMembrane)
        func p21(_ ts: Double) -> Double {
            if abs(ts - tauMembrane) < 1e-12 { return dt / tauMembrane * exp(-dt / tauMembrane) }
            return ts / (ts - tauMembrane) * (exp(-dt / ts) - exp(-dt / tauMembrane))
        }
        return [("e_l", restingPotential), ("v_th", threshold), ("v_reset", resetPotential),
                ("t_ref_steps", (refractoryPeriod / dt).rounded()), ("p22", p22), ("p11e", exp(-dt / tauExc)), ("p11i", exp(-dt / tauInh)),
                ("p21e", p21(tauExc)), ("p21i", p21(tauInh)), ("r_scale", tauMembrane / capacitance), ("i_e", biasCurrent)]
    }
    public func initialValue(of variable: Int) -> Double { variable == 0 ? restingPotential : 0 }
    /// The synaptic currents are kept as x = I tau_m/C_m (mV).
    public func readoutScale(of variable: Int) -> Float { variable >= 1 ? Float(capacitance / tauMembrane) : 1 }
    public func weightScale(for dimension: Dimension) -> Double { dimension == .current ? tauMembrane / capacitance : 1 }
}

extension NeuronModel {
    /// A LIF model with exponential current synapses (`LIFExpParameters`).
    public static func lifExp(_ p: LIFExpParameters) -> NeuronModel { NeuronModel(p) }
}
