import Common
import Foundation
// libyaml, as vendored by Yams (the same parser Yams composes with; no second copy is linked). Yams
// exposes only whole documents, and composing one is where an alias bomb costs hours (every mapping key
// is hashed, a key made of nested aliases is hashed as its full expansion), so this pass reads the
// parser's events itself, before Yams composes anything. CYaml is Yams's C target, not a product of it
// (see the note at the Experiment target in Package.swift).
#if canImport(CYaml)
import CYaml
#else
#error("Yams no longer has the C target CYaml (its vendored libyaml) that YAMLBudget reads events from; pin Yams to a version that has it, or port YAMLBudget (see Package.swift)")
#endif

/// Bounds on the work a YAML config may cause, checked in one streaming pass over the parser's events
/// before the document is composed: its size in bytes, its node count *with every alias expanded*
/// (an alias counts as the whole node it refers to, so a "billion laughs" bomb is refused after a few
/// hundred events, whether it is used as a value or as a mapping key), and its nesting depth. The same
/// pass finds duplicate mapping keys and names the second one: `file:line:col: duplicate key 'x'`.
///
/// The defaults are far above what any config needs (the largest plausible one is an explicit `list`
/// of ~10^6 synapse pairs: ~3 million nodes, ~10 MB) and far below what would take long to compose.
public struct YAMLBudget: Sendable, Equatable {
    /// Largest document (bytes).
    public var maxBytes: Int
    /// Largest node count with aliases expanded (scalars, lists and mappings each count 1).
    public var maxNodes: Int
    /// Deepest nesting of lists and mappings.
    public var maxDepth: Int

    public init(maxBytes: Int = 16 << 20, maxNodes: Int = 4_000_000, maxDepth: Int = 64) {
        self.maxBytes = maxBytes
        self.maxNodes = maxNodes
        self.maxDepth = maxDepth
    }

    public static let `default` = YAMLBudget()

    /// Checks `text` against the budget; throws a `ConfigError` naming `file`, the line and the key
    /// path where the budget ran out or where a key repeats. Syntax errors are left to the composer
    /// (the pass stops there; everything before was within budget).
    public func check(_ text: String, file: String) throws {
        var text = text
        try text.withUTF8 { bytes in try check(bytes, file: file) }
    }

    private struct Frame {
        let isMapping: Bool
        /// Node total when this collection started (its expanded size is `total - start` at its end).
        let start: Int
        let anchor: String?
        /// Path of this collection (ConfigNode's notation: `projections[0].connect`).
        let path: String
        /// Children completed so far (mappings: keys and values alternate).
        var children = 0
        var keys: [String: Int] = [:]
        var lastKey: String? = nil
    }

    private func check(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
        guard bytes.count <= maxBytes else {
            throw ConfigError(file: file, line: nil, key: "",
                              message: "the file has \(bytes.count) bytes; configs are limited to \(MemorySize.format(Int64(maxBytes)))")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)

        var total = 0                   // nodes so far, aliases expanded
        var anchors: [String: Int] = [:] // expanded size of each anchored node
        var stack: [Frame] = []

        func text(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            p.map { String(cString: $0) }
        }
        func childPath() -> String {
            guard let top = stack.last else { return "" }
            if top.isMapping {
                guard top.children % 2 == 1, let key = top.lastKey else { return top.path }   // a key: its mapping's path
                return top.path.isEmpty ? key : "\(top.path).\(key)"
            }
            return "\(top.path)[\(top.children)]"
        }
        func fail(_ event: yaml_event_t, _ key: String, _ message: String) -> ConfigError {
            ConfigError(file: file, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1,
                        key: key, message: message)
        }
        /// Counts `size` more nodes; refuses the document once the total passes the budget.
        func add(_ size: Int, _ event: yaml_event_t, alias: String?) throws {
            let (sum, overflow) = total.addingReportingOverflow(size)
            total = overflow ? Int.max : sum
            guard total <= maxNodes else {
                let why = alias.map { "; the alias '*\($0)' here repeats \(anchors[$0] ?? 0) nodes (an alias bomb?)" } ?? ""
                throw fail(event, childPath(), "the document expands to more than \(maxNodes) YAML nodes with its aliases resolved\(why); configs are limited to \(maxNodes)")
            }
        }
        /// A node (scalar, alias or finished collection) completed inside the current collection.
        func completed(_ event: yaml_event_t, scalarKey: String?) throws {
            guard !stack.isEmpty else { return }
            if stack[stack.count - 1].isMapping, stack[stack.count - 1].children % 2 == 0 {
                if let key = scalarKey, let first = stack[stack.count - 1].keys[key] {
                    let path = stack[stack.count - 1].path
                    throw fail(event, "", "duplicate key '\(key)'\(path.isEmpty ? "" : " in \(path)") (first at line \(first))")
                }
                if let scalarKey { stack[stack.count - 1].keys[scalarKey] = Int(event.start_mark.line) + 1 }
                stack[stack.count - 1].lastKey = scalarKey ?? "<complex key>"
            }
            stack[stack.count - 1].children += 1
        }

        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else { return }   // syntax error: the composer reports it
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return
            case YAML_SCALAR_EVENT:
                try add(1, event, alias: nil)
                let s = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                if let a = text(s.anchor) { anchors[a] = 1 }
                try completed(event, scalarKey: value)
            case YAML_ALIAS_EVENT:
                let name = text(event.data.alias.anchor) ?? ""
                guard let size = anchors[name] else { return }               // undefined: the composer reports it
                try add(size, event, alias: name)
                try completed(event, scalarKey: nil)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                try add(1, event, alias: nil)
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let anchor = isMapping ? text(event.data.mapping_start.anchor) : text(event.data.sequence_start.anchor)
                guard stack.count < maxDepth else {
                    throw fail(event, childPath(), "lists and mappings are nested more than \(maxDepth) levels deep")
                }
                stack.append(Frame(isMapping: isMapping, start: total - 1, anchor: anchor, path: childPath()))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let done = stack.popLast() else { return }
                if let a = done.anchor { anchors[a] = total - done.start }
                try completed(event, scalarKey: nil)
            default:
                break   // stream/document start, document end
            }
        }
    }
}
