import Foundation

/// `adex`: adaptive exponential integrate-and-fire with exponential conductances (Brette & Gerstner
/// 2005; NEST `aeif_cond_exp`).
///
///     C_m dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T)/Delta_T) - g_e (V - E_exc) - g_i (V - E_inh) - w + I_e + I_ext
///     tau_w dw/dt = a (V - E_L) - w;   dg_x/dt = -g_x/tau_syn_x;   a spike of weight w (nS): g_x += w
///     V >= V_peak: spike, V = V_reset, w += b; V clamped to V_reset for t_ref
///
/// Integration: GSL's adaptive RKF45 with error control (absolute tolerance `gsl_abs_tol`, as NEST),
/// in double precision, the threshold checked after every internal step; at most 10,000 internal steps
/// per neuron and time step (the run stops beyond). Defaults are NEST's. Engine:
/// `Sources/CEngine/models/adex.c`.
public struct AdExParameters: NeuronModelKind {
    public var capacitance: Double = 281            // C_m (pF)
    public var leakConductance: Double = 30         // g_L (nS)
    public var restingPotential: Double = -70.6     // E_L (mV)
    public var slopeThreshold: Double = -50.4       // V_th (mV), V_T
    public var slopeFactor: Double = 2              // Delta_T (mV)
    public var tauAdaptation: Double = 144          // tau_w (ms)
    public var subthresholdAdaptation: Double = 4   // a (nS)
    public var spikeAdaptation: Double = 80.5       // b (pA)
    public var resetPotential: Double = -60         // V_reset (mV)
    public var refractoryPeriod: Double = 0         // t_ref (ms)
    public var peak: Double = 0                     // V_peak (mV)
    public var reversalExc: Double = 0              // E_exc (mV)
    public var reversalInh: Double = -85            // E_inh (mV)
    public var tauExc: Double = 0.2                 // tau_syn_exc (ms)
    public var tauInh: Double = 2                   // tau_syn_inh (ms)
    public var biasCurrent: Double = 0              // I_e (pA)
    public var absoluteTolerance: Double = 1e-6     // GSL error control
    public var relativeTolerance: Double = 0
    public init() {}

    public static let name = "adex"
    public static var summary: String { "adaptive exponential integrate-and-fire, exponential conductances (NEST aeif_cond_exp)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("C_m", .capacitance, \.capacitance, "membrane capacitance", [.positive]),
        .init("g_L", .conductance, \.leakConductance, "leak conductance", [.positive]),
        .init("E_L", .voltage, \.restingPotential, "leak reversal potential"),
        .init("V_th", .voltage, \.slopeThreshold, "V_T, where the exponential term takes over"),
        .init("Delta_T", .voltage, \.slopeFactor, "slope factor (0: no exponential term)", [.nonNegative]),
        .init("tau_w", .time, \.tauAdaptation, "adaptation time constant", [.positive]),
        .init("a", .conductance, \.subthresholdAdaptation, "subthreshold adaptation"),
        .init("b", .current, \.spikeAdaptation, "spike-triggered adaptation"),
        .init("V_reset", .voltage, \.resetPotential, "reset potential"),
        .init("t_ref", .time, \.refractoryPeriod, "refractory period", [.nonNegative, .steps]),
        .init("V_peak", .voltage, \.peak, "spike detection threshold", [.above("V_th")]),
        .init("E_exc", .voltage, \.reversalExc, "excitatory reversal potential"),
        .init("E_inh", .voltage, \.reversalInh, "inhibitory reversal potential"),
        .init("tau_syn_exc", .time, \.tauExc, "excitatory synaptic time constant", [.positive]),
        .init("tau_syn_inh", .time, \.tauInh, "inhibitory synaptic time constant", [.positive]),
        .init("I_e", .current, \.biasCurrent, "constant input current"),
        .init("gsl_abs_tol", .dimensionless, \.absoluteTolerance, "absolute error tolerance of the solver", [.positive]),
    ] }
    public static var variables: [StateVariable] {
        [StateVariable("v", "mV", .voltage), StateVariable("w", "pA", .current),
         StateVariable("g_exc", "nS", .conductance), StateVariable("g_inh", "nS", .conductance)]
    }
    public static var receptors: [Receptor] { [.excitatory, .inhibitory] }
    public static var weightDimensions: [Dimension] { [.conductance] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        [("c_m", capacitance), ("g_l", leakConductance), ("e_l", restingPotential), ("v_th", slopeThreshold),
         ("delta_t", slopeFactor), ("tau_w", tauAdaptation), ("a", subthresholdAdaptation), ("b", spikeAdaptation),
         ("v_reset", resetPotential), ("t_ref_steps", (refractoryPeriod / dt).rounded()), ("v_peak", peak), ("e_e", reversalExc),
         ("e_i", reversalInh), ("tau_e", tauExc), ("tau_i", tauInh), ("i_e", biasCurrent),
         ("eps_abs", absoluteTolerance), ("eps_rel", relativeTolerance)]
    }
    public func initialValue(of variable: Int) -> Double { variable == 0 ? restingPotential : 0 }
    /// The engine keeps the state in double precision for the solver (40 B per neuron).
    public func extraBytes(size: Int, rates: [Double]?) -> Double { 40 * Double(size) }
}

extension NeuronModel {
    /// An AdEx model (`AdExParameters`).
    public static func adex(_ p: AdExParameters) -> NeuronModel { NeuronModel(p) }
}
