import Foundation

/// `if`: non-leaky integrate-and-fire with delta synapses (what ANN conversion uses).
///
///     dv/dt = (I_e + I_ext)/C_m;  an input of weight w: v += w (mV)
///     v >= V_th: spike, then v -= V_th - V_reset (reset: subtract, the default) or v = V_reset (reset: value)
///     refractory (t_ref): v holds and inputs are dropped;  v >= V_min
///
/// Integration: exact (a forward sum, v += I dt/C per step). In float, per step v <- (v + input) + (I_e +
/// I_ext) dt/C with input = 0 + w_1 + w_2 + ... in arrival order; when every projection onto the
/// population has delay 0, no Poisson input feeds it and t_ref = 0 (a converted network's layers), each
/// input is added to v as it arrives instead: (v + w_1 + w_2 + ...) + (I_e + I_ext) dt/C (the same sum in
/// real numbers, rounded in another order; no ring buffer is read). Engine: `Sources/CEngine/models/if.c`.
public struct IFParameters: NeuronModelKind {
    /// Threshold V_th (mV; +inf: never fires, e.g. a converted output layer read by its membrane).
    public var threshold: Double = 1
    /// Reset potential V_reset (mV).
    public var resetPotential: Double = 0
    /// Reset by subtraction (true) or to V_reset (false).
    public var resetBySubtraction: Bool = true
    /// Capacitance C_m (pF): a current I (pA) raises v by I dt/C per step.
    public var capacitance: Double = 1
    /// Constant input current I_e (pA).
    public var biasCurrent: Double = 0
    /// Refractory period t_ref (ms).
    public var refractoryPeriod: Double = 0
    /// Lower bound V_min of v (mV; -inf: none).
    public var lowerBound: Double = -.infinity
    public init() {}

    public static let name = "if"
    public static var summary: String { "non-leaky integrate-and-fire, delta synapses (ANN conversion)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("V_th", .voltage, \.threshold, "threshold"),
        .init("V_reset", .voltage, \.resetPotential, "reset potential", [.below("V_th")]),
        .init("reset", choice: "subtract", "value", \.resetBySubtraction, "reset by subtracting V_th - V_reset, or to V_reset"),
        .init("C_m", .capacitance, \.capacitance, "capacitance", [.positive]),
        .init("I_e", .current, \.biasCurrent, "constant input current"),
        .init("t_ref", .time, \.refractoryPeriod, "refractory period", [.nonNegative, .steps]),
        .init("V_min", .voltage, \.lowerBound, "lower bound of v"),
    ] }
    public static var variables: [StateVariable] { [StateVariable("v", "mV", .voltage)] }
    public static var receptors: [Receptor] { [.excitatory] }
    public static var weightDimensions: [Dimension] { [.voltage] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        [("v_th", threshold), ("v_reset", resetPotential), ("reset_mode", resetBySubtraction ? 1 : 0),
         ("current_scale", dt / capacitance), ("i_e", biasCurrent), ("t_ref_steps", (refractoryPeriod / dt).rounded()),
         ("v_min", lowerBound)]
    }
    public func initialValue(of variable: Int) -> Double { resetPotential }
}

extension NeuronModel {
    /// A non-leaky integrate-and-fire model (`IFParameters`).
    public static func integrateAndFire(_ p: IFParameters) -> NeuronModel { NeuronModel(p) }
}
