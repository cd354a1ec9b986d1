import CKernels
import Foundation

/// An array in the IDX format of MNIST and its relatives (Fashion-MNIST, EMNIST, KMNIST): a 4-byte
/// big-endian magic `0x0000TTDD` (TT = element type, DD = number of dimensions), DD big-endian 32-bit
/// sizes, then the elements in row-major order (big-endian for multi-byte types). Files may be
/// gzip-compressed (`.gz`); they are inflated with zlib.
/// Reference: http://yann.lecun.com/exdb/mnist/ (file formats section).
public struct IDXFile: Sendable {
    /// IDX element types (the TT byte of the magic).
    public enum ElementType: UInt8, Sendable, CustomStringConvertible {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E
        public var size: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }
        public var description: String {
            switch self {
            case .uint8: return "unsigned bytes"
            case .int8: return "signed bytes"
            case .int16: return "16-bit integers"
            case .int32: return "32-bit integers"
            case .float32: return "32-bit floats"
            case .float64: return "64-bit floats"
            }
        }
    }

    public let type: ElementType
    /// Sizes of the dimensions, outermost first (e.g. [60000, 28, 28]).
    public let shape: [Int]
    /// The element bytes exactly as stored (big-endian for multi-byte types).
    public let payload: Data

    /// The magic number a file of this type and rank starts with.
    public static func magic(_ type: ElementType, rank: Int) -> UInt32 { UInt32(type.rawValue) << 8 | UInt32(rank) }

    /// Reads and validates `path` (gzip or raw). When `expect` is given, the magic must match it exactly.
    public static func read(path: String, expect: (ElementType, Int)? = nil) throws -> IDXFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError.missing(path: path, hint: "Give a folder of IDX files (e.g. train-images-idx3-ubyte.gz), or for Fashion-MNIST install dataset-fashion-mnist: bash scripts/setup.sh")
        }
        var buf: UnsafeMutablePointer<UInt8>?
        var len: Int64 = 0
        var err = [CChar](repeating: 0, count: 256)
        if nm_read_file_gz(path, &buf, &len, &err, Int32(err.count)) != 0 {
            let msg = String(cString: err)
            throw DatasetError.corrupt(path: path, reason: "cannot read: \(msg)")
        }
        defer { nm_ann_free(buf) }
        let data = Data(bytes: buf!, count: Int(len))
        return try parse(data, path: path, expect: expect)
    }

    /// Parses IDX bytes (already inflated); `path` is used in errors.
    public static func parse(_ data: Data, path: String, expect: (ElementType, Int)? = nil) throws -> IDXFile {
        let bytes = [UInt8](data.prefix(4 + 4 * 255))
        func be32(_ o: Int) -> UInt32 {
            UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
        }
        let expectText = expect.map { String(format: "expected IDX magic 0x%08X (%@, %d dimensions)", magic($0.0, rank: $0.1), $0.0.description, $0.1) }
            ?? "expected an IDX file"
        guard bytes.count >= 4 else {
            throw DatasetError.corrupt(path: path, reason: "\(expectText), but the file has only \(bytes.count) bytes")
        }
        let m = be32(0)
        guard bytes[0] == 0, bytes[1] == 0, let type = ElementType(rawValue: bytes[2]), bytes[3] >= 1 else {
            throw DatasetError.corrupt(path: path, reason: String(format: "%@, found magic 0x%08X (not an IDX file)", expectText, m))
        }
        let rank = Int(bytes[3])
        if let (t, r) = expect, t != type || r != rank {
            throw DatasetError.corrupt(path: path, reason: String(format: "%@, found 0x%08X (%@, %d dimensions)", expectText, m, type.description, rank))
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DatasetError.corrupt(path: path, reason: "header is truncated: \(rank) dimensions need \(headerSize) bytes, file has \(data.count)")
        }
        let shape = (0..<rank).map { Int(be32(4 + 4 * $0)) }
        let count = shape.reduce(1, *) * type.size
        guard data.count - headerSize == count else {
            throw DatasetError.corrupt(path: path, reason: "shape \(shape) of \(type) needs \(count) data bytes, found \(data.count - headerSize)" + (data.count - headerSize < count ? " (truncated file?)" : ""))
        }
        return IDXFile(type: type, shape: shape, payload: data.subdata(in: data.startIndex + headerSize..<data.startIndex + headerSize + count))
    }

    /// Encodes an array as IDX bytes (big-endian payload is the caller's job for multi-byte types).
    public static func encode(type: ElementType, shape: [Int], payload: Data) -> Data {
        var out = Data()
        func put(_ v: UInt32) { out.append(contentsOf: [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]) }
        put(magic(type, rank: shape.count))
        for s in shape { put(UInt32(s)) }
        out.append(payload)
        return out
    }

    /// Writes `data` gzip-compressed to `path` (zlib; for tests and tools).
    public static func writeGzip(_ data: Data, to path: String) throws {
        let rc = data.withUnsafeBytes { nm_write_file_gz(path, $0.bindMemory(to: UInt8.self).baseAddress, Int64(data.count)) }
        if rc != 0 { throw DatasetError.corrupt(path: path, reason: "cannot write gzip file") }
    }
}
