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

/// Finiteness scans of float32 buffers (weights, gradients, tensors read from files).
public enum FiniteCheck {
    /// Index of the first NaN or ±infinity in `p`, or nil when every element is finite.
    /// The fast path accumulates `x · 0` (NaN for a non-finite x, 0 otherwise) in four lanes; only a
    /// non-finite buffer is scanned again for the index.
    public static func firstNonFinite(_ p: UnsafeBufferPointer<Float>) -> Int? {
        let n = p.count
        guard n > 0, let b = p.baseAddress else { return nil }
        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
        var i = 0
        while i + 4 <= n {
            a0 += b[i] * 0; a1 += b[i + 1] * 0; a2 += b[i + 2] * 0; a3 += b[i + 3] * 0
            i += 4
        }
        while i < n { a0 += b[i] * 0; i += 1 }
        if (a0 + a1 + a2 + a3).isFinite { return nil }
        for j in 0..<n where !b[j].isFinite { return j }
        return nil
    }

    /// Index of the first NaN or ±infinity in `values`, or nil.
    public static func firstNonFinite(_ values: [Float]) -> Int? {
        values.withUnsafeBufferPointer { firstNonFinite($0) }
    }

    /// "NaN" or "+inf"/"-inf" for a non-finite value (for messages).
    public static func describe(_ v: Float) -> String { v.isNaN ? "NaN" : (v > 0 ? "+inf" : "-inf") }
}
