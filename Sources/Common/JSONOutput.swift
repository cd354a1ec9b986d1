import Foundation

/// The one JSON encoder of neuromorph: every file or text we write as JSON goes through it, so a NaN
/// or infinity never makes a writer fail (`EncodingError.invalidValue`): they are written as the
/// strings "nan", "inf" and "-inf" (what Python's `float()` parses). Pretty, key-sorted output (stable
/// diffs, easy to read) for files; `pretty: false` for JSON embedded in other formats (safetensors
/// metadata). `decoder` reads both forms back.
public enum JSONOutput {
    static let nonFinite = (positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: nonFinite.positiveInfinity,
                                                                  negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        var data = try enc.encode(value)
        if pretty { data.append(0x0a) }
        return data
    }

    /// A decoder that accepts the non-finite strings `encode` writes.
    public static var decoder: JSONDecoder {
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: nonFinite.positiveInfinity,
                                                                    negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        return dec
    }

    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try AtomicFile.write(try encode(value), to: url)
    }
}
