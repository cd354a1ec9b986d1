import Foundation

/// Arithmetic on sizes that come from files (shapes, offsets, counts): every product is checked for
/// overflow, so a header claiming `[4294967296, 4294967296, 4294967296]` is an error, not a trap.
public enum CheckedMath {
    /// a · b, or nil when it overflows `Int` (or either factor is negative).
    public static func multiply(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    /// The product of `dims` (1 for an empty list), or nil when a factor is negative or it overflows.
    public static func product<S: Sequence>(_ dims: S) -> Int? where S.Element == Int {
        var p = 1
        for d in dims {
            guard let q = multiply(p, d) else { return nil }
            p = q
        }
        return p
    }

    /// a + b, or nil when it overflows.
    public static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }
}
