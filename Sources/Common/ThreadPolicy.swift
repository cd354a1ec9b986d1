import CCore
import Foundation

/// Thread defaults for the OpenMP kernels. libomp lets idle workers spin for `KMP_BLOCKTIME` ms
/// (default 200) before sleeping; on a busy machine with as many threads as cores, spinning workers
/// steal the core from the one doing work and runs collapse. neuromorph therefore sets a short block
/// time unless the user chose one (`OMP_WAIT_POLICY` or `KMP_BLOCKTIME` in the environment); see
/// README "Threads" and experiments/snn-bench for the measurement behind the default.
public enum ThreadPolicy {
    /// Default spin time (ms) before an idle OpenMP worker sleeps.
    public static let defaultBlocktimeMs: Int32 = 1

    /// Threads used when the user gives none: all cores.
    public static var defaultThreads: Int { Int(nm_max_threads()) }

    /// Applies the default wait policy unless the environment sets one. Call once at start-up, before any
    /// OpenMP call.
    public static func applyDefaults() {
        // before the first OpenMP call: a registration libomp left for this pid is a killed process's
        // (it would abort this one with "OMP: Error #15 ... unknown library already initialized")
        nm_omp_forget_stale_registration()
        let env = ProcessInfo.processInfo.environment
        if env["OMP_WAIT_POLICY"] == nil && env["KMP_BLOCKTIME"] == nil {
            nm_set_blocktime(defaultBlocktimeMs)
        }
    }

    /// A description for logs and summaries.
    public static var description: String {
        "threads \(defaultThreads), OpenMP blocktime \(nm_get_blocktime()) ms"
    }
}
