@testable import ANN
import Foundation
import XCTest

/// Model folders corrupted one way at a time: each is a valid folder written by `ModelDirectory.save`
/// (round trip checked first), then one change to model.json or model.safetensors; the load must
/// fail with one message naming the file and the key or tensor, never trap or read out of bounds.
final class ModelFileValidationTests: XCTestCase {
    var dir: String!
    var specPath: String { dir + "/model.json" }
    var weightsPath: String { dir + "/model.safetensors" }

    /// conv(1->2, 3x3) - batchnorm2d - relu - avgpool 2 - flatten - dense(18->3): every kind of tensor.
    static let spec = ModelSpec(inputShape: [1, 8, 8], layers: [
        .conv2d(inChannels: 1, outChannels: 2, kernel: Size2(3), stride: Size2(1), padding: Size2(0), bias: true),
        .batchNorm(features: 2, spatial: true, eps: 1e-5, momentum: 0.1), .relu,
        .avgPool2d(kernel: Size2(2), stride: Size2(2)), .flatten,
        .dense(inFeatures: 18, outFeatures: 3, bias: true),
    ], normalization: .fashionMNIST, classes: 3)

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nm-modelval-\(UUID().uuidString)"
        let m = try Sequential(spec: Self.spec, seed: 4)
        var rng = TestRNG(8)
        _ = m.forward(rng.tensor([5, 1, 8, 8]), ForwardContext(training: true))   // non-trivial BN statistics
        try ModelDirectory.save(m, to: dir)
        let back = try ModelDirectory.load(dir)
        let x = rng.tensor([2, 1, 8, 8])
        XCTAssertTrue(back.predict(x).bitwiseEqual(m.predict(x)), "the unmodified folder round-trips")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func expectLoadError(_ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ModelDirectory.load(dir)
            XCTFail("expected the load to fail with \(parts)", file: file, line: line)
        } catch {
            let text = "\(error)"
            for p in parts { XCTAssertTrue(text.contains(p), "'\(text)' lacks '\(p)'", file: file, line: line) }
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
        }
    }

    // MARK: model.json

    func editSpec(_ edit: (inout [String: Any]) -> Void) throws {
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: specPath))) as! [String: Any]
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: specPath))
    }

    func editLayer(_ i: Int, _ edit: @escaping (inout [String: Any]) -> Void) throws {
        try editSpec { obj in
            var layers = obj["layers"] as! [[String: Any]]
            edit(&layers[i])
            obj["layers"] = layers
        }
    }

    func testArchitectureCorruptionsNameFileAndKey() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: specPath))
        let cases: [(String, () throws -> Void, [String])] = [
            ("stride 0", { try self.editLayer(0) { $0["stride"] = [0, 1] } }, ["layer 0 (conv2d)", "stride must be > 0, found 0"]),
            ("kernel 0", { try self.editLayer(3) { $0["kernel_size"] = [0, 0] } }, ["layer 3 (avgpool2d)", "kernel_size must be > 0"]),
            ("negative padding", { try self.editLayer(0) { $0["padding"] = [-1, 0] } }, ["layer 0 (conv2d)", "padding"]),
            ("huge size", { try self.editLayer(5) { $0["out_features"] = 1 << 40 } }, ["layer 5 (dense)", "out_features must be at most"]),
            ("huge padding", { try self.editLayer(0) { $0["padding"] = [1 << 62, 1 << 62] } }, ["layer 0 (conv2d)", "padding"]),
            ("shapes do not chain", { try self.editLayer(5) { $0["in_features"] = 17 } }, ["layer 5 (dense)", "expects 17 input features, got shape [18]"]),
            ("batchnorm channels", { try self.editLayer(1) { $0["num_features"] = 3 } }, ["layer 1 (batchnorm2d)", "3 channels"]),
            ("eps 0", { try self.editLayer(1) { $0["eps"] = 0 } }, ["layer 1 (batchnorm2d)", "eps"]),
            ("dropout p", { try self.editLayer(2) { $0 = ["type": "dropout", "p": 1.0] } }, ["dropout p must be in [0, 1)"]),
            ("std 0", { try self.editSpec { $0["normalization"] = ["scale": 1.0 / 255, "mean": 0.3, "std": 0.0] } }, ["normalization", "std must be a finite number > 0, found 0.0"]),
            ("negative std", { try self.editSpec { $0["normalization"] = ["scale": 1.0 / 255, "mean": 0.3, "std": -2.0] } }, ["std must be", "-2.0"]),
            ("classes vs output", { try self.editSpec { $0["classes"] = 4 } }, ["the last layer (5, dense) outputs [3]", "[4]"]),
            ("one class", { try self.editSpec { $0["classes"] = 1 } }, ["classes must be in 2..."]),
            ("output not flat", { try self.editSpec { obj in
                var layers = obj["layers"] as! [[String: Any]]
                layers.removeLast(2)
                obj["layers"] = layers
            } }, ["outputs [2, 3, 3]", "single output must be [3]"]),
            ("input rank 2", { try self.editSpec { $0["input_shape"] = [8, 8] } }, ["input_shape must be [features] or [channels, height, width]"]),
            ("input zero", { try self.editSpec { $0["input_shape"] = [1, 0, 8] } }, ["input_shape sizes must be in 1..."]),
            ("no layers", { try self.editSpec { $0["layers"] = [] as [Any] } }, ["at least one layer"]),
            ("huge input", { try self.editSpec { $0["input_shape"] = [1, 1 << 40, 8] } }, ["input_shape sizes must be in 1..."]),
            ("not a number", { try self.editSpec { $0["classes"] = "ten" } }, ["classes"]),
        ]
        for (name, corrupt, parts) in cases {
            try good.write(to: URL(fileURLWithPath: specPath))
            try corrupt()
            expectLoadError(["model.json"] + parts)
            _ = name
        }
    }

    // MARK: model.safetensors

    /// Splits the file into its JSON header and data, lets `edit` change them, writes it back.
    func editWeights(_ edit: (inout [String: Any], inout Data) -> Void) throws {
        let d = try Data(contentsOf: URL(fileURLWithPath: weightsPath))
        let n = Int(d.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try JSONSerialization.jsonObject(with: d.subdata(in: 8..<8 + n)) as! [String: Any]
        var body = d.subdata(in: 8 + n..<d.count)
        edit(&header, &body)
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        try (out + json + body).write(to: URL(fileURLWithPath: weightsPath))
    }

    func setEntry(_ key: String, _ field: String, _ value: Any) throws {
        try editWeights { h, _ in
            var e = h[key] as! [String: Any]
            e[field] = value
            h[key] = e
        }
    }

    /// Overwrites element `index` of float tensor `key` in place.
    func setFloat(_ key: String, _ index: Int, _ value: Float) throws {
        try editWeights { h, body in
            let begin = ((h[key] as! [String: Any])["data_offsets"] as! [Int])[0] + 4 * index
            withUnsafeBytes(of: value.bitPattern.littleEndian) { body.replaceSubrange(begin..<begin + 4, with: $0) }
        }
    }

    func testSafetensorsHeaderCorruptionsNameFileAndTensor() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: weightsPath))
        let cases: [(() throws -> Void, [String])] = [
            ({ try self.setEntry("5.weight", "shape", [4294967296, 4294967296, 4294967296]) }, ["'5.weight'", "more elements than any file can hold"]),
            ({ try self.setEntry("5.weight", "shape", [-3, 18]) }, ["'5.weight'", "not a list of sizes"]),
            ({ try self.setEntry("5.weight", "shape", [3.5, 18]) }, ["'5.weight'", "not a list of sizes"]),
            ({ try self.setEntry("5.bias", "data_offsets", [0, 12]) }, ["overlap"]),
            ({ try self.setEntry("5.bias", "data_offsets", [1 << 60, (1 << 60) + 12]) }, ["'5.bias'", "data_offsets", "within the data"]),
            ({ try self.setEntry("5.bias", "data_offsets", [-12, 0]) }, ["'5.bias'", "data_offsets"]),
            ({ try self.setEntry("5.bias", "data_offsets", [1e300, 1e300]) }, ["'5.bias'", "data_offsets"]),
            ({ try self.setEntry("5.bias", "dtype", "F16") }, ["'5.bias'", "dtype F16"]),
            ({ try self.setEntry("5.bias", "shape", [4]) }, ["'5.bias'", "needs 16 bytes", "give 12"]),
            ({ try self.editWeights { h, b in b.append(contentsOf: [0, 0, 0, 0]) } }, ["4 bytes after the last tensor"]),
        ]
        for (corrupt, parts) in cases {
            try good.write(to: URL(fileURLWithPath: weightsPath))
            try corrupt()
            expectLoadError(["model.safetensors"] + parts)
        }
    }

    func testTensorContentsAreCheckedForMeaning() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: weightsPath))
        let cases: [(() throws -> Void, [String])] = [
            ({ try self.setFloat("5.weight", 7, .nan) }, ["tensor '5.weight' (layer 5, dense) holds NaN at index 7 of 54", "finite"]),
            ({ try self.setFloat("0.bias", 1, -.infinity) }, ["tensor '0.bias' (layer 0, conv2d) holds -inf at index 1"]),
            ({ try self.setFloat("1.running_mean", 0, .infinity) }, ["'1.running_mean'", "+inf"]),
            ({ try self.setFloat("1.running_var", 1, -0.5) }, ["'1.running_var'", "variance -0.5 at index 1", ">= 0"]),
            ({ try self.setEntry("1.num_batches_tracked", "dtype", "F32"); try self.setEntry("1.num_batches_tracked", "shape", [2]) },
             ["'1.num_batches_tracked'", "int64 scalar"]),
            // PyTorch's counter is a 0-dimensional tensor; [1] holds the same 8 bytes but is another shape (fuzz model-0281)
            ({ try self.setEntry("1.num_batches_tracked", "shape", [1]) }, ["'1.num_batches_tracked'", "scalars (shape [])", "found shape [1]"]),
            ({ try Safetensors.write(try Sequential(spec: Self.spec, seed: 1).stateDict().filter { $0.key != "1.running_var" }, to: self.weightsPath) },
             ["missing tensor '1.running_var' (layer 1, batchnorm2d, expects float32 [2])"]),
            ({ try self.editWeights { h, _ in
                var e = h["0.bias"] as! [String: Any]
                e["dtype"] = "I64"; e["shape"] = [] as [Int]
                e["data_offsets"] = [(e["data_offsets"] as! [Int])[0], (e["data_offsets"] as! [Int])[0] + 8]
                h["0.bias"] = e
             } }, ["'0.bias'"]),
        ]
        for (corrupt, parts) in cases {
            try good.write(to: URL(fileURLWithPath: weightsPath))
            try corrupt()
            expectLoadError(["model.safetensors"] + parts)
        }
        // nothing built from a refused state: a model keeps its weights when loadState refuses
        let m = try Sequential(spec: Self.spec, seed: 4)
        let before = m.stateDict()
        var state = Dictionary(uniqueKeysWithValues: before.map { ($0.key, $0.value) })
        var w = Tensor(zeros: [3, 18])
        w[flat: 3] = .nan
        state["5.weight"] = .float(w)
        state["0.weight"] = .float(Tensor(zeros: [2, 1, 3, 3]))
        XCTAssertThrowsError(try m.loadState(state, source: "ckpt")) { XCTAssertTrue("\($0)".contains("ckpt: tensor '5.weight'"), "\($0)") }
        XCTAssertTrue(m.stateDict().elementsEqual(before) { $0.key == $1.key && $0.value == $1.value })
    }

    /// The architecture is checked before the weights are read or anything allocated: a model.json
    /// whose layers would need 2^48 floats next to a small weights file is refused by size, at once.
    func testHugeArchitectureIsRefusedBeforeAllocating() throws {
        try editSpec { obj in
            obj["input_shape"] = [1 << 24]
            obj["layers"] = [["type": "dense", "in_features": 1 << 24, "out_features": 1 << 24]]
            obj["classes"] = 1 << 24
        }
        expectLoadError(["model.json", "classes must be in 2..."])
        try editSpec { obj in obj["classes"] = 3; obj["layers"] = [["type": "dense", "in_features": 1 << 24, "out_features": 3]] }
        expectLoadError(["model.safetensors", "'0.weight'", "[3, 16777216]"])
    }

    func testTrainingMemoryEstimateIsOverflowChecked() {
        let huge = ModelSpec(inputShape: [1 << 24], layers: [.dense(inFeatures: 1 << 24, outFeatures: 1 << 24, bias: true)])
        XCTAssertEqual(huge.trainingBytes(batchSize: 1), 4 * (4 * ((1 << 48) + (1 << 24)) + (1 << 24) + 3 * (1 << 24)))
        XCTAssertNil(huge.trainingBytes(batchSize: Int.max / 2), "overflow is nil, not a trap")
        // closed form for a dense 4 -> 3: stored 15 values; per sample 4 inputs + 3 * 3 outputs
        let small = ModelSpec(inputShape: [4], layers: [.dense(inFeatures: 4, outFeatures: 3, bias: true)], classes: 3)
        XCTAssertEqual(small.trainingBytes(batchSize: 2), 4 * (4 * 15 + 2 * (4 + 9)))
    }
}
