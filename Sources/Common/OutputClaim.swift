import CCore
import Foundation

/// A destination folder checked against an `OutputPolicy` and locked for this process until the claim
/// is released (deinit): a second writer to the same folder fails and names this process. Creating a
/// claim also sweeps stale staging folders of killed writers beside the destination.
/// `AtomicDirectory` writes through a claim; `train` keeps its claim for the whole run and updates the
/// folder in place after its first epoch.
public final class OutputClaim: @unchecked Sendable {
    /// What was at the destination when it was claimed.
    public enum State: Sendable, Equatable {
        /// Nothing: the folder will be created.
        case absent
        /// An empty folder: it will be filled.
        case empty
        /// An output of the same kind: replaced (`force`) or updated in place (`resume`).
        case sameKind
    }

    let handle: OpaquePointer
    /// The destination as the user wrote it.
    public let path: String
    /// The destination with symlinks, `.` and `..` resolved.
    public let destination: URL
    public let state: State
    public let policy: OutputPolicy

    /// Checks `path` against `policy` and takes its lock; throws `OutputError` (one sentence naming the
    /// path) when the policy refuses it or another process writes it.
    public init(_ path: String, policy: OutputPolicy) throws {
        var err = [CChar](repeating: 0, count: 2048)
        let flags = (policy.force ? Int32(NM_OUT_FORCE) : 0) | (policy.resume ? Int32(NM_OUT_RESUME) : 0)
        let h = withCStrings(policy.inputs) { inputs in
            inputs.withUnsafeBufferPointer { ib in
                nm_out_claim(path, policy.kind.rawValue, policy.option, flags, ib.baseAddress, Int32(ib.count), policy.command, &err, err.count)
            }
        }
        guard let h else { throw OutputError(cString(err)) }
        handle = h
        self.path = path
        self.policy = policy
        destination = URL(fileURLWithPath: String(cString: nm_out_destination(h)), isDirectory: true)
        switch Int(nm_out_state(h)) {
        case Int(NM_OUT_EMPTY): state = .empty
        case Int(NM_OUT_SAME_KIND): state = .sameKind
        default: state = .absent
        }
    }

    deinit { nm_out_release(handle) }
}
