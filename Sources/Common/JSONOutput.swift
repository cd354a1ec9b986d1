import Foundation

/// Encodes `Encodable` values as pretty, key-sorted JSON (stable diffs, easy to read) and writes them
/// atomically.
public enum JSONOutput {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try enc.encode(value)
        data.append(0x0a)
        return data
    }

    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try AtomicFile.write(try encode(value), to: url)
    }
}
