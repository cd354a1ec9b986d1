import Foundation

/// Physical dimensions of model parameters, state variables and config values, each with the canonical
/// unit values are converted to. The canonical units follow the usual neuron-model conventions
/// (NEST/Brian): ms, mV, nS, pF, pA, Hz. (Parsing quantities with units: Experiment's `Units`.)
public enum Dimension: String, CaseIterable, Sendable, CustomStringConvertible {
    case time            // -> ms
    case voltage         // -> mV
    case conductance     // -> nS
    case capacitance     // -> pF
    case current         // -> pA
    case frequency       // -> Hz
    case dimensionless   // -> plain number

    public var canonicalUnit: String {
        switch self {
        case .time: return "ms"
        case .voltage: return "mV"
        case .conductance: return "nS"
        case .capacitance: return "pF"
        case .current: return "pA"
        case .frequency: return "Hz"
        case .dimensionless: return ""
        }
    }

    public var description: String {
        switch self {
        case .dimensionless: return "a plain number"
        default: return "a \(rawValue) with a unit"
        }
    }

    public var example: String {
        switch self {
        case .time: return "20 ms"
        case .voltage: return "-60 mV"
        case .conductance: return "6 nS"
        case .capacitance: return "200 pF"
        case .current: return "100 pA"
        case .frequency: return "10 Hz"
        case .dimensionless: return "0.5"
        }
    }

    /// Base SI unit symbol and the canonical unit's power of ten relative to SI.
    public var base: (symbol: String, canonicalExponent: Int) {
        switch self {
        case .time: return ("s", -3)
        case .voltage: return ("V", -3)
        case .conductance: return ("S", -9)
        case .capacitance: return ("F", -12)
        case .current: return ("A", -12)
        case .frequency: return ("Hz", 0)
        case .dimensionless: return ("", 0)
        }
    }
}
