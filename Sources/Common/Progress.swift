import Foundation

/// Progress on standard error for long work: percent, rate, ETA and an optional extra field
/// (e.g. the real-time factor of a simulation). It prints only when stderr is a terminal, redraws at
/// most a few times a second, and finishes with a newline. Quiet otherwise, so logs stay clean.
public final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let total: Double
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let enabled: Bool
    private var drewSomething = false

    /// `total` is in the caller's unit (steps, images, batches); `enabled` defaults to "stderr is a TTY".
    public init(label: String, total: Double, enabled: Bool = isatty(2) != 0) {
        self.label = label
        self.total = max(total, 1e-12)
        self.enabled = enabled
    }

    /// Reports `done` units; `extra` is appended (e.g. "RTF 0.04", "loss 0.31").
    public func update(_ done: Double, extra: String = "") {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.2 || done >= total else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let frac = min(max(done / total, 0), 1)
        let eta = frac > 0 ? elapsed * (1 - frac) / frac : .nan
        var line = String(format: "\r%@ %5.1f%%  elapsed %@  ETA %@", label, 100 * frac,
                          Self.clock(elapsed), eta.isFinite ? Self.clock(eta) : "--:--")
        if !extra.isEmpty { line += "  " + extra }
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
        drewSomething = true
    }

    /// Ends the progress line.
    public func finish() {
        guard enabled, drewSomething else { return }
        FileHandle.standardError.write(Data("\n".utf8))
        drewSomething = false
    }

    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%02d:%02d", s / 60, s % 60)
    }
}

/// Writes a line to standard error.
public func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
