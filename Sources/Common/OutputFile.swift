import CCore
import Foundation

/// The output policy for single files (`simulate --save-network FILE`, `eval --json/--predictions/
/// --outputs FILE`): never `""`, a folder, or an input of the command; an existing file is replaced only
/// with `force`, and only if it is of the format the option writes (so a config or a model's weights
/// are never overwritten, even with `--force`). The write itself goes through `AtomicFile` (or, for a
/// saved network, the engine's `nm_file_create`: the same temporary name and signal clean-up); checking
/// a path sweeps the temporary files that killed writers left beside it.
public struct OutputFile: Sendable {
    /// What the option writes: a name for messages and a test on the first bytes of an existing file.
    public struct Format: Sendable {
        public let name: String
        public let recognizes: @Sendable (Data) -> Bool
        public init(name: String, recognizes: @escaping @Sendable (Data) -> Bool) {
            self.name = name
            self.recognizes = recognizes
        }

        /// A network saved by `simulate --save-network` (magic "NMNET").
        public static let savedNetwork = Format(name: "neuromorph saved network") { $0.starts(with: Array("NMNET".utf8)) }
        /// A NumPy .npy file.
        public static let npy = Format(name: "NumPy .npy file") { $0.starts(with: [0x93] + Array("NUMPY".utf8)) }
        /// A JSON object.
        public static let json = Format(name: "JSON file") { d in
            d.first(where: { !" \n\r\t".utf8.contains($0) }) == UInt8(ascii: "{")
        }
    }

    /// The path as the user wrote it.
    public let path: String
    /// Resolved path (symlinks, `.` and `..`).
    public let url: URL

    /// Checks `path` for `option` (e.g. "--save-network"); throws `OutputError` naming the path.
    public init(_ path: String, option: String, format: Format, force: Bool, inputs: [String]) throws {
        guard !path.isEmpty, let resolved = OutputPolicy.resolve(path) else {
            throw OutputError("\(option) is empty; name the file to write")
        }
        self.path = path
        url = URL(fileURLWithPath: resolved)
        for input in inputs where !input.isEmpty {
            if let r = OutputPolicy.resolve(input), r == resolved {
                throw OutputError("\(option) '\(path)' is an input of this command (\(input)); choose another file")
            }
        }
        // temporary files of earlier writers that were killed (`.NAME.tmp-PID-RAND`, see AtomicFile and
        // nm_file_create) and other stale neuromorph leftovers beside the file
        _ = nm_out_sweep(url.deletingLastPathComponent().path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDir) else { return }
        if isDir.boolValue { throw OutputError("\(option) '\(path)' is a folder; name a file to write") }
        let head: Data
        do {
            let h = try FileHandle(forReadingFrom: url)
            defer { try? h.close() }
            head = try h.read(upToCount: 64) ?? Data()
        } catch {
            throw OutputError("\(option) '\(path)' exists and cannot be read (\(IOError.reason(error))); choose another file or remove it")
        }
        guard format.recognizes(head) else {
            throw OutputError("\(path) exists and is not a \(format.name); choose another \(option) file or remove it")
        }
        guard force else {
            throw OutputError("\(path) exists (a \(format.name)); pass --force to replace it, or choose another \(option) file")
        }
    }

    /// Writes `data` atomically.
    public func write(_ data: Data) throws { try AtomicFile.write(data, to: url) }
}
