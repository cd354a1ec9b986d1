import CKernels
import Foundation

/// A neuron (or spike-source) model with its parameters. Units: time ms, voltage mV, conductance nS,
/// capacitance pF, current pA, rate Hz. Every model is advanced on the engine's fixed time grid (dt);
/// inputs arriving at t_n are added at the start of update n, a threshold crossing found in update n is
/// a spike at time t_{n+1} (NEST's convention).
public enum NeuronModel: Sendable, Equatable {
    /// Non-leaky integrate-and-fire with delta synapses (what ANN conversion uses).
    case integrateAndFire(IFParameters)
    /// Leaky integrate-and-fire with exponentially decaying synaptic currents (NEST `iaf_psc_exp`;
    /// Brian2's CUBA example), exact integration.
    case lifExp(LIFExpParameters)
    /// Leaky integrate-and-fire with exponentially decaying synaptic conductances (NEST `iaf_cond_exp`;
    /// Brette et al. 2007 COBA), exponential Euler.
    case lifCondExp(LIFCondExpParameters)
    /// Izhikevich (2003) simple model, forward Euler.
    case izhikevich(IzhikevichParameters)
    /// Adaptive exponential integrate-and-fire with conductances (NEST `aeif_cond_exp`), GSL RKF45.
    case adex(AdExParameters)
    /// Hodgkin–Huxley with Traub–Miles kinetics and conductance synapses (Brette et al. 2007 COBAHH),
    /// exponential Euler.
    case hodgkinHuxley(HHParameters)
    /// Poisson spike source with a rate (Hz) for all neurons (per-neuron rates via the simulator).
    case poisson(rateHz: Double)
    /// Spike source emitting given spike times (ms) per neuron.
    case spikeSource(times: [[Double]])

    /// The name used in configs and the model table.
    public var name: String {
        switch self {
        case .integrateAndFire: return "if"
        case .lifExp: return "lif_exp"
        case .lifCondExp: return "lif_cond_exp"
        case .izhikevich: return "izhikevich"
        case .adex: return "adex"
        case .hodgkinHuxley: return "hh"
        case .poisson: return "poisson"
        case .spikeSource: return "spike_source"
        }
    }

    /// State variables that monitors can sample, with their units.
    public var variables: [(name: String, unit: String)] {
        switch self {
        case .integrateAndFire: return [("v", "mV")]
        case .lifExp: return [("v", "mV"), ("i_exc", "pA"), ("i_inh", "pA")]
        case .lifCondExp: return [("v", "mV"), ("g_exc", "nS"), ("g_inh", "nS")]
        case .izhikevich: return [("v", "mV"), ("u", "mV/ms")]
        case .adex: return [("v", "mV"), ("w", "pA"), ("g_exc", "nS"), ("g_inh", "nS")]
        case .hodgkinHuxley: return [("v", "mV"), ("m", "1"), ("h", "1"), ("n", "1"), ("g_exc", "nS"), ("g_inh", "nS")]
        case .poisson, .spikeSource: return []
        }
    }

    /// Receptor ports: conductance/current models have an excitatory and an inhibitory port with their
    /// own time constants; IF and Izhikevich have one delta port (the weight's sign decides).
    public var receptors: [Receptor] {
        switch self {
        case .integrateAndFire, .izhikevich: return [.excitatory]
        case .lifExp, .lifCondExp, .adex, .hodgkinHuxley: return [.excitatory, .inhibitory]
        case .poisson, .spikeSource: return []
        }
    }

    /// Unit of a synaptic weight onto this model.
    public var weightUnit: String {
        switch self {
        case .integrateAndFire, .izhikevich, .lifExp: return "mV"
        case .lifCondExp, .adex, .hodgkinHuxley: return "nS"
        case .poisson, .spikeSource: return ""
        }
    }

    public var isSource: Bool {
        switch self { case .poisson, .spikeSource: return true; default: return false }
    }

    /// Factor that turns the engine's internal value of variable `index` into the documented unit
    /// (lif_exp keeps synaptic currents as voltages x = I tau_m / C internally).
    func readoutScale(_ index: Int) -> Float {
        if case .lifExp(let p) = self, index >= 1 { return Float(p.capacitance / p.tauMembrane) }
        return 1
    }

    /// Engine parameters by name (the model's C parameter struct; propagators precomputed for the time
    /// step `dt` in ms).
    func cParameters(dt: Double) -> [(name: String, value: Double)] {
        func steps(_ t: Double) -> Double { (t / dt).rounded() }
        switch self {
        case .integrateAndFire(let p):
            return [("v_th", p.threshold), ("v_reset", p.resetPotential), ("reset_mode", p.resetBySubtraction ? 1 : 0),
                    ("current_scale", dt / p.capacitance), ("i_e", p.biasCurrent), ("t_ref_steps", steps(p.refractoryPeriod)),
                    ("v_min", p.lowerBound ?? -Double.infinity)]
        case .lifExp(let p):
            let p22 = exp(-dt / p.tauMembrane)
            func p21(_ ts: Double) -> Double {
                if abs(ts - p.tauMembrane) < 1e-12 { return dt / p.tauMembrane * exp(-dt / p.tauMembrane) }
                return ts / (ts - p.tauMembrane) * (exp(-dt / ts) - exp(-dt / p.tauMembrane))
            }
            return [("e_l", p.restingPotential), ("v_th", p.threshold), ("v_reset", p.resetPotential),
                    ("t_ref_steps", steps(p.refractoryPeriod)), ("p22", p22), ("p11e", exp(-dt / p.tauExc)), ("p11i", exp(-dt / p.tauInh)),
                    ("p21e", p21(p.tauExc)), ("p21i", p21(p.tauInh)), ("r_scale", p.tauMembrane / p.capacitance), ("i_e", p.biasCurrent)]
        case .lifCondExp(let p):
            return [("c_m", p.capacitance), ("g_l", p.leakConductance), ("e_l", p.restingPotential), ("e_e", p.reversalExc),
                    ("e_i", p.reversalInh), ("v_th", p.threshold), ("v_reset", p.resetPotential), ("t_ref_steps", steps(p.refractoryPeriod)),
                    ("pe", exp(-dt / p.tauExc)), ("pi", exp(-dt / p.tauInh)), ("i_e", p.biasCurrent)]
        case .izhikevich(let p):
            return [("a", p.a), ("b", p.b), ("c", p.c), ("d", p.d), ("v_th", p.peak), ("i_e", p.biasCurrent),
                    ("v_min", p.lowerBound ?? -Double.infinity)]
        case .adex(let p):
            return [("c_m", p.capacitance), ("g_l", p.leakConductance), ("e_l", p.restingPotential), ("v_th", p.slopeThreshold),
                    ("delta_t", p.slopeFactor), ("tau_w", p.tauAdaptation), ("a", p.subthresholdAdaptation), ("b", p.spikeAdaptation),
                    ("v_reset", p.resetPotential), ("t_ref_steps", steps(p.refractoryPeriod)), ("v_peak", p.peak), ("e_e", p.reversalExc),
                    ("e_i", p.reversalInh), ("tau_e", p.tauExc), ("tau_i", p.tauInh), ("i_e", p.biasCurrent),
                    ("eps_abs", p.absoluteTolerance), ("eps_rel", p.relativeTolerance)]
        case .hodgkinHuxley(let p):
            return [("c_m", p.capacitance), ("g_l", p.leakConductance), ("e_l", p.restingPotential), ("g_na", p.sodiumConductance),
                    ("e_na", p.sodiumReversal), ("g_k", p.potassiumConductance), ("e_k", p.potassiumReversal), ("v_t", p.vT),
                    ("e_e", p.reversalExc), ("e_i", p.reversalInh), ("pe", exp(-dt / p.tauExc)), ("pi", exp(-dt / p.tauInh)),
                    ("v_spike", p.spikeThreshold), ("t_ref_steps", steps(p.refractoryPeriod)), ("i_e", p.biasCurrent)]
        case .poisson(let rate):
            return [("p", rate * dt / 1000)]
        case .spikeSource:
            return []
        }
    }
}

/// Synaptic receptor port of a target neuron.
public enum Receptor: String, Sendable, Equatable, CaseIterable {
    case excitatory = "exc"
    case inhibitory = "inh"
}

/// Non-leaky integrate-and-fire: `dv/dt = (I_e + I_ext)/C` plus delta synaptic jumps `v += w` (mV).
/// `v >= V_th` emits a spike; the reset either subtracts `V_th - V_reset` (keeps the surplus; the default
/// for ANN conversion) or sets `v = V_reset`. Integration: exact (forward sum). Optional lower bound on v.
public struct IFParameters: Sendable, Equatable {
    /// Threshold V_th (mV).
    public var threshold: Double = 1
    /// Reset potential V_reset (mV).
    public var resetPotential: Double = 0
    /// Reset by subtraction (true) or to V_reset (false).
    public var resetBySubtraction: Bool = true
    /// Capacitance C (pF): a current I (pA) raises v by I*dt/C per step.
    public var capacitance: Double = 1
    /// Constant input current I_e (pA).
    public var biasCurrent: Double = 0
    /// Refractory period t_ref (ms): v is held and inputs are discarded.
    public var refractoryPeriod: Double = 0
    /// Optional lower bound of v (mV).
    public var lowerBound: Double? = nil
    public init() {}
}

/// LIF with exponential current synapses (NEST `iaf_psc_exp`):
/// `C dv/dt = -(C/tau_m)(v - E_L) + I_exc + I_inh + I_e`, `dI_x/dt = -I_x/tau_x`; a spike of weight w
/// (pA) makes `I_x += w`. Internally the synaptic currents are kept as voltages `x = I tau_m/C`, so a
/// weight in mV (Brian2's CUBA convention) is used as is. Exact integration (propagator matrix, Rotter &
/// Diesmann 1999); v clamped to V_reset for t_ref after a spike.
public struct LIFExpParameters: Sendable, Equatable {
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
}

/// LIF with exponential conductances (NEST `iaf_cond_exp`, Brette et al. 2007 COBA):
/// `C dv/dt = g_L (E_L - v) + g_e (E_exc - v) + g_i (E_inh - v) + I_e`, `dg_x/dt = -g_x/tau_x`; a spike
/// of weight w (nS) makes `g_x += w`. Exponential Euler (conductances held over a step, v relaxed
/// exactly; conductances decayed exactly), as Brian2 does for this model. v clamped for t_ref.
public struct LIFCondExpParameters: Sendable, Equatable {
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
}

/// Izhikevich (2003): `dv/dt = 0.04 v^2 + 5 v + 140 - u + I`, `du/dt = a (b v - u)` (v in mV, t in ms,
/// I in the model's mV/ms, written pA like NEST); `v >= peak`: `v = c`, `u += d`. Forward Euler with
/// step dt; u uses the old v (NEST's consistent integration); delta synapses add w (mV) to v after the
/// Euler step.
public struct IzhikevichParameters: Sendable, Equatable {
    public var a: Double = 0.02
    public var b: Double = 0.2
    public var c: Double = -65       // mV
    public var d: Double = 8         // mV/ms
    public var peak: Double = 30     // V_th (mV)
    public var biasCurrent: Double = 0
    public var lowerBound: Double? = nil
    public init() {}
}

/// Adaptive exponential IF with conductances (Brette & Gerstner 2005; NEST `aeif_cond_exp`):
/// `C dV/dt = -g_L (V - E_L) + g_L D_T exp((V - V_T)/D_T) - g_e (V - E_exc) - g_i (V - E_inh) - w + I_e`,
/// `tau_w dw/dt = a (V - E_L) - w`, `dg_x/dt = -g_x/tau_x`; `V >= V_peak`: `V = V_reset`, `w += b`.
/// Integrated with GSL's adaptive RKF45 (error control, as NEST), threshold checked after every
/// internal step; V clamped to V_reset while refractory. Defaults are NEST's.
public struct AdExParameters: Sendable, Equatable {
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
}

/// Hodgkin–Huxley with Traub–Miles kinetics (Brette et al. 2007 benchmark 3; Brian2 `COBAHH.py`):
/// `C dv/dt = g_L (E_L - v) + g_e (E_exc - v) + g_i (E_inh - v) - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I_e`,
/// `dx/dt = alpha_x(v) (1 - x) - beta_x(v) x` for x in m, h, n with (v, V_T in mV, rates in 1/ms)
/// alpha_m = 0.32*4/exprel((13 - v + V_T)/4), beta_m = 0.28*5/exprel((v - V_T - 40)/5),
/// alpha_h = 0.128 exp((17 - v + V_T)/18), beta_h = 4/(1 + exp((40 - v + V_T)/5)),
/// alpha_n = 0.032*5/exprel((15 - v + V_T)/5), beta_n = 0.5 exp((10 - v + V_T)/40);
/// `dg_x/dt = -g_x/tau_x`. Exponential Euler (Brian2's `exponential_euler`). A spike is `v > V_spike`
/// outside the refractory period (v is not reset).
public struct HHParameters: Sendable, Equatable {
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
}
