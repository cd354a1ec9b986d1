import Foundation

/// A configuration problem found before anything runs. It names the file, the line (and column) in
/// it, the key path, and says what was expected, as a sentence a user can act on:
///
///     configs/coba.yaml:12:5: populations.exc.model: unknown neuron model 'lif_cob'; expected one of: if, lif_exp, ...
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let column: Int?
    /// Dotted key path, e.g. `projections[2].weight`.
    public let key: String
    public let message: String

    public init(file: String, line: Int?, column: Int? = nil, key: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var loc = file
        if let line { loc += ":\(line)" }
        if let column { loc += ":\(column)" }
        return key.isEmpty ? "\(loc): \(message)" : "\(loc): \(key): \(message)"
    }
}
