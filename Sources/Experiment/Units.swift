import Foundation
import SNN

/// The physical dimensions of config values (defined with the models in SNN; this name wins over
/// Foundation's `Dimension` inside Experiment and for its users).
public typealias Dimension = SNN.Dimension

struct UnitError: Error { let message: String }

/// Parses quantities such as `20 ms`, `0.6 nS`, `-60 mV`, `1.5e-3 s`, `200 pF`, `10 Hz`, `5 kHz`.
/// Every quantity must be 0 or between `minMagnitude` and `maxMagnitude` in its canonical unit after
/// conversion: finite in the single precision the engine computes in (`C_m: 1e300 GF` would be +inf),
/// and not vanishing (1e-15 ms is an attosecond; a positive C_m of 1e-300 pF made tau_m/C_m
/// infinite). Whatever becomes a step count or a size is checked again where it is converted.
public enum Units {
    /// Largest magnitude of any config quantity in its canonical unit (Float's largest, 3.4e38).
    public static let maxMagnitude = Double(Float.greatestFiniteMagnitude)
    /// Smallest magnitude of a non-zero config quantity in its canonical unit.
    public static let minMagnitude = 1e-15

    static let prefixes: [String: Int] = ["f": -15, "p": -12, "n": -9, "u": -6, "µ": -6, "μ": -6,
                                          "m": -3, "": 0, "k": 3, "M": 6, "G": 9]

    /// Returns the value in `dim`'s canonical unit.
    public static func parse(_ text: String, as dim: Dimension) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard t.utf8.count <= 64 else {   // the split below is quadratic in the length
            throw UnitError(message: "expected \(dim.description), e.g. '\(dim.example)', found a text of \(t.count) characters")
        }
        // Split number and unit: the number is the longest prefix that parses as a Double.
        var splitIndex = t.endIndex
        while splitIndex > t.startIndex, Double(t[t.startIndex..<splitIndex].trimmingCharacters(in: .whitespaces)) == nil {
            splitIndex = t.index(before: splitIndex)
        }
        let numText = t[t.startIndex..<splitIndex].trimmingCharacters(in: .whitespaces)
        guard let value = Double(numText), value.isFinite else {
            throw UnitError(message: "expected \(dim.description), e.g. '\(dim.example)', found '\(t)'")
        }
        let unit = t[splitIndex...].trimmingCharacters(in: .whitespaces)
        if dim == .dimensionless {
            guard unit.isEmpty else { throw UnitError(message: "expected a plain number without a unit, found '\(t)'") }
            return try bounded(value, t, dim)
        }
        guard !unit.isEmpty else {
            throw UnitError(message: "'\(t)' has no unit; write \(dim.rawValue)s with a unit, e.g. '\(dim.example)' (canonical unit: \(dim.canonicalUnit))")
        }
        let (symbol, canon) = dim.base
        guard unit.hasSuffix(symbol) else {
            throw UnitError(message: "'\(unit)' is not a unit of \(dim.rawValue); expected e.g. '\(dim.example)'")
        }
        let prefix = String(unit.dropLast(symbol.count))
        guard let p = prefixes[prefix] else {
            throw UnitError(message: "unknown unit prefix '\(prefix)' in '\(unit)'; expected one of f p n u m k M G")
        }
        return try bounded(value * pow(10.0, Double(p - canon)), t, dim)
    }

    static func bounded(_ x: Double, _ text: String, _ dim: Dimension) throws -> Double {
        guard x.isFinite, abs(x) <= maxMagnitude, x == 0 || abs(x) >= minMagnitude else {
            let unit = dim.canonicalUnit.isEmpty ? "" : " \(dim.canonicalUnit)"
            throw UnitError(message: "'\(text)' is out of range: quantities must be 0 or between 1e-15\(unit) and 3.4e38\(unit) in magnitude")
        }
        return x
    }
}
