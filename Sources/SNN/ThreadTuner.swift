/// Picks the thread count for automatic runs by measurement. On a quiet machine more threads are faster
/// for large networks; on a busy one, threads that wait for each other at every min-delay barrier can be
/// many times slower than one thread. The tuner times chunks with each candidate (1 and all cores),
/// keeps the fastest, and re-measures the others every `reprobeEvery` chunks. Results are bit-identical
/// for every thread count, so the choice only affects speed.
struct ThreadTuner {
    let candidates: [Int]
    private var secondsPerStep: [Int: Double] = [:]
    private var chunks = 0
    let reprobeEvery = 40

    init(maxThreads: Int) {
        candidates = maxThreads > 1 ? [maxThreads, 1] : [1]
    }

    /// The thread count for the next chunk.
    mutating func next() -> Int {
        chunks += 1
        if let unmeasured = candidates.first(where: { secondsPerStep[$0] == nil }) { return unmeasured }
        let best = candidates.min { secondsPerStep[$0]! < secondsPerStep[$1]! }!
        if chunks % reprobeEvery == 0 {
            // probe the other candidates again (load changes)
            return candidates.first { $0 != best } ?? best
        }
        return best
    }

    mutating func record(threads: Int, steps: Int64, seconds: Double) {
        guard steps > 0 else { return }
        let s = seconds / Double(steps)
        // exponential smoothing: recent chunks matter most, one outlier does not flip the choice
        if let old = secondsPerStep[threads] { secondsPerStep[threads] = 0.5 * old + 0.5 * s } else { secondsPerStep[threads] = s }
    }
}
