import Foundation

/// `lif_cond_exp`: leaky integrate-and-fire with exponentially decaying synaptic conductances (NEST
/// `iaf_cond_exp`; Brette et al. 2007 COBA).
///
///     C_m dv/dt = g_L (E_L - v) + g_e (E_exc - v) + g_i (E_inh - v) + I_e + I_ext
///     dg_x/dt = -g_x/tau_syn_x;   a spike of weight w (nS) on port x: g_x += w
///     v >= V_th: spike, v = V_reset, clamped there for t_ref
///
/// Integration: exponential Euler, as Brian2 does for this model: the conductances are held over a
/// step and v relaxes exactly towards v_inf = (g_L E_L + g_e E_exc + g_i E_inh + I)/g_tot with rate
/// g_tot/C_m; the conductances decay exactly. Engine: `Sources/CEngine/models/lif_cond_exp.c`.
public struct LIFCondExpParameters: NeuronModelKind {
    public var capacitance: Double = 250          // C_m (pF)
    public var leakConductance: Double = 16.6667  // g_L (nS)
    public var restingPotential: Double = -70     // E_L (mV)
    public var threshold: Double = -55            // V_th (mV)
    public var resetPotential: Double = -60       // V_reset (mV)
    public var refractoryPeriod: Double = 2       // t_ref (ms)
    public var reversalExc: Double = 0            // E_exc (mV)
    public var reversalInh: Double = -85          // E_inh (mV)
    public var tauExc: Double = 0.2               // tau_syn_exc (ms)
    public var tauInh: Double = 2                 // tau_syn_inh (ms)
    public var biasCurrent: Double = 0            // I_e (pA)
    public init() {}

    public static let name = "lif_cond_exp"
    public static var summary: String { "leaky integrate-and-fire, exponential conductances (NEST iaf_cond_exp, COBA)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("C_m", .capacitance, \.capacitance, "membrane capacitance", [.positive]),
        .init("g_L", .conductance, \.leakConductance, "leak conductance", [.positive]),
        .init("E_L", .voltage, \.restingPotential, "leak reversal potential"),
        .init("V_th", .voltage, \.threshold, "threshold"),
        .init("V_reset", .voltage, \.resetPotential, "reset potential", [.below("V_th")]),
        .init("t_ref", .time, \.refractoryPeriod, "refractory period", [.nonNegative, .steps]),
        .init("E_exc", .voltage, \.reversalExc, "excitatory reversal potential"),
        .init("E_inh", .voltage, \.reversalInh, "inhibitory reversal potential"),
        .init("tau_syn_exc", .time, \.tauExc, "excitatory synaptic time constant", [.positive]),
        .init("tau_syn_inh", .time, \.tauInh, "inhibitory synaptic time constant", [.positive]),
        .init("I_e", .current, \.biasCurrent, "constant input current"),
    ] }
    public static var variables: [StateVariable] {
        [StateVariable("v", "mV", .voltage), StateVariable("g_exc", "nS", .conductance), StateVariable("g_inh", "nS", .conductance)]
    }
    public static var receptors: [Receptor] { [.excitatory, .inhibitory] }
    public static var weightDimensions: [Dimension] { [.conductance] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        [("c_m", capacitance), ("g_l", leakConductance), ("e_l", restingPotential), ("e_e", reversalExc),
         ("e_i", reversalInh), ("v_th", threshold), ("v_reset", resetPotential), ("t_ref_steps", (refractoryPeriod / dt).rounded()),
         ("pe", exp(-dt / tauExc)), ("pi", exp(-dt / tauInh)), ("i_e", biasCurrent)]
    }
    public func initialValue(of variable: Int) -> Double { variable == 0 ? restingPotential : 0 }
}

extension NeuronModel {
    /// A LIF model with exponential conductances (`LIFCondExpParameters`).
    public static func lifCondExp(_ p: LIFCondExpParameters) -> NeuronModel { NeuronModel(p) }
}
