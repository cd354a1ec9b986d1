import Foundation

/// `izhikevich`: Izhikevich's (2003) simple model (NEST `izhikevich`).
///
///     dv/dt = 0.04 v^2 + 5 v + 140 - u + I_e + I_ext;   du/dt = a (b v - u)
///     v >= V_peak: spike, v = c, u += d;   an input of weight w: v += w (mV);   v >= V_min
///
/// (v in mV, t in ms, I in the model's mV/ms, written pA as NEST does.) Integration: forward Euler with
/// step dt, u from the old v (NEST's consistent integration), single precision; inputs are added after
/// the Euler step. Engine: `Sources/CEngine/models/izhikevich.c`.
public struct IzhikevichParameters: NeuronModelKind {
    public var a: Double = 0.02      // 1/ms
    public var b: Double = 0.2
    public var c: Double = -65       // mV
    public var d: Double = 8         // mV/ms
    public var peak: Double = 30     // V_peak (mV)
    public var biasCurrent: Double = 0
    public var lowerBound: Double = -.infinity   // V_min (mV; -inf: none)
    public init() {}

    public static let name = "izhikevich"
    public static var summary: String { "Izhikevich (2003) simple model (NEST izhikevich)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("a", .dimensionless, \.a, "time scale of u (1/ms)"),
        .init("b", .dimensionless, \.b, "sensitivity of u to v"),
        .init("c", .voltage, \.c, "reset potential"),
        .init("d", .dimensionless, \.d, "jump of u after a spike (mV/ms)"),
        .init("V_peak", .voltage, \.peak, "spike peak (threshold)"),
        .init("I_e", .current, \.biasCurrent, "constant input (mV/ms, written pA)"),
        .init("V_min", .voltage, \.lowerBound, "lower bound of v"),
    ] }
    public static var variables: [StateVariable] { [StateVariable("v", "mV", .voltage), StateVariable("u", "mV/ms", .dimensionless)] }
    public static var receptors: [Receptor] { [.excitatory] }
    public static var weightDimensions: [Dimension] { [.voltage] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] {
        [("a", a), ("b", b), ("c", c), ("d", d), ("v_th", peak), ("i_e", biasCurrent), ("v_min", lowerBound)]
    }
    public func initialValue(of variable: Int) -> Double { variable == 0 ? -65 : b * -65 }
}

extension NeuronModel {
    /// An Izhikevich model (`IzhikevichParameters`).
    public static func izhikevich(_ p: IzhikevichParameters) -> NeuronModel { NeuronModel(p) }
}
