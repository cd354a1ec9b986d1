import CCore
import Foundation

/// Produces an output folder all at once: files are written into a hidden staging folder next to the
/// destination (`.NAME.partial-PID-RAND`, with the marker file), which becomes the destination in one
/// rename when everything succeeded. The destination is claimed first (`OutputClaim`: the output
/// policy, a lock against concurrent writers); a previous output is replaced only as the policy allows
/// (same kind, `force`). A failure, or SIGINT/SIGTERM/SIGHUP, leaves the destination as it was and
/// removes the staging folder.
public final class AtomicDirectory {
    public let claim: OutputClaim
    /// Where the folder appears on commit (resolved path).
    public var destination: URL { claim.destination }
    /// Where files go while the folder is being produced.
    public let staging: URL
    private var committed = false

    /// Stages a folder for `claim` (the claim must not have staged before).
    public init(claim: OutputClaim) throws {
        self.claim = claim
        var err = [CChar](repeating: 0, count: 2048)
        guard let s = nm_out_stage(claim.handle, &err, err.count) else { throw OutputError(cString(err)) }
        staging = URL(fileURLWithPath: String(cString: s), isDirectory: true)
    }

    /// Claims `path` under `policy` and stages a folder for it.
    public convenience init(_ path: String, policy: OutputPolicy) throws {
        try self.init(claim: OutputClaim(path, policy: policy))
    }

    /// Claims `destination` under `policy` and stages a folder for it (a URL made from a relative path
    /// keeps it, unresolved, for the policy and messages: `..` is resolved after symlinks, not lexically).
    public convenience init(_ destination: URL, policy: OutputPolicy) throws {
        let relative = destination.baseURL.map { $0.path == FileManager.default.currentDirectoryPath } ?? true
        try self.init(claim: OutputClaim(relative ? destination.relativePath : destination.path, policy: policy))
    }

    /// URL of a file inside the staging folder.
    public func file(_ name: String) -> URL { staging.appendingPathComponent(name) }

    public func write(_ data: Data, _ name: String) throws {
        do { try data.write(to: file(name)) } catch {
            throw IOError.cannotWrite(path: claim.path + "/" + name, reason: IOError.reason(error))
        }
    }

    public func write(_ text: String, _ name: String) throws { try write(Data(text.utf8), name) }

    /// Moves the staging folder into place (replacing a previous output of the same kind when the
    /// claim allows it). The claim keeps its lock until it is released.
    public func commit() throws {
        guard !committed else { return }
        var err = [CChar](repeating: 0, count: 2048)
        guard nm_out_commit(claim.handle, &err, err.count) == 0 else { throw OutputError(cString(err)) }
        committed = true
    }
}

/// Peak resident set size of this process (bytes).
public func peakRSSBytes() -> Int64 {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Int64(u.ru_maxrss) * 1024
}
