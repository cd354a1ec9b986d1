import CCore
import Foundation

/// The order in which an epoch visits a data set, cut into mini-batches. The permutation is a
/// Fisher–Yates shuffle driven by GSL's mt19937 seeded from (`seed`, `epoch`) (see `nm_rng_new`), so
/// epoch k of a run is the same whether the run was interrupted or not, on any thread count.
public struct BatchSchedule: Sendable {
    /// Sample indices in visiting order.
    public let order: [Int64]
    public let batchSize: Int
    /// When true, a last partial batch is dropped.
    public let dropLast: Bool

    public init(count: Int, batchSize: Int, shuffle: Bool, seed: UInt64, epoch: Int, dropLast: Bool = false) {
        precondition(batchSize > 0, "batch size must be > 0")
        self.batchSize = batchSize
        self.dropLast = dropLast
        self.order = shuffle ? Self.permutation(count: count, seed: seed, stream: UInt64(epoch)) : (0..<Int64(count)).map { $0 }
    }

    /// A seeded random permutation of 0..<count.
    public static func permutation(count: Int, seed: UInt64, stream: UInt64) -> [Int64] {
        var p = (0..<Int64(count)).map { $0 }
        guard count > 1, let rng = nm_rng_new(seed, 0x5348_5546_0000_0000 &+ stream) else { return p }
        defer { nm_rng_free(rng) }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(nm_rng_uniform_int(rng, UInt(i + 1)))
            p.swapAt(i, j)
        }
        return p
    }

    /// Number of batches (no overflow for any batch size, e.g. `--batch-size` 2^63 − 1).
    public var batchCount: Int { order.count / batchSize + (!dropLast && order.count % batchSize > 0 ? 1 : 0) }

    /// Indices of batch `b`.
    public func batch(_ b: Int) -> ArraySlice<Int64> {
        let s = b * batchSize
        return order[s..<s + min(batchSize, order.count - s)]
    }
}
