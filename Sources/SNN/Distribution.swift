/// A value that is either constant or drawn per element (synapse or neuron) from a distribution.
/// Values are in the unit of whatever they parameterize (weights: the target model's weight unit;
/// delays: ms; initial state: the variable's unit). Draws use GSL with one stream per block of rows, so
/// results do not depend on the thread count.
public enum Distribution: Sendable, Equatable {
    case constant(Double)
    case uniform(low: Double, high: Double)
    /// Normal, optionally clipped (values outside [min, max] are clamped to the bound).
    case normal(mean: Double, std: Double, min: Double? = nil, max: Double? = nil)
    /// Log-normal with parameters of the underlying normal, optionally clipped.
    case lognormal(mu: Double, sigma: Double, min: Double? = nil, max: Double? = nil)
    /// Exponential with the given mean, optionally clipped.
    case exponential(mean: Double, min: Double? = nil, max: Double? = nil)

    public var constantValue: Double? {
        if case .constant(let v) = self { return v }
        return nil
    }

    /// Smallest value the distribution can produce (for checks such as delay >= dt).
    public var lowerBound: Double {
        switch self {
        case .constant(let v): return v
        case .uniform(let lo, _): return lo
        case .normal(_, _, let mn, _): return mn ?? -.infinity
        case .lognormal(_, _, let mn, _): return mn ?? 0   // exp(...) > 0
        case .exponential(_, let mn, _): return mn ?? 0
        }
    }

    /// Largest value the distribution can produce.
    public var upperBound: Double {
        switch self {
        case .constant(let v): return v
        case .uniform(_, let hi): return hi
        case .normal(_, _, _, let mx), .lognormal(_, _, _, let mx), .exponential(_, _, let mx): return mx ?? .infinity
        }
    }

    /// Why this distribution can produce values that are not finite in single precision (the engine
    /// stores weights, delays and state as Float), or nil: every parameter finite, std/sigma >= 0,
    /// low <= high, an exponential's mean > 0, min <= max, and a log-normal without `max` below
    /// exp(88) even ten sigma out.
    public var problem: String? {
        let limit = Double(Float.greatestFiniteMagnitude)
        func finite(_ xs: Double?...) -> Bool { xs.allSatisfy { $0.map { $0.isFinite && abs($0) <= limit } ?? true } }
        switch self {
        case .constant(let v):
            return finite(v) ? nil : "value \(v) is not a finite single-precision number"
        case .uniform(let lo, let hi):
            guard finite(lo, hi) else { return "uniform bounds \(lo), \(hi) must be finite" }
            return hi >= lo ? nil : "uniform high \(hi) is below low \(lo)"
        case .normal(let m, let sd, let mn, let mx):
            guard finite(m, sd, mn, mx) else { return "normal parameters must be finite" }
            guard sd >= 0 else { return "normal std \(sd) must be >= 0" }
            return lowerBound <= upperBound ? nil : "min must be <= max"
        case .exponential(let m, let mn, let mx):
            guard finite(m, mn, mx) else { return "exponential parameters must be finite" }
            guard m > 0 else { return "exponential mean \(m) must be > 0" }
            return lowerBound <= upperBound ? nil : "min must be <= max"
        case .lognormal(let mu, let sg, let mn, let mx):
            guard finite(mu, sg, mn, mx) else { return "lognormal parameters must be finite" }
            guard sg >= 0 else { return "lognormal sigma \(sg) must be >= 0" }
            if mx == nil, mu + 10 * sg > 88 { return "lognormal mu + 10 sigma = \(mu + 10 * sg) draws values beyond single precision (exp(88)); give a max" }
            return lowerBound <= upperBound ? nil : "min must be <= max"
        }
    }

    /// Multiplies every value by `k` (unit conversion).
    public func scaled(_ k: Double) -> Distribution {
        func s(_ x: Double?) -> Double? { x.map { $0 * k } }
        switch self {
        case .constant(let v): return .constant(v * k)
        case .uniform(let lo, let hi): return .uniform(low: lo * k, high: hi * k)
        case .normal(let m, let sd, let mn, let mx): return .normal(mean: m * k, std: sd * abs(k), min: s(mn), max: s(mx))
        case .lognormal(let mu, let sg, let mn, let mx): return .lognormal(mu: mu + log(abs(k)), sigma: sg, min: s(mn), max: s(mx))
        case .exponential(let m, let mn, let mx): return .exponential(mean: m * k, min: s(mn), max: s(mx))
        }
    }
}

import Foundation
