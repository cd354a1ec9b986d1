import Foundation

/// Why an ONNX file cannot be imported. The description is one sentence naming the file, the node
/// (its name and op type) or tensor, and what was expected.
public struct ONNXError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
