import Foundation

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
