import Foundation

/// A data-set problem that names the file and says how to fix it, e.g.
/// `/data/train-images-idx3-ubyte.gz: expected IDX magic 0x00000803 (unsigned bytes, 3 dimensions), found 0x00000801`.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// A file or folder is missing; `hint` says how to get it.
    case missing(path: String, hint: String)
    /// A file exists but its content is not what was expected.
    case corrupt(path: String, reason: String)
    /// Files that must agree do not (e.g. 60000 images but 59999 labels).
    case mismatch(String)

    public var description: String {
        switch self {
        case let .missing(path, hint): return "\(path): not found. \(hint)"
        case let .corrupt(path, reason): return "\(path): \(reason)"
        case let .mismatch(message): return message
        }
    }
}
