import Common
import Foundation

/// The safetensors file format (Hugging Face): an 8-byte little-endian header length n, n bytes of
/// JSON `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "text"}}` (padded with spaces to a multiple of 8), then the raw
/// little-endian tensor bytes, offsets relative to the end of the header.
/// Spec: https://github.com/huggingface/safetensors#format. Supported dtypes: F32 and I64.
public enum Safetensors {
    /// Largest header we accept (the reference implementation's limit is 100 MB).
    public static let maxHeader = 100_000_000

    /// Encodes named values (in the given order) with optional string metadata.
    public static func encode(_ entries: [(key: String, value: StateValue)], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        var body = Data()
        for (key, value) in entries {
            let begin = body.count
            let dtype: String
            switch value {
            case .float(let t):
                dtype = "F32"
                t.withUnsafeBufferPointer { body.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
            case .int64(let v):
                dtype = "I64"
                withUnsafeBytes(of: v.littleEndian) { body.append(contentsOf: $0) }
            }
            header[key] = ["dtype": dtype, "shape": value.shape, "data_offsets": [begin, body.count]] as [String: Any]
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        return out
    }

    /// Decodes and validates a file's bytes: header size, JSON, dtypes, shapes against byte counts,
    /// offsets within the data. Errors name `path` and the tensor.
    public static func decode(_ data: Data, path: String) throws -> (tensors: [String: StateValue], metadata: [String: String]) {
        func fail(_ m: String) -> ANNError { .file(path: path, message: m) }
        guard data.count >= 8 else { throw fail("not a safetensors file: \(data.count) bytes, the 8-byte header length is missing (truncated?)") }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n <= UInt64(maxHeader), n <= UInt64(data.count - 8) else {
            throw fail("header length \(n) exceeds the file (\(data.count) bytes): truncated or not a safetensors file")
        }
        let headerData = data.subdata(in: data.startIndex + 8..<data.startIndex + 8 + Int(n))
        guard let obj = try? JSONSerialization.jsonObject(with: headerData), let header = obj as? [String: Any] else {
            throw fail("the header is not a JSON object (corrupt file?)")
        }
        let bodyStart = 8 + Int(n)
        let bodySize = data.count - bodyStart
        var tensors: [String: StateValue] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (key, v) in header {
            if key == "__metadata__" {
                guard let m = v as? [String: Any] else { throw fail("__metadata__ must map names to strings") }
                for (mk, mv) in m {
                    guard let s = mv as? String else { throw fail("__metadata__.\(mk) must be a string") }
                    metadata[mk] = s
                }
                continue
            }
            guard let e = v as? [String: Any], let dtype = e["dtype"] as? String, let shapeAny = e["shape"] as? [Any],
                  let offAny = e["data_offsets"] as? [Any], offAny.count == 2 else {
                throw fail("tensor '\(key)': entry needs dtype, shape and data_offsets [begin, end]")
            }
            /// A JSON number that is a whole number in 0...limit (not a fraction, a negative or a huge
            /// number; limit < 2^53, so the double is exact).
            func size(_ x: Any, limit: Int) -> Int? {
                guard let d = (x as? NSNumber)?.doubleValue, d.isFinite, d >= 0, d <= Double(limit) else { return nil }
                return Int(exactly: d)
            }
            let shape = try shapeAny.map { (x: Any) -> Int in
                guard let i = size(x, limit: 1 << 53) else { throw fail("tensor '\(key)': shape \(shapeAny) is not a list of sizes (whole numbers >= 0)") }
                return i
            }
            let offs = try offAny.map { (x: Any) -> Int in
                guard let i = size(x, limit: bodySize) else {
                    throw fail("tensor '\(key)': data_offsets \(offAny) must be whole numbers within the data (\(bodySize) bytes): truncated or corrupt file")
                }
                return i
            }
            let size: Int
            switch dtype {
            case "F32": size = 4
            case "I64": size = 8
            default: throw fail("tensor '\(key)' has dtype \(dtype); neuromorph reads F32 weights and I64 counters (save float32 tensors)")
            }
            guard let count = CheckedMath.product(shape), let bytes = CheckedMath.multiply(count, size) else {
                throw fail("tensor '\(key)': shape \(shape) has more elements than any file can hold (corrupt header)")
            }
            guard offs[1] >= offs[0], offs[1] - offs[0] == bytes else {
                throw fail("tensor '\(key)': shape \(shape) of \(dtype) needs \(bytes) bytes, data_offsets \(offs) give \(offs[1] - offs[0])")
            }
            ranges.append((offs[0], offs[1], key))
            let start = data.startIndex + bodyStart + offs[0]
            if dtype == "F32" {
                var t = Tensor(uninitialized: shape)
                let p = t.writePointer()
                data.copyBytes(to: UnsafeMutableRawBufferPointer(start: p, count: count * 4).bindMemory(to: UInt8.self), from: start..<start + count * 4)
                tensors[key] = .float(t)
            } else {
                guard shape.isEmpty else { throw fail("tensor '\(key)': I64 tensors must be scalars (shape []), found shape \(shape)") }
                var v: Int64 = 0
                withUnsafeMutableBytes(of: &v) { data.copyBytes(to: $0.bindMemory(to: UInt8.self), from: start..<start + 8) }
                tensors[key] = .int64(Int64(littleEndian: v))
            }
        }
        ranges.sort { $0.0 < $1.0 }
        var end = 0
        for (b, e, key) in ranges {
            guard b == end else { throw fail("tensor '\(key)': data_offsets overlap or leave a gap at byte \(end)") }
            end = e
        }
        guard end == bodySize else { throw fail("\(bodySize - end) bytes after the last tensor (corrupt file)") }
        return (tensors, metadata)
    }

    public static func read(path: String) throws -> (tensors: [String: StateValue], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ANNError.file(path: path, message: "cannot read the file (does it exist?)")
        }
        return try decode(data, path: path)
    }

    /// Writes atomically (temporary file + rename).
    public static func write(_ entries: [(key: String, value: StateValue)], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(try encode(entries, metadata: metadata), to: URL(fileURLWithPath: path))
    }
}
