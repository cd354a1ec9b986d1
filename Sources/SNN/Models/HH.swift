import Foundation

/// `hh`: Hodgkin–Huxley with Traub–Miles kinetics and conductance synapses (Brette et al. 2007
/// benchmark 3; Brian2's `COBAHH.py`).
///
///     C_m dv/dt = g_L (E_L - v) + g_e (E_exc - v) + g_i (E_inh - v) - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I_e + I_ext
///     dx/dt = alpha_x(v) (1 - x) - beta_x(v) x   for x in m, h, n, with (v, V_T in mV, rates in 1/ms)
///       alpha_m = 0.32*4/exprel((13 - v + V_T)/4),  beta_m = 0.28*5/exprel((v - V_T - 40)/5),
///       alpha_h = 0.128 exp((17 - v + V_T)/18),     beta_h = 4/(1 + exp((40 - v + V_T)/5)),
///       alpha_n = 0.032*5/exprel((15 - v + V_T)/5), beta_n = 0.5 exp((10 - v + V_T)/40)
///     dg_x/dt = -g_x/tau_syn_x;   a spike of weight w (nS): g_x += w
///
/// Integration: exponential Euler (Brian2's `exponential_euler`) in single precision. A spike is
/// `v > V_spike` outside the refractory period (v is not reset). Engine: `Sources/CEngine/models/hh.c`.
public struct HHParameters: NeuronModelKind {
    public var capacitance: Double = 200             // C_m (pF): 1 uF/cm^2 x 20000 um^2
    public var leakConductance: Double = 10          // g_L (nS)
    public var restingPotential: Double = -60        // E_L (mV)
    public var sodiumConductance: Double = 20000     // g_Na (nS)
    public var sodiumReversal: Double = 50           // E_Na (mV)
    public var potassiumConductance: Double = 6000   // g_K (nS)
    public var potassiumReversal: Double = -90       // E_K (mV)
    public var vT: Double = -63                      // V_T (mV)
    public var reversalExc: Double = 0               // E_exc (mV)
    public var reversalInh: Double = -80             // E_inh (mV)
    public var tauExc: Double = 5                    // tau_syn_exc (ms)
    public var tauInh: Double = 10                   // tau_syn_inh (ms)
    public var spikeThreshold: Double = -20          // V_spike (mV)
    public var refractoryPeriod: Double = 3          // t_ref (ms)
    public var biasCurrent: Double = 0               // I_e (pA)
    public init() {}

    public static let name = "hh"
    public static var summary: String { "Hodgkin-Huxley, Traub-Miles kinetics, conductance synapses (COBAHH)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("C_m", .capacitance, \.capacitance, "membrane capacitance", [.positive]),
        .init("g_L", .conductance, \.leakConductance, "leak conductance", [.nonNegative]),
        .init("E_L", .voltage, \.restingPotential, "leak reversal potential"),
        .init("g_Na", .conductance, \.sodiumConductance, "sodium conductance", [.nonNegative]),
        .init("E_Na", .voltage, \.sodiumReversal, "sodium reversal potential"),
        .init("g_K", .conductance, \.potassiumConductance, "potassium conductance", [.nonNegative]),
        .init("E_K", .voltage, \.potassiumReversal, "potassium reversal potential"),
        .init("V_T", .voltage, \.vT, "shift of the rate functions"),
        .init("E_exc", .voltage, \.reversalExc, "excitatory reversal potential"),
        .init("E_inh", .voltage, \.reversalInh, "inhibitory reversal potential"),
        .init("tau_syn_exc", .time, \.tauExc, "excitatory synaptic time constant", [.positive]),
        .init("tau_syn_inh", .time, \.tauInh, "inhibitory synaptic time constant", [.positive]),
        .init("V_spike", .voltage, \.spikeThreshold, "spike detection threshold"),
        .init("t_ref", .time, \.refractoryPeriod, "refractory period", [.nonNegative, .steps]),
        .init("I_e", .current, \.biasCurrent, "constant input current"),
    ] }
    public static var variables: [StateVariable] {
        [StateVariable("v", "mV", .voltage), StateVariable("m", "1", .dimensionless), StateVariable("h", "1", .dimensionless),
         StateVariable("n", "1", .dimensionless), StateVariable("g_exc", "nS", .conductance), StateVariable("g_inh", "nS", .conductance)]
    }
    public static var receptors: [Receptor] { [.excitatory, .inhibitory] }
    public static var weightDimensions: [Dimension] { [.conductance] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        [("c_m", capacitance), ("g_l", leakConductance), ("e_l", restingPotential), ("g_na", sodiumConductance),
         ("e_na", sodiumReversal), ("g_k", potassiumConductance), ("e_k", potassiumReversal), ("v_t", vT),
         ("e_e", reversalExc), ("e_i", reversalInh), ("pe", exp(-dt / tauExc)), ("pi", exp(-dt / tauInh)),
         ("v_spike", spikeThreshold), ("t_ref_steps", (refractoryPeriod / dt).rounded()), ("i_e", biasCurrent)]
    }
    public func initialValue(of variable: Int) -> Double { variable == 0 ? restingPotential : 0 }
}

extension NeuronModel {
    /// A Hodgkin-Huxley model (`HHParameters`).
    public static func hodgkinHuxley(_ p: HHParameters) -> NeuronModel { NeuronModel(p) }
}
