import ANN
import Foundation
import SwiftProtobuf
import XCTest
@testable import ONNX

/// MaxPool with pads (the ResNet stem's kernel 3, stride 2, pads 1) imports as a padded max pooling;
/// pads beyond half the kernel and a padded AveragePool are refused naming the node.
final class ONNXPaddedPoolTests: XCTestCase {
    func load(_ name: String) throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
    }

    func set(_ m: inout Onnx_ModelProto, node i: Int, _ name: String, _ v: [Int64]) {
        m.graph.node[i].attribute.removeAll { $0.name == name }
        m.graph.node[i].attribute.append(.with { $0.name = name; $0.type = .ints; $0.ints = v })
    }

    func testPaddedMaxPoolImportsAndEvaluates() throws {
        let dir = try Fixtures.scratch(self)
        var m = try load("vgg-torchscript.onnx")
        let i = m.graph.node.firstIndex { $0.opType == "MaxPool" }!
        // kernel 3, stride 2, pads 1 on an even map gives the same output size as the exported 2x2 pooling
        set(&m, node: i, "kernel_shape", [3, 3]); set(&m, node: i, "strides", [2, 2]); set(&m, node: i, "pads", [1, 1, 1, 1])
        let path = "\(dir)/padded.onnx"
        try m.serializedData().write(to: URL(fileURLWithPath: path))
        let padded = try ONNXImporter.importFile(path).model
        let plain = try ONNXImporter.importFile(Fixtures.path("vgg-torchscript.onnx")).model
        let k = plain.spec.layers.firstIndex { $0.typeName == "maxpool2d" }!
        XCTAssertEqual(padded.spec.layers[k], .maxPool2d(kernel: Size2(3), stride: Size2(2), padding: Size2(1)))
        // the same network as the plain import with that one layer swapped: the pads reached the layer
        var layers = plain.layers
        layers[k] = MaxPool2D(kernel: Size2(3), stride: Size2(2), padding: Size2(1))
        let swapped = try Sequential(inputShape: plain.inputShape, layers: layers, normalization: plain.normalization, classes: plain.classes)
        let (xs, x) = try Fixtures.npy("images.npy")
        let a = padded.predict(Tensor(shape: xs, values: x)), b = swapped.predict(Tensor(shape: xs, values: x))
        XCTAssertTrue(a.bitwiseEqual(b))
        XCTAssertFalse(a.bitwiseEqual(plain.predict(Tensor(shape: xs, values: x))), "a 3x3 window differs from the exported 2x2 one")

        set(&m, node: i, "pads", [2, 2, 2, 2])
        try m.serializedData().write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ONNXImporter.importFile(path)) {
            XCTAssertTrue("\($0)".contains("(MaxPool)") && "\($0)".contains("more than half the kernel") && "\($0)".contains(path), "\($0)")
        }
        var avg = try load("vgg-torchscript.onnx")
        avg.graph.node[i].opType = "AveragePool"
        set(&avg, node: i, "pads", [1, 1, 1, 1]); set(&avg, node: i, "kernel_shape", [3, 3])
        try avg.serializedData().write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ONNXImporter.importFile(path)) {
            XCTAssertTrue("\($0)".contains("(AveragePool)") && "\($0)".contains("padded average pooling"), "\($0)")
        }
    }
}
