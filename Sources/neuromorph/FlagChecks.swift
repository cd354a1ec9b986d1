import ArgumentParser

/// Ranges of the numeric flags (README "Command line"). Numeric options are declared with
/// `parsing: .unconditional`, so `--seed -1` reaches these checks (and gets the range in the message)
/// instead of being read as an unknown flag ("Missing value").
enum FlagChecks {
    static let maxThreads = 1024
    static let maxSeed = Int.max
    /// For help texts.
    static let seedRange = "0 to 9223372036854775807"
    /// Images per batch (train, eval): larger batches only cost memory.
    static let maxBatch = 65_536
    /// Image counts (--limit, --limit-train, ...).
    static let maxImages = 1_000_000_000

    static func threads(_ t: Int?) throws {
        if let t, !(1...maxThreads).contains(t) {
            throw ValidationError("--threads must be a whole number between 1 and \(maxThreads), got \(t)")
        }
    }

    static func seed(_ s: Int?) throws {
        if let s, s < 0 { throw ValidationError("--seed must be a whole number from \(seedRange), got \(s)") }
    }

    static func count(_ name: String, _ v: Int?, _ range: ClosedRange<Int>) throws {
        if let v, !range.contains(v) {
            throw ValidationError("\(name) must be a whole number between \(range.lowerBound) and \(range.upperBound), got \(v)")
        }
    }

    static func outFolder(_ out: String?) throws {
        if let out, out.isEmpty { throw ValidationError("--out is empty; name the folder to write, e.g. runs/NAME") }
    }
}
