import CANN
import Common
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

    /// Largest header: magic plus 255 dimensions.
    static let maxHeader = 4 + 4 * 255
    /// deflate cannot expand data by more than about 1032:1, so a gzip file of n bytes inflates to at
    /// most this many bytes per compressed byte (plus a little): a header claiming more is corrupt.
    static let maxInflationRatio = 1100

    /// Reads and validates `path` (gzip or raw). When `expect` is given, the magic must match it exactly.
    /// The header is read first and its claimed size checked (overflow, against the file's size and the
    /// machine's memory) before the payload is read, so a corrupt header never causes a huge allocation.
    public static func read(path: String, expect: (ElementType, Int)? = nil) throws -> IDXFile {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DatasetError.missing(path: path, hint: "Give a folder of IDX files (e.g. train-images-idx3-ubyte.gz), or for Fashion-MNIST install dataset-fashion-mnist: bash scripts/setup.sh")
        }
        guard !isDir.boolValue else { throw DatasetError.corrupt(path: path, reason: "is a folder, expected an IDX file") }
        let fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        // 1. the header (at most 4 + 4·255 bytes of the inflated stream)
        let (head, _) = try readPrefix(path, maxLength: maxHeader)
        let header = try parseHeader(head, path: path, expect: expect)
        guard let total = CheckedMath.add(header.size, header.payloadBytes) else {
            throw DatasetError.corrupt(path: path, reason: "shape \(header.shape) of \(header.type) is too large to be real (corrupt header?)")
        }
        let ceiling = CheckedMath.multiply(max(fileSize, 1), maxInflationRatio).map { $0 + 4096 } ?? Int.max
        guard total <= ceiling else {
            throw DatasetError.corrupt(path: path, reason: "shape \(header.shape) of \(header.type) needs \(header.payloadBytes) data bytes, more than a \(fileSize)-byte file can hold even compressed (corrupt header?)")
        }
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        guard total <= memory / 2 else {
            throw DatasetError.corrupt(path: path, reason: "shape \(header.shape) of \(header.type) needs \(total) bytes, more than half of this machine's memory (\(memory) bytes)")
        }
        // 2. the whole array, never more than the header claims
        let (data, more) = try readPrefix(path, maxLength: total)
        if more {
            throw DatasetError.corrupt(path: path, reason: "shape \(header.shape) of \(header.type) needs \(header.payloadBytes) data bytes, but the file holds more (corrupt header or wrong file?)")
        }
        return try parse(data, path: path, expect: expect)
    }

    /// The first `maxLength` bytes of the (inflated) file and whether more follow.
    static func readPrefix(_ path: String, maxLength: Int) throws -> (Data, Bool) {
        var buf: UnsafeMutablePointer<UInt8>?
        var len: Int64 = 0
        var more: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        if nm_read_file_gz_max(path, Int64(maxLength), &buf, &len, &more, &err, Int32(err.count)) != 0 {
            throw DatasetError.corrupt(path: path, reason: "cannot read: \(cString(err))")
        }
        defer { nm_ann_free(buf) }
        return (len > 0 ? Data(bytes: buf!, count: Int(len)) : Data(), more != 0)
    }

    /// What an IDX header says: element type, shape, header size and (overflow-checked) payload size.
    struct Header {
        let type: ElementType
        let shape: [Int]
        let size: Int
        let payloadBytes: Int
    }

    /// Parses and checks the header at the start of `data` (which may hold only the header).
    static func parseHeader(_ data: Data, path: String, expect: (ElementType, Int)?) throws -> Header {
        let bytes = [UInt8](data.prefix(maxHeader))
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
            throw DatasetError.corrupt(path: path, reason: "header is truncated: \(rank) dimensions need \(headerSize) bytes, file has \(bytes.count)")
        }
        let shape = (0..<rank).map { Int(be32(4 + 4 * $0)) }
        guard let count = CheckedMath.product(shape + [type.size]) else {
            throw DatasetError.corrupt(path: path, reason: "shape \(shape) of \(type) has more elements than any file can hold (corrupt header?)")
        }
        return Header(type: type, shape: shape, size: headerSize, payloadBytes: count)
    }

    /// Parses IDX bytes (already inflated); `path` is used in errors.
    public static func parse(_ data: Data, path: String, expect: (ElementType, Int)? = nil) throws -> IDXFile {
        let h = try parseHeader(data, path: path, expect: expect)
        let found = data.count - h.size
        guard found == h.payloadBytes else {
            throw DatasetError.corrupt(path: path, reason: "shape \(h.shape) of \(h.type) needs \(h.payloadBytes) data bytes, found \(found)" + (found < h.payloadBytes ? " (truncated file?)" : ""))
        }
        return IDXFile(type: h.type, shape: h.shape, payload: data.subdata(in: data.startIndex + h.size..<data.startIndex + h.size + h.payloadBytes))
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
