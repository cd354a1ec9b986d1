import ANN
import Common
import Foundation

/// Reads the values of ONNX tensors (initializers, `Constant` values): float32 or int64 data stored in
/// `raw_data` (little-endian bytes), in the typed fields (`float_data`, `int64_data`, `int32_data`,
/// `double_data`), or as external data (`data_location: EXTERNAL`, keys `location`, `offset`,
/// `length`): a file named relative to the model's folder, as PyTorch's `torch.export` exporter
/// writes `MODEL.onnx.data` beside the model. A location that is absolute, or that leaves the model's
/// folder (`..`, a symlink pointing elsewhere), is refused.
struct ONNXTensorReader {
    /// The .onnx file (for messages) and its folder (where external data must live).
    let modelPath: String
    let folder: String
    private var files: [String: Data] = [:]

    /// Largest tensor the importer reads (2^28 values, 1 GiB of float32).
    static let maxValues = 1 << 28

    init(modelPath: String) {
        self.modelPath = modelPath
        let dir = (modelPath as NSString).deletingLastPathComponent
        folder = dir.isEmpty ? "." : dir
    }

    func fail(_ what: String, _ message: String) -> ONNXError { ONNXError("\(modelPath): \(what): \(message)") }

    /// Shape (dims) and element count of `t`, checked.
    func shape(_ t: Onnx_TensorProto, _ what: String) throws -> ([Int], Int) {
        var n = 1
        var dims: [Int] = []
        for d in t.dims {
            guard d >= 0, d <= Int64(Self.maxValues) else { throw fail(what, "has the dimension \(d) in its shape \(t.dims); expected sizes in 0...\(Self.maxValues)") }
            dims.append(Int(d))
            guard let m = CheckedMath.multiply(n, Int(d)), m <= Self.maxValues else {
                throw fail(what, "has \(t.dims) elements, more than the \(Self.maxValues) the importer reads")
            }
            n = m
        }
        return (dims, n)
    }

    /// The bytes of `t`'s data: `raw_data` or its external data (nil when the values are in a typed field).
    mutating func rawBytes(_ t: Onnx_TensorProto, _ what: String) throws -> Data? {
        if t.dataLocation == .external {
            var location: String?, offset = 0, length: Int?
            for e in t.externalData {
                switch e.key {
                case "location": location = e.value
                case "offset":
                    guard let v = Int(e.value), v >= 0 else { throw fail(what, "external data offset '\(e.value)' is not a byte offset >= 0") }
                    offset = v
                case "length":
                    guard let v = Int(e.value), v >= 0 else { throw fail(what, "external data length '\(e.value)' is not a byte count >= 0") }
                    length = v
                default: break
                }
            }
            guard let location, !location.isEmpty else { throw fail(what, "is stored as external data but names no location") }
            let data = try externalFile(location, what)
            let len = length ?? (data.count - offset)
            guard offset <= data.count, len >= 0, len <= data.count - offset else {
                throw fail(what, "external data bytes \(offset)..<\(offset + len) lie outside \(location) (\(data.count) bytes); the data file is truncated or does not belong to this model")
            }
            return data.subdata(in: offset..<(offset + len))
        }
        return t.hasRawData ? t.rawData : nil
    }

    /// Reads (once) an external data file inside the model's folder.
    mutating func externalFile(_ location: String, _ what: String) throws -> Data {
        if let d = files[location] { return d }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw fail(what, "external data location '\(location)' is outside the model's folder; only files beside \((modelPath as NSString).lastPathComponent) (or below its folder) are read")
        }
        let full = "\(folder)/\(location)"
        guard let root = OutputPolicy.resolve(folder), let resolved = OutputPolicy.resolve(full),
              resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw fail(what, "external data location '\(location)' resolves outside the model's folder (a symlink?); only files inside it are read")
        }
        guard let data = FileManager.default.contents(atPath: full) else {
            throw fail(what, "cannot read its external data file \(full) (the torch.export exporter writes it beside the model as MODEL.onnx.data: copy both files)")
        }
        files[location] = data
        return data
    }

    /// float32 values of `t` (float or double data), with its shape.
    mutating func floats(_ t: Onnx_TensorProto, _ what: String) throws -> (shape: [Int], values: [Float]) {
        let (dims, n) = try shape(t, what)
        switch t.dataType {
        case 1:   // FLOAT
            if let raw = try rawBytes(t, what) {
                guard raw.count == n * 4 else { throw fail(what, "holds \(raw.count) bytes of float32 data, expected \(n * 4) for shape \(dims)") }
                var v = [Float](repeating: 0, count: n)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { src in dst.copyMemory(from: src) } }
                return (dims, v.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
            }
            guard t.floatData.count == n else { throw fail(what, "holds \(t.floatData.count) float values, expected \(n) for shape \(dims)") }
            return (dims, t.floatData)
        case 11:  // DOUBLE
            if let raw = try rawBytes(t, what) {
                guard raw.count == n * 8 else { throw fail(what, "holds \(raw.count) bytes of float64 data, expected \(n * 8) for shape \(dims)") }
                var v = [UInt64](repeating: 0, count: n)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { src in dst.copyMemory(from: src) } }
                return (dims, v.map { Float(Double(bitPattern: UInt64(littleEndian: $0))) })
            }
            guard t.doubleData.count == n else { throw fail(what, "holds \(t.doubleData.count) double values, expected \(n) for shape \(dims)") }
            return (dims, t.doubleData.map { Float($0) })
        default:
            throw fail(what, "has element type \(Self.typeName(t.dataType)); weights must be float32 (or float64)")
        }
    }

    /// Integer values of `t` (int64 or int32 data: shapes, axes).
    mutating func ints(_ t: Onnx_TensorProto, _ what: String) throws -> [Int] {
        let (dims, n) = try shape(t, what)
        switch t.dataType {
        case 7:   // INT64
            if let raw = try rawBytes(t, what) {
                guard raw.count == n * 8 else { throw fail(what, "holds \(raw.count) bytes of int64 data, expected \(n * 8) for shape \(dims)") }
                var v = [Int64](repeating: 0, count: n)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { src in dst.copyMemory(from: src) } }
                return v.map { Int(Int64(littleEndian: $0)) }
            }
            guard t.int64Data.count == n else { throw fail(what, "holds \(t.int64Data.count) int64 values, expected \(n) for shape \(dims)") }
            return t.int64Data.map { Int($0) }
        case 6:   // INT32
            if let raw = try rawBytes(t, what) {
                guard raw.count == n * 4 else { throw fail(what, "holds \(raw.count) bytes of int32 data, expected \(n * 4) for shape \(dims)") }
                var v = [Int32](repeating: 0, count: n)
                v.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { src in dst.copyMemory(from: src) } }
                return v.map { Int(Int32(littleEndian: $0)) }
            }
            guard t.int32Data.count == n else { throw fail(what, "holds \(t.int32Data.count) int32 values, expected \(n) for shape \(dims)") }
            return t.int32Data.map { Int($0) }
        default:
            throw fail(what, "has element type \(Self.typeName(t.dataType)), expected int64")
        }
    }

    static func typeName(_ t: Int32) -> String {
        let names: [Int32: String] = [0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
                                      8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 16: "BFLOAT16"]
        return names[t] ?? "\(t)"
    }
}
