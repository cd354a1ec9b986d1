@testable import ANN
import Foundation
import XCTest

final class SafetensorsTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nm-st-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func bnModel() throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [1, 8, 8], layers: [
            .conv2d(inChannels: 1, outChannels: 2, kernel: Size2(3), stride: Size2(1), padding: Size2(0), bias: true),
            .batchNorm(features: 2, spatial: true, eps: 1e-5, momentum: 0.1), .relu, .flatten,
            .dense(inFeatures: 72, outFeatures: 10, bias: true),
        ]), seed: 9)
    }

    /// Bytes laid out by hand from the format description: header length, JSON, little-endian data.
    func testDecodesHandMadeFile() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}"#
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(contentsOf: [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])  // 1.0, -2.0
        d.append(contentsOf: [7, 0, 0, 0, 0, 0, 0, 0])
        let (t, _) = try Safetensors.decode(d, path: "hand.safetensors")
        guard case .float(let a)? = t["a"] else { return XCTFail("a missing") }
        XCTAssertEqual(a.scalars, [1, -2])
        XCTAssertEqual(t["n"], .int64(7))
    }

    func testEncodeLayout() throws {
        let data = try Safetensors.encode([("x", .float(Tensor(shape: [1, 2], values: [0.5, 3])))], metadata: ["k": "v"])
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual(n % 8, 0)
        let json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + n)) as! [String: Any]
        let x = json["x"] as! [String: Any]
        XCTAssertEqual(x["dtype"] as? String, "F32")
        XCTAssertEqual(x["shape"] as? [Int], [1, 2])
        XCTAssertEqual(x["data_offsets"] as? [Int], [0, 8])
        XCTAssertEqual((json["__metadata__"] as? [String: String])?["k"], "v")
        XCTAssertEqual(Array(data.suffix(8)), [0, 0, 0, 0x3F, 0, 0, 0x40, 0x40])
    }

    func testModelRoundTripWithPyTorchNames() throws {
        let m = try bnModel()
        var rng = TestRNG(30)
        _ = m.forward(rng.tensor([4, 1, 8, 8]), ForwardContext(training: true))   // move BN running stats
        try ModelDirectory.save(m, to: dir)
        let (t, _) = try Safetensors.read(path: dir + "/model.safetensors")
        XCTAssertEqual(Set(t.keys), ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                     "1.num_batches_tracked", "4.weight", "4.bias"])
        XCTAssertEqual(t["0.weight"]?.shape, [2, 1, 3, 3])
        XCTAssertEqual(t["4.weight"]?.shape, [10, 72])
        XCTAssertEqual(t["1.num_batches_tracked"], .int64(1))
        let back = try ModelDirectory.load(dir)
        XCTAssertEqual(back.spec, m.spec)
        let x = rng.tensor([3, 1, 8, 8])
        XCTAssertTrue(back.predict(x).bitwiseEqual(m.predict(x)))
    }

    func expectError(_ body: () throws -> Void, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch {
            let text = "\(error)"
            for p in parts { XCTAssertTrue(text.contains(p), "'\(text)' lacks '\(p)'", file: file, line: line) }
        }
    }

    func testCorruptFiles() throws {
        let m = try bnModel()
        try ModelDirectory.save(m, to: dir)
        let path = dir + "/model.safetensors"
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        // Truncated data.
        try good.prefix(good.count - 10).write(to: URL(fileURLWithPath: path))
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["model.safetensors", "truncated"])
        // Truncated inside the length field.
        try good.prefix(5).write(to: URL(fileURLWithPath: path))
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["model.safetensors", "8-byte header"])
        // Header length pointing past the end.
        var bad = good
        bad.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0])
        try bad.write(to: URL(fileURLWithPath: path))
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["model.safetensors", "header length"])
        // Garbage JSON.
        bad = good
        bad[8] = UInt8(ascii: "#")
        try bad.write(to: URL(fileURLWithPath: path))
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["model.safetensors", "JSON"])
        // Missing file.
        try FileManager.default.removeItem(atPath: path)
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["model.safetensors", "cannot read"])
    }

    func testWrongShapeMissingAndExtraTensors() throws {
        let m = try bnModel()
        try ModelDirectory.save(m, to: dir)
        let path = dir + "/model.safetensors"
        var state = m.stateDict()
        let i = state.firstIndex { $0.key == "4.weight" }!
        state[i].value = .float(Tensor(zeros: [72, 10]))
        try Safetensors.write(state, to: path)
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["model.safetensors", "'4.weight'", "[72, 10]", "[10, 72]"])
        try Safetensors.write(m.stateDict().filter { $0.key != "0.bias" }, to: path)
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["missing tensor '0.bias'"])
        try Safetensors.write(m.stateDict() + [(key: "7.weight", value: .float(Tensor(zeros: [1])))], to: path)
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["unexpected tensor '7.weight'"])
        // A bad architecture file names the file.
        try Data(#"{"input_shape": [1, 8, 8], "layers": [{"type": "conv3d"}]}"#.utf8).write(to: URL(fileURLWithPath: dir + "/model.json"))
        expectError({ _ = try ModelDirectory.load(dir) }, contains: ["model.json", "unknown layer type 'conv3d'"])
    }
}
