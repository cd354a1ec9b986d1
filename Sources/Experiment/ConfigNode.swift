import Common
import Foundation
import Yams

/// A node of a YAML configuration file that remembers where it came from (file, line, column, key
/// path), so that every error names the place. Mappings track which keys were read: `finish()`
/// rejects any key the schema does not know (with a "did you mean" hint), so a typo never silently
/// falls back to a default.
///
///     let root = try ConfigNode.load(path: "configs/coba.yaml")
///     let run = try root.mapping()
///     let dt = try run.quantity("dt", .time, default: 0.1)   // "0.1 ms" -> 0.1 (ms)
///     try run.finish()
public struct ConfigNode {
    public let node: Node
    public let file: String
    public let path: String

    public init(node: Node, file: String, path: String) {
        self.node = node
        self.file = file
        self.path = path
    }

    public var line: Int? { node.mark?.line }
    public var column: Int? { node.mark?.column }

    /// Reads and parses a YAML file. A missing file, a folder, an empty file, a file beyond the
    /// budget's size or a YAML syntax error becomes a `ConfigError` with the location. At most
    /// `budget.maxBytes + 1` bytes are read, so a huge file or a device costs nothing.
    public static func load(path: String, budget: YAMLBudget = .default) throws -> ConfigNode {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ConfigError(file: path, line: nil, key: "", message: "cannot read the file (does it exist?)")
        }
        guard !isDir.boolValue else {
            throw ConfigError(file: path, line: nil, key: "", message: "is a folder; expected a YAML config file")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: budget.maxBytes + 1) ?? Data()
        } catch {
            throw ConfigError(file: path, line: nil, key: "", message: "cannot read the file (\((error as NSError).localizedDescription))")
        }
        guard data.count <= budget.maxBytes else {
            throw ConfigError(file: path, line: nil, key: "", message: "the file is larger than \(MemorySize.format(Int64(budget.maxBytes))), the limit for configs")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, key: "", message: "the file is not UTF-8 text")
        }
        return try parse(text, file: path, budget: budget)
    }

    /// Parses YAML text; `file` is used in error messages. The text is first checked against `budget`
    /// (size, node count with aliases expanded, depth, duplicate keys; see `YAMLBudget`), so composing
    /// it is bounded work.
    public static func parse(_ text: String, file: String, budget: YAMLBudget = .default) throws -> ConfigNode {
        try budget.check(text, file: file)
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, line: nil, key: "", message: "the file is empty; expected a YAML mapping")
            }
            return ConfigNode(node: node, file: file, path: "")
        } catch let e as ConfigError {
            throw e
        } catch let e as YamlError {
            // never the error's own description: several cases embed the whole document
            switch e {
            case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
                 let .composer(context, problem, mark, _):
                let ctx = context.map { " (\($0.text))" } ?? ""
                throw ConfigError(file: file, line: mark.line, column: mark.column, key: "",
                                  message: "YAML syntax error: \(problem)\(ctx)")
            case let .duplicatedKeysInMapping(duplicates, context):
                throw ConfigError(file: file, line: context.mark.line, column: context.mark.column, key: "",
                                  message: "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
            case let .reader(problem, _, _, _):
                throw ConfigError(file: file, line: nil, key: "", message: "cannot read the YAML text: \(problem)")
            default:
                throw ConfigError(file: file, line: nil, key: "", message: "the YAML text could not be parsed")
            }
        }
    }

    /// An error located at this node.
    public func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, key: path, message: message)
    }

    var kindName: String {
        switch node {
        case .scalar(let s): return "the scalar '\(Self.clip(s.string))'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// This node as a mapping (keys must be strings, no duplicates).
    public func mapping() throws -> ConfigMapping {
        guard case .mapping(let m) = node else { throw error("expected a mapping (key: value lines), found \(kindName)") }
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        var seen = Set<String>()
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                throw ConfigNode(node: k, file: file, path: path).error("mapping keys must be plain names")
            }
            if seen.contains(ks.string) {
                throw ConfigNode(node: k, file: file, path: join(ks.string)).error("duplicate key '\(ks.string)'")
            }
            seen.insert(ks.string)
            entries.append((ks.string, k, v))
        }
        return ConfigMapping(owner: self, entries: entries)
    }

    /// This node as a list.
    public func sequence() throws -> [ConfigNode] {
        guard case .sequence(let s) = node else { throw error("expected a list, found \(kindName)") }
        return s.enumerated().map { ConfigNode(node: $1, file: file, path: "\(path)[\($0)]") }
    }

    public var isSequence: Bool { if case .sequence = node { return true } else { return false } }
    public var isMapping: Bool { if case .mapping = node { return true } else { return false } }
    public var isScalar: Bool { if case .scalar = node { return true } else { return false } }

    func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(Self.clip(key))" }

    /// `s`, shortened for messages when it is long (a config value may be megabytes long).
    static func clip(_ s: String) -> String {
        s.count <= 60 ? s : "\(s.prefix(40))… (\(s.count) characters)"
    }

    // MARK: scalars

    /// The raw scalar text.
    public func scalarText() throws -> String {
        guard case .scalar(let s) = node else { throw error("expected a single value, found \(kindName)") }
        return s.string
    }

    public func string() throws -> String { try scalarText() }

    public func double() throws -> Double {
        let t = try scalarText().trimmingCharacters(in: .whitespaces)
        guard let v = Double(t), v.isFinite else { throw error("expected a number, found '\(Self.clip(t))'") }
        return v
    }

    public func int() throws -> Int {
        let t = try scalarText().trimmingCharacters(in: .whitespaces)
        if let v = Int(t) { return v }
        if let d = Double(t), d.isFinite, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
        throw error("expected a whole number, found '\(Self.clip(t))'")
    }

    public func bool() throws -> Bool {
        let t = try scalarText().trimmingCharacters(in: .whitespaces).lowercased()
        switch t {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, found '\(Self.clip(t))'")
        }
    }

    /// A physical quantity with an explicit unit, returned in the dimension's canonical unit
    /// (see `Dimension`). A bare number is rejected unless the dimension is dimensionless.
    public func quantity(_ dim: Dimension) throws -> Double {
        let t = try scalarText()
        do {
            return try Units.parse(t, as: dim)
        } catch let e as UnitError {
            throw error(e.message)
        }
    }

    /// One of a fixed set of words.
    public func choice(_ options: [String]) throws -> String {
        let t = try scalarText().trimmingCharacters(in: .whitespaces)
        guard options.contains(t) else {
            throw error("unknown value '\(Self.clip(t))'; expected one of: \(options.joined(separator: ", "))\(Suggest.hint(t, options))")
        }
        return t
    }

    /// A list of numbers (also accepts a single number as a one-element list).
    public func doubles() throws -> [Double] {
        if isSequence { return try sequence().map { try $0.double() } }
        return [try double()]
    }
}

/// The entries of a YAML mapping, consumed by key. Call `finish()` when the schema has read all it
/// knows: any key left over is an error ("unknown key 'tau_mm' ... did you mean 'tau_m'?").
public final class ConfigMapping {
    public let owner: ConfigNode
    private let entries: [(key: String, keyNode: Node, value: Node)]
    private var used = Set<String>()

    init(owner: ConfigNode, entries: [(key: String, keyNode: Node, value: Node)]) {
        self.owner = owner
        self.entries = entries
    }

    /// Keys in file order.
    public var keys: [String] { entries.map(\.key) }

    public func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    /// The node for `key`, or nil; marks the key as known.
    public func node(_ key: String) -> ConfigNode? {
        used.insert(key)
        guard let e = entries.first(where: { $0.key == key }) else { return nil }
        return ConfigNode(node: e.value, file: owner.file, path: owner.join(key))
    }

    /// The node for `key`; a missing key is an error that says what was expected.
    public func require(_ key: String, _ expected: String = "") throws -> ConfigNode {
        guard let n = node(key) else {
            throw owner.error("missing required key '\(key)'" + (expected.isEmpty ? "" : " (\(expected))"))
        }
        return n
    }

    /// Entries in file order, each marked as known (for mappings of user-chosen names).
    public func all() -> [(String, ConfigNode)] {
        entries.map { e in
            used.insert(e.key)
            return (e.key, ConfigNode(node: e.value, file: owner.file, path: owner.join(e.key)))
        }
    }

    /// Rejects keys that were never read.
    public func finish() throws {
        let known = Array(used)
        for e in entries where !used.contains(e.key) {
            let n = ConfigNode(node: e.keyNode, file: owner.file, path: owner.join(e.key))
            let expected = known.sorted().joined(separator: ", ")
            throw n.error("unknown key '\(ConfigNode.clip(e.key))'\(Suggest.hint(e.key, known)); known keys here: \(expected)")
        }
    }

    // MARK: typed conveniences

    public func string(_ key: String) throws -> String { try require(key, "a text").string() }
    public func string(_ key: String, default d: String) throws -> String { try node(key)?.string() ?? d }
    public func double(_ key: String) throws -> Double { try require(key, "a number").double() }
    public func double(_ key: String, default d: Double) throws -> Double { try node(key)?.double() ?? d }
    public func int(_ key: String) throws -> Int { try require(key, "a whole number").int() }
    public func int(_ key: String, default d: Int) throws -> Int { try node(key)?.int() ?? d }
    public func bool(_ key: String, default d: Bool) throws -> Bool { try node(key)?.bool() ?? d }
    public func quantity(_ key: String, _ dim: Dimension) throws -> Double {
        try require(key, "\(dim.description), e.g. '\(dim.example)'").quantity(dim)
    }
    public func quantity(_ key: String, _ dim: Dimension, default d: Double) throws -> Double {
        try node(key)?.quantity(dim) ?? d
    }
    public func choice(_ key: String, _ options: [String]) throws -> String {
        try require(key, "one of: \(options.joined(separator: ", "))").choice(options)
    }
    public func choice(_ key: String, _ options: [String], default d: String) throws -> String {
        try node(key)?.choice(options) ?? d
    }

    /// A number that must satisfy `check`, else `message` (e.g. "must be > 0").
    public func checked(_ key: String, _ value: Double, _ ok: Bool, _ message: String) throws {
        let shown = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
        if !ok { throw (node(key) ?? owner).error("\(message), found \(shown)") }
    }
}

/// "Did you mean" suggestions by edit distance.
enum Suggest {
    static func hint(_ word: String, _ options: [String]) -> String {
        guard word.count <= 64 else { return "" }   // edit distance is quadratic
        let best = options.map { ($0, distance($0.lowercased(), word.lowercased())) }.min { $0.1 < $1.1 }
        guard let (w, d) = best, d <= max(2, word.count / 3) else { return "" }
        return " (did you mean '\(w)'?)"
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
