import ANN
import Common
import Datasets
import Foundation
import XCTest
@testable import ONNX

/// The committed fixtures (Tests/ONNXTests/Fixtures, made by experiments/onnx-models/make_fixtures.py
/// with PyTorch): each network exported by both PyTorch exporters, 16 test images and PyTorch's logits.
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static func path(_ name: String) -> String { "\(folder)/\(name)" }
    static let models = ["resnet-torchscript", "resnet-dynamo", "vgg-torchscript", "vgg-dynamo"]

    static func npy(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let a = try NPY.decode(try Data(contentsOf: URL(fileURLWithPath: path(name))), path: name)
        return (a.shape, a.doubles.map(Float.init))
    }

    /// A scratch folder removed after the test.
    static func scratch(_ test: XCTestCase) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}

final class ONNXImportTests: XCTestCase {
    /// Eval-mode logits of every imported fixture equal PyTorch's (max abs difference <= 1e-4), for
    /// both exporters (TorchScript opset 17 with BatchNormalization nodes, torch.export opset 18 with
    /// external data, ReduceMean, Reshape, Clip, MatMul + Add).
    func testFixturesReproducePyTorchLogits() throws {
        let (xs, x) = try Fixtures.npy("images.npy")
        for name in Fixtures.models {
            let r = try ONNXImporter.importFile(Fixtures.path("\(name).onnx"))
            let (ls, want) = try Fixtures.npy("\(name.split(separator: "-")[0])-logits.npy")
            XCTAssertEqual(r.model.inputShape, [1, 28, 28], name)
            XCTAssertEqual(r.inputShapeSource, "graph")
            let y = r.model.predict(Tensor(shape: xs, values: x), threads: 2)
            XCTAssertEqual(y.shape, ls, name)
            let diff = zip(y.scalars, want).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(diff, 1e-4, "\(name): max |logit - PyTorch| = \(diff)")
        }
    }

    /// The graph structure: residual blocks (identity and 1x1-conv shortcuts), BatchNormalization kept
    /// (TorchScript without constant folding) or folded (torch.export), ReduceMean -> globalavgpool +
    /// flatten, Clip(0, 6) -> clip, MatMul + Add -> one dense layer with bias.
    func testImportedArchitecture() throws {
        let ts = try ONNXImporter.importFile(Fixtures.path("resnet-torchscript.onnx")).model.spec
        XCTAssertEqual(ts.layers.map(\.typeName), ["conv2d", "batchnorm2d", "relu", "residual", "relu", "residual", "relu", "globalavgpool", "flatten", "dense"])
        guard case let .residual(b1, s1) = ts.layers[3], case let .residual(b2, s2) = ts.layers[5] else { return XCTFail("no residual blocks") }
        XCTAssertEqual(b1.map(\.typeName), ["conv2d", "batchnorm2d", "relu", "conv2d", "batchnorm2d"])
        XCTAssertTrue(s1.isEmpty)
        XCTAssertEqual(s2.map(\.typeName), ["conv2d", "batchnorm2d"])
        XCTAssertEqual(b2.first, .conv2d(inChannels: 8, outChannels: 16, kernel: Size2(3), stride: Size2(2), padding: Size2(1), bias: false))
        let dy = try ONNXImporter.importFile(Fixtures.path("resnet-dynamo.onnx"))
        XCTAssertEqual(dy.opset, 18)
        XCTAssertEqual(dy.model.spec.layers.map(\.typeName), ["conv2d", "relu", "residual", "relu", "residual", "relu", "globalavgpool", "flatten", "dense"])
        let vgg = try ONNXImporter.importFile(Fixtures.path("vgg-dynamo.onnx")).model.spec
        XCTAssertEqual(vgg.layers[1], .clip(min: 0, max: 6))
        XCTAssertEqual(vgg.layers.last, .dense(inFeatures: 32, outFeatures: 10, bias: true))
        // the imported model round-trips through model.json + safetensors with the same outputs
        let dir = try Fixtures.scratch(self)
        let m = try ONNXImporter.importFile(Fixtures.path("resnet-torchscript.onnx")).model
        try ModelDirectory.save(m, to: dir)
        let back = try ModelDirectory.load(dir)
        let (xs, x) = try Fixtures.npy("images.npy")
        XCTAssertTrue(back.predict(Tensor(shape: xs, values: x)).bitwiseEqual(m.predict(Tensor(shape: xs, values: x))))
    }

    func testInputShapeAndNormalizationOptions() throws {
        let r = try ONNXImporter.importFile(Fixtures.path("vgg-torchscript.onnx"),
                                            options: ONNXImportOptions(inputShape: [1, 28, 28], normalization: .fashionMNIST))
        XCTAssertEqual(r.inputShapeSource, "flag")
        XCTAssertEqual(r.model.normalization, .fashionMNIST)
        XCTAssertThrowsError(try ONNXImporter.importFile(Fixtures.path("vgg-torchscript.onnx"), options: ONNXImportOptions(inputShape: [1, 32, 32]))) { e in
            XCTAssertTrue("\(e)".contains("size 28 in dimension 2, --input-shape says 32"), "\(e)")
        }
    }
}
