import Foundation

/// `lif_alpha`: leaky integrate-and-fire with alpha-shaped current synapses (NEST `iaf_psc_alpha`,
/// NEST's default neuron).
///
///     C_m dv/dt = -(C_m/tau_m)(v - E_L) + I_exc + I_inh + I_e + I_ext
///     I_x(t) = w (t/tau_syn_x) e^{1 - t/tau_syn_x} after a spike of weight w (pA) on port x: the current
///              peaks at w, tau_syn_x after the spike arrives (NEST's normalization; in state form
///              dI_x/dt = dI'_x - I_x/tau_x, dI'_x/dt = -dI'_x/tau_x, a spike adds w e/tau_x to dI'_x)
///     v >= V_th: spike, v = V_reset, held there for t_ref (the currents go on); v >= V_min
///
/// Integration: exact (the propagator matrix of the linear system over a step, Rotter & Diesmann
/// 1999): u = v - E_L goes to u p22 + p30 I + p31 dI' + p32 I_syn with p22 = e^{-h/tau_m},
/// p30 = (tau_m/C_m)(1 - p22), p32 = p22 (1 - e^{-a h})/(a C_m), p31 = p22 (1 - e^{-a h}(1 + a h))/(a² C_m),
/// a = 1/tau_syn - 1/tau_m (their limits when tau_syn = tau_m), then I_syn = h p11 dI' + p11 I_syn,
/// dI' = p11 dI', p11 = e^{-h/tau_syn}. Timing as NEST's: an input arriving at t first moves v at t + dt.
/// The port sets the time constant and the weight's sign the direction (inhibition: receptor inh and a
/// negative weight). Engine: `Sources/CEngine/models/lif_alpha.c`.
public struct LIFAlphaParameters: NeuronModelKind {
    public var capacitance: Double = 250          // C_m (pF)
    public var tauMembrane: Double = 10           // tau_m (ms)
    public var restingPotential: Double = -70     // E_L (mV)
    public var threshold: Double = -55            // V_th (mV)
    public var resetPotential: Double = -70       // V_reset (mV)
    public var refractoryPeriod: Double = 2       // t_ref (ms)
    public var tauExc: Double = 2                 // tau_syn_exc (ms)
    public var tauInh: Double = 2                 // tau_syn_inh (ms)
    public var biasCurrent: Double = 0            // I_e (pA)
    public var lowerBound: Double = -.infinity    // V_min (mV; -inf: none)
    public init() {}

    public static let name = "lif_alpha"
    public static var summary: String { "leaky integrate-and-fire, alpha-shaped current synapses (NEST iaf_psc_alpha)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("C_m", .capacitance, \.capacitance, "membrane capacitance", [.positive]),
        .init("tau_m", .time, \.tauMembrane, "membrane time constant", [.positive]),
        .init("E_L", .voltage, \.restingPotential, "resting potential"),
        .init("V_th", .voltage, \.threshold, "threshold"),
        .init("V_reset", .voltage, \.resetPotential, "reset potential", [.below("V_th")]),
        .init("t_ref", .time, \.refractoryPeriod, "refractory period", [.nonNegative, .steps]),
        .init("tau_syn_exc", .time, \.tauExc, "rise time (to the peak) of excitatory currents", [.positive]),
        .init("tau_syn_inh", .time, \.tauInh, "rise time (to the peak) of inhibitory currents", [.positive]),
        .init("I_e", .current, \.biasCurrent, "constant input current"),
        .init("V_min", .voltage, \.lowerBound, "lower bound of v"),
    ] }
    public static var variables: [StateVariable] {
        [StateVariable("v", "mV", .voltage), StateVariable("i_exc", "pA", .current), StateVariable("i_inh", "pA", .current),
         StateVariable("di_exc", "pA/ms", .dimensionless), StateVariable("di_inh", "pA/ms", .dimensionless)]
    }
    public static var receptors: [Receptor] { [.excitatory, .inhibitory] }
    public static var weightDimensions: [Dimension] { [.current] }

    /// The effect of an alpha current over one step h on u: (p31 from dI', p32 from I_syn), from the
    /// exact solution; a series in a h near tau_syn = tau_m, where the closed form cancels.
    static func propagators(h: Double, tauSyn: Double, tauM: Double, c: Double) -> (p31: Double, p32: Double) {
        let a = 1 / tauSyn - 1 / tauM, x = a * h, em = exp(-h / tauM)
        if abs(x) < 1e-3 {
            return (em * h * h / c * (0.5 + x * (-1.0 / 3 + x * (1.0 / 8 - x / 30))),
                    em * h / c * (1 + x * (-0.5 + x * (1.0 / 6 - x / 24))))
        }
        let e1 = -expm1(-x)   // 1 - e^{-a h}
        return (em / c * (e1 - x * exp(-x)) / (a * a), em / c * e1 / a)
    }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        let (p31e, p32e) = Self.propagators(h: dt, tauSyn: tauExc, tauM: tauMembrane, c: capacitance)
        let (p31i, p32i) = Self.propagators(h: dt, tauSyn: tauInh, tauM: tauMembrane, c: capacitance)
        let p11e = exp(-dt / tauExc), p11i = exp(-dt / tauInh)
        return [("e_l", restingPotential), ("v_th", threshold), ("v_reset", resetPotential),
                ("t_ref_steps", (refractoryPeriod / dt).rounded()), ("v_min", lowerBound),
                ("p22", exp(-dt / tauMembrane)), ("p30", -tauMembrane / capacitance * expm1(-dt / tauMembrane)),
                ("p11e", p11e), ("p11i", p11i), ("p21e", dt * p11e), ("p21i", dt * p11i),
                ("p31e", p31e), ("p31i", p31i), ("p32e", p32e), ("p32i", p32i),
                ("ke", M_E / tauExc), ("ki", M_E / tauInh), ("i_e", biasCurrent)]
    }
    public func initialValue(of variable: Int) -> Double { variable == 0 ? restingPotential : 0 }
}

extension NeuronModel {
    /// A LIF model with alpha-shaped current synapses (`LIFAlphaParameters`).
    public static func lifAlpha(_ p: LIFAlphaParameters) -> NeuronModel { NeuronModel(p) }
}
