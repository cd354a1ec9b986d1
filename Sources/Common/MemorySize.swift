import Foundation

/// Byte counts as users write and read them (`16G`, `512 MiB`, `2.5GB`; binary multiples, as `free -h`
/// and Docker's `--memory` use them), and the memory this process may still allocate.
public enum MemorySize {
    /// Parses a size: a number of bytes, or a number with a unit K, M, G, T (optionally followed by
    /// `B` or `iB`; all powers of 1024). Returns nil for anything else, for values that are not finite
    /// and positive, or beyond 2^62 bytes.
    public static func parse(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        var split = t.endIndex
        while split > t.startIndex, Double(t[t.startIndex..<split].trimmingCharacters(in: .whitespaces)) == nil {
            split = t.index(before: split)
        }
        guard let value = Double(t[t.startIndex..<split].trimmingCharacters(in: .whitespaces)), value.isFinite, value > 0 else {
            return nil
        }
        var unit = t[split...].trimmingCharacters(in: .whitespaces).uppercased()
        if unit.hasSuffix("IB") { unit.removeLast(2) } else if unit.hasSuffix("B") { unit.removeLast() }
        let powers: [String: Double] = ["": 0, "K": 1, "M": 2, "G": 3, "T": 4]
        guard let p = powers[unit] else { return nil }
        let bytes = (value * pow(1024, p)).rounded()
        guard bytes >= 1, bytes <= Double(Int64(1) << 62) else { return nil }
        return Int64(bytes)
    }

    /// `1.5 GiB`, `640 MiB`, `12 KiB`, `100 B` (three significant digits).
    public static func format(_ bytes: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = max(0, bytes), k = 0
        while v >= 1024, k < units.count - 1 { v /= 1024; k += 1 }
        if k == 0 { return "\(Int(v)) B" }
        return (v >= 100 ? String(format: "%.0f", v) : v >= 10 ? String(format: "%.1f", v) : String(format: "%.2f", v)) + " " + units[k]
    }

    public static func format(_ bytes: Int64) -> String { format(Double(bytes)) }

    /// Bytes this process can still allocate without swapping or being killed: on Linux the smallest of
    /// `MemAvailable` (/proc/meminfo), the room left under the memory limit of the process's control
    /// group (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`) and the room left under its
    /// address-space limit (`ulimit -v`, where an allocation beyond fails instead of the OOM killer
    /// stepping in); elsewhere the physical memory. Read fresh at each call.
    public static func available() -> Int64 {
        var best: Int64? = nil
        func consider(_ x: Int64?) { if let x, x >= 0 { best = min(best ?? x, x) } }
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                let fields = line.split(separator: " ")
                if fields.count >= 2, let kb = Int64(fields[1]) { consider(kb * 1024) }
            }
        }
        consider(cgroupRoom())
        consider(addressSpaceRoom())
        return best ?? Int64(clamping: ProcessInfo.processInfo.physicalMemory)
    }

    /// The address-space limit (RLIMIT_AS) minus the process's current virtual size (`VmSize` in
    /// /proc/self/status), or nil without a limit.
    static func addressSpaceRoom() -> Int64? {
        var rl = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_AS.rawValue)
        #else
        let resource = RLIMIT_AS
        #endif
        guard getrlimit(resource, &rl) == 0, rl.rlim_cur < (UInt64(1) << 62) else { return nil }   // RLIM_INFINITY is all ones
        var used: Int64 = 0
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmSize:") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count >= 2, let kb = Int64(fields[1]) { used = kb * 1024 }
            }
        }
        return max(0, Int64(rl.rlim_cur) - used)
    }

    static func readInt(_ path: String) -> Int64? {
        guard let s = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int64(s.trimmingCharacters(in: .whitespacesAndNewlines))   // "max" -> nil
    }

    /// Limit minus usage of this process's memory cgroup, or nil without a limit.
    static func cgroupRoom() -> Int64? {
        // the process's own group (v2: "0::/path"; v1: "N:memory:/path"), relative to the mounts
        var v2Path = "", v1Path = ""
        if let groups = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) {
            for line in groups.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count == 3 else { continue }
                if parts[0] == "0" && parts[1].isEmpty { v2Path = String(parts[2]) }
                if parts[1].split(separator: ",").contains("memory") { v1Path = String(parts[2]) }
            }
        }
        var candidates: [(limit: String, usage: String)] = []
        for base in Set([v2Path, "/"]) {
            let dir = "/sys/fs/cgroup" + (base == "/" ? "" : base)
            candidates.append((dir + "/memory.max", dir + "/memory.current"))
        }
        for base in Set([v1Path, "/"]) {
            let dir = "/sys/fs/cgroup/memory" + (base == "/" ? "" : base)
            candidates.append((dir + "/memory.limit_in_bytes", dir + "/memory.usage_in_bytes"))
        }
        var room: Int64? = nil
        for c in candidates {
            guard let limit = readInt(c.limit), limit < (Int64(1) << 60), let usage = readInt(c.usage) else { continue }
            room = min(room ?? Int64.max, max(0, limit - usage))
        }
        return room
    }
}
