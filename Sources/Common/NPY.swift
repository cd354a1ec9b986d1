import Foundation

/// NumPy `.npy` (format version 1.0) writer and reader for little-endian 1-D/2-D numeric arrays, so
/// that `numpy.load` reads neuromorph's monitor output directly.
/// Reference: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
public enum NPY {
    /// Element types we write: float64 (`<f8`), float32 (`<f4`), int32 (`<i4`), int64 (`<i8`).
    public enum DType: String, Sendable {
        case float64 = "<f8", float32 = "<f4", int32 = "<i4", int64 = "<i8"
        public var size: Int { switch self { case .float64, .int64: return 8; case .float32, .int32: return 4 } }
    }

    /// Encodes a header + raw data for `shape` (C order).
    public static func encode(shape: [Int], dtype: DType, body: Data) -> Data {
        precondition(shape.reduce(1, *) * dtype.size == body.count, "NPY: shape does not match data size")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        // magic(6) + version(2) + header_len(2) + header, padded with spaces to a multiple of 64, ending in \n.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let hlen = UInt16(header.utf8.count)
        out.append(UInt8(hlen & 0xff)); out.append(UInt8(hlen >> 8))
        out.append(Data(header.utf8))
        out.append(body)
        return out
    }

    public static func encode(_ values: [Double], shape: [Int]? = nil) -> Data {
        encode(shape: shape ?? [values.count], dtype: .float64, body: values.withUnsafeBytes { Data($0) })
    }
    public static func encode(_ values: [Float], shape: [Int]? = nil) -> Data {
        encode(shape: shape ?? [values.count], dtype: .float32, body: values.withUnsafeBytes { Data($0) })
    }
    public static func encode(_ values: [Int32], shape: [Int]? = nil) -> Data {
        encode(shape: shape ?? [values.count], dtype: .int32, body: values.withUnsafeBytes { Data($0) })
    }
    public static func encode(_ values: [Int64], shape: [Int]? = nil) -> Data {
        encode(shape: shape ?? [values.count], dtype: .int64, body: values.withUnsafeBytes { Data($0) })
    }

    /// A decoded array: its shape, dtype and raw little-endian bytes.
    public struct Array {
        public let shape: [Int]
        public let dtype: DType
        public let body: Data
        public var doubles: [Double] {
            switch dtype {
            case .float64: return body.withUnsafeBytes { Swift.Array($0.bindMemory(to: Double.self)) }
            case .float32: return body.withUnsafeBytes { $0.bindMemory(to: Float.self).map(Double.init) }
            case .int32: return body.withUnsafeBytes { $0.bindMemory(to: Int32.self).map(Double.init) }
            case .int64: return body.withUnsafeBytes { $0.bindMemory(to: Int64.self).map(Double.init) }
            }
        }
    }

    /// Decodes a version 1.0 `.npy` produced by `encode` (or NumPy, for the dtypes above, C order).
    public static func decode(_ data: Data, path: String = "<data>") throws -> Array {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Swift.Array(bytes[1...5]) == Swift.Array("NUMPY".utf8) else {
            throw IOError.corrupt(path: path, reason: "missing the NumPy magic string")
        }
        let hlen = Int(bytes[8]) | Int(bytes[9]) << 8
        guard bytes.count >= 10 + hlen, let header = String(bytes: bytes[10..<10 + hlen], encoding: .ascii) else {
            throw IOError.corrupt(path: path, reason: "header is truncated")
        }
        guard let d = header.range(of: "'descr': '")
        else { throw IOError.corrupt(path: path, reason: "header has no descr") }
        let rest = header[d.upperBound...]
        guard let end = rest.firstIndex(of: "'"), let dtype = DType(rawValue: String(rest[..<end])) else {
            throw IOError.corrupt(path: path, reason: "unsupported dtype in header \(header)")
        }
        guard let s = header.range(of: "'shape': ("), let e = header[s.upperBound...].firstIndex(of: ")") else {
            throw IOError.corrupt(path: path, reason: "header has no shape")
        }
        let shape = header[s.upperBound..<e].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *) * dtype.size
        guard bytes.count - 10 - hlen == count else {
            throw IOError.corrupt(path: path, reason: "expected \(count) data bytes, found \(bytes.count - 10 - hlen)")
        }
        return Array(shape: shape, dtype: dtype, body: data.subdata(in: (10 + hlen)..<(10 + hlen + count)))
    }
}
