import CCore
import Foundation

/// The command that writes an output folder; its name goes into the folder's marker file
/// (`.neuromorph-output`), and an existing folder is replaced only by the same kind.
public enum OutputKind: String, Sendable, CaseIterable {
    case simulate, train, convert, compare, run, `import`
}

/// How a command may use its output folder (README "Command line", "Outputs"):
/// - never `""`, `/`, the home folder, the working folder or a folder above it, an input of the command
///   (`inputs`) or a folder containing one;
/// - an existing folder only if it is empty, or carries the marker of the same `kind` and either
///   `force` is set (replaced, and only if it holds nothing but the files its marker lists) or `resume`
///   is set (kept and updated in place: `train --resume`).
public struct OutputPolicy: Sendable {
    public var kind: OutputKind
    public var force: Bool
    public var resume: Bool
    /// Files and folders the command reads (config, model folder, SNN folder, data folder, ...).
    public var inputs: [String]
    /// The flag that names the destination, for messages (`--out`).
    public var option: String
    /// The command line, recorded in the marker.
    public var command: String

    public init(kind: OutputKind, force: Bool = false, resume: Bool = false, inputs: [String] = [], option: String = "--out",
                command: String = OutputPolicy.commandLine) {
        self.kind = kind
        self.force = force
        self.resume = resume
        self.inputs = inputs
        self.option = option
        self.command = command
    }

    /// This process's command line as a shell would show it (`neuromorph simulate cfg.yaml --out runs/x`).
    public static var commandLine: String {
        (["neuromorph"] + CommandLine.arguments.dropFirst()).map { a in
            a.isEmpty || a.contains(where: { " \"'$\\".contains($0) }) ? "'" + a.replacingOccurrences(of: "'", with: "'\\''") + "'" : a
        }.joined(separator: " ")
    }

    /// The marker file written into every output folder.
    public static let markerFile = NM_OUTPUT_MARKER

    /// neuromorph's version, as recorded in markers.
    public static let version = NM_VERSION

    /// The kind recorded in the marker of `folder`, nil when it has none (or an unreadable one).
    public static func markerKind(of folder: String) -> String? {
        var buf = [CChar](repeating: 0, count: 64)
        guard nm_out_marker_kind(folder, &buf, buf.count) == 1 else { return nil }
        return cString(buf)
    }

    /// `path` made absolute, with symlinks, `.` and `..` resolved (the longest existing prefix through
    /// realpath, the rest lexically); nil for an empty path.
    public static func resolve(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        guard nm_path_resolve(path, &buf, buf.count) == 0 else { return nil }
        return cString(buf)
    }
}

/// A refused or failed output destination: one sentence naming the path and what to do.
public struct OutputError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Calls `body` with C strings of `strings` (valid during the call).
func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return try body(copies.map { UnsafePointer($0) })
}

/// The text in a C error buffer.
public func cString(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
