import CCore

/// The vector path the C kernels run: one of `avx512` (512-bit AVX-512), `avx2` (256-bit) or
/// `baseline` (the architecture's baseline: SSE2 on x86-64, NEON on aarch64). The best path the CPU
/// supports is chosen at start-up; the environment variable `NM_ISA` (`avx512`, `avx2`, `baseline`,
/// `scalar` = `baseline`, `auto`) or `select(_:)` chooses another. Every path computes the same
/// single-precision operations per neuron in the same order, so spikes, states, counts and accuracies
/// are bit-identical whichever ran (README "Engine").
public enum VectorPath {
    /// The path the kernels use now.
    public static var current: String { String(cString: nm_isa_name()) }

    /// The paths this CPU supports, best first (e.g. `["avx512", "avx2", "baseline"]`).
    public static var available: [String] { String(cString: nm_isa_available()).split(separator: ",").map(String.init) }

    /// Every path a build knows, best first (an x86-64 build; an aarch64 one runs only `baseline`).
    public static let all = ["avx512", "avx2", "baseline"]

    /// The CPU's model name (CPUID brand string on x86-64).
    public static var cpuModel: String { String(cString: nm_cpu_model()) }

    /// Chooses the path for every later kernel call (`auto` = the best). Not while a simulation runs.
    /// - Throws: `VectorPathError` for an unknown name or a path this CPU lacks; the path is unchanged.
    public static func select(_ name: String) throws {
        var err = [CChar](repeating: 0, count: 512)
        if nm_isa_set(name, &err, err.count) != 0 {
            throw VectorPathError(description: String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Runs `body` on path `name`, then restores the previous path.
    public static func with<T>(_ name: String, _ body: () throws -> T) throws -> T {
        let previous = current
        try select(name)
        defer { try? select(previous) }
        return try body()
    }

    /// Checks `NM_ISA`: a value that is not a path, or a path this CPU lacks, is an error (programs
    /// stop with it at start-up instead of silently running another path).
    public static func checkEnvironment() throws {
        if let e = nm_isa_env_error() { throw VectorPathError(description: String(cString: e)) }
    }

    /// One line for logs and `--version`: the path and the CPU.
    public static var summary: String { "vector path \(current) (available: \(available.joined(separator: ", "))) on \(cpuModel)" }
}

/// A vector path that cannot run here (or is no path at all), as a sentence.
public struct VectorPathError: Error, CustomStringConvertible, Equatable {
    public let description: String
}
