import ANN
import Foundation
import SwiftProtobuf
import XCTest
@testable import ONNX

/// Bad ONNX files get one clear error naming the file (and the node and op type where there is one);
/// never a crash. Variants are made from the fixtures by editing the decoded protobuf.
final class ONNXBadFileTests: XCTestCase {
    func load(_ name: String) throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
    }

    /// Writes `model` as `name` into `dir` and imports it, expecting an error containing every string in `want`.
    func expectError(_ model: Onnx_ModelProto, in dir: String, as name: String = "bad.onnx", _ want: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let path = "\(dir)/\(name)"
        try model.serializedData().write(to: URL(fileURLWithPath: path))
        try expectError(path: path, want, file: file, line: line)
    }

    func expectError(path: String, _ want: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        do {
            _ = try ONNXImporter.importFile(path)
            XCTFail("\(path) was imported; expected an error with \(want)", file: file, line: line)
        } catch let e as ONNXError {
            for w in want + [path] {
                XCTAssertTrue(e.description.contains(w), "'\(e.description)' lacks '\(w)'", file: file, line: line)
            }
        }
    }

    func nodeIndex(_ m: Onnx_ModelProto, _ op: String) -> Int { m.graph.node.firstIndex { $0.opType == op }! }

    func testUnsupportedOpNamesNodeAndOp() throws {
        let dir = try Fixtures.scratch(self)
        var m = try load("vgg-torchscript.onnx")
        let i = nodeIndex(m, "Relu")
        m.graph.node[i].opType = "Selu"
        try expectError(m, in: dir, ["node '\(m.graph.node[i].name)' (Selu)", "op type Selu is not supported"])
        var g = try load("resnet-dynamo.onnx")
        let c = nodeIndex(g, "Conv")
        g.graph.node[c].attribute.append(.with { $0.name = "group"; $0.type = .int; $0.i = 2 })
        g.graph.node[c].attribute.removeAll { $0.name == "group" && $0.i == 1 }
        try FileManager.default.copyItem(atPath: Fixtures.path("resnet-dynamo.onnx.data"), toPath: "\(dir)/resnet-dynamo.onnx.data")
        try expectError(g, in: dir, ["node '\(g.graph.node[c].name)' (Conv)", "group 2"])
        var o = try load("vgg-torchscript.onnx")
        o.opsetImport = [.with { $0.domain = ""; $0.version = 11 }]
        try expectError(o, in: dir, ["opset 11 is not supported"])
    }

    func testNaNWeightsNameTheTensor() throws {
        let dir = try Fixtures.scratch(self)
        var m = try load("vgg-torchscript.onnx")
        let k = m.graph.initializer.firstIndex { $0.name == "features.4.weight" }!
        var raw = [UInt8](m.graph.initializer[k].rawData)
        let nan = Float.nan.bitPattern
        for b in 0..<4 { raw[40 + b] = UInt8((nan >> (8 * UInt32(b))) & 0xff) }
        m.graph.initializer[k].rawData = Data(raw)
        try expectError(m, in: dir, ["(Conv)", "features.4.weight", "NaN at index 10"])
    }

    func testShapesThatDoNotChain() throws {
        let dir = try Fixtures.scratch(self)
        var m = try load("resnet-torchscript.onnx")
        // the classifier expects 17 features, the pooled map has 16
        let k = m.graph.initializer.firstIndex { $0.name == "fc.weight" }!
        m.graph.initializer[k] = .with { $0.name = "fc.weight"; $0.dataType = 1; $0.dims = [10, 17]; $0.floatData = [Float](repeating: 0.1, count: 170) }
        try expectError(m, in: dir, ["(Gemm)", "expects 17 input features, but its input has 16"])
        // a raw_data size that does not match the dims
        var t = try load("resnet-torchscript.onnx")
        let j = t.graph.initializer.firstIndex { $0.name == "fc.bias" }!
        t.graph.initializer[j].rawData = t.graph.initializer[j].rawData.prefix(12)
        try expectError(t, in: dir, ["fc.bias", "holds 12 bytes of float32 data, expected 40"])
    }

    func testTruncatedFlippedAndForeignFiles() throws {
        let dir = try Fixtures.scratch(self)
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("vgg-torchscript.onnx")))
        let cut = "\(dir)/cut.onnx"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        try expectError(path: cut, ["not a valid ONNX model", "ends in the middle of a field"])
        let zip = "\(dir)/model.pt"
        try Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 60)).write(to: URL(fileURLWithPath: zip))
        try expectError(path: zip, ["zip archive", "torch.onnx.export"])
        let text = "\(dir)/notes.onnx"
        try Data("hello, this is not a model\n".utf8).write(to: URL(fileURLWithPath: text))
        try expectError(path: text, ["ONNX model"])
        try Data().write(to: URL(fileURLWithPath: text))
        try expectError(path: text, ["empty"])
        // a flipped byte anywhere: a clean ONNXError or a model, never a crash (every 37th byte)
        var errors = 0
        for pos in stride(from: 0, to: data.count, by: 37) {
            var d = data
            d[pos] ^= 0xff
            do { _ = try ONNXImporter.importData(d, path: "\(dir)/flipped.onnx") } catch is ONNXError { errors += 1 }
        }
        XCTAssertGreaterThan(errors, 0)
        // a flip inside the op type of the first Relu is refused naming the node
        var m = try load("vgg-torchscript.onnx")
        let i = nodeIndex(m, "Relu")
        m.graph.node[i].opType = "Rel\u{75}".replacingOccurrences(of: "u", with: "\u{8a}")
        XCTAssertThrowsError(try ONNXImporter.importData(try m.serializedData(), path: "x.onnx")) { e in
            XCTAssertTrue("\(e)".contains("node '\(m.graph.node[i].name)'"), "\(e)")
        }
    }

    func testExternalDataMustStayInTheModelsFolder() throws {
        let dir = try Fixtures.scratch(self)
        try FileManager.default.createDirectory(atPath: "\(dir)/model", withIntermediateDirectories: true)
        let m = try load("resnet-dynamo.onnx")
        // missing data file: the error says which file and what to do
        try expectError(m, in: "\(dir)/model", as: "resnet.onnx", ["resnet-dynamo.onnx.data", "beside the model"])
        // a location that climbs out of the folder, and an absolute one
        var up = m
        for k in up.graph.initializer.indices where up.graph.initializer[k].dataLocation == .external {
            for e in up.graph.initializer[k].externalData.indices where up.graph.initializer[k].externalData[e].key == "location" {
                up.graph.initializer[k].externalData[e].value = "../resnet-dynamo.onnx.data"
            }
        }
        try FileManager.default.copyItem(atPath: Fixtures.path("resnet-dynamo.onnx.data"), toPath: "\(dir)/resnet-dynamo.onnx.data")
        try expectError(up, in: "\(dir)/model", ["'../resnet-dynamo.onnx.data' is outside the model's folder"])
        var abs = up
        for k in abs.graph.initializer.indices where abs.graph.initializer[k].dataLocation == .external {
            for e in abs.graph.initializer[k].externalData.indices where abs.graph.initializer[k].externalData[e].key == "location" {
                abs.graph.initializer[k].externalData[e].value = "\(dir)/resnet-dynamo.onnx.data"
            }
        }
        try expectError(abs, in: "\(dir)/model", ["is outside the model's folder"])
        // a symlink inside the folder that points outside it
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/model/resnet-dynamo.onnx.data", withDestinationPath: "\(dir)/resnet-dynamo.onnx.data")
        try expectError(m, in: "\(dir)/model", ["resolves outside the model's folder"])
        // the same files side by side import, and a truncated data file is refused
        try m.serializedData().write(to: URL(fileURLWithPath: "\(dir)/ok.onnx"))
        XCTAssertNoThrow(try ONNXImporter.importFile("\(dir)/ok.onnx"))
        let d = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/resnet-dynamo.onnx.data"))
        try d.prefix(d.count - 100).write(to: URL(fileURLWithPath: "\(dir)/resnet-dynamo.onnx.data"))
        try expectError(path: "\(dir)/ok.onnx", ["lie outside resnet-dynamo.onnx.data"])
    }

    func testGraphsThatAreNotChainsOrBlocks() throws {
        let dir = try Fixtures.scratch(self)
        // the residual Add fed by the block input twice: it adds two unrelated chains
        var m = try load("resnet-torchscript.onnx")
        let add = nodeIndex(m, "Add")
        m.graph.node[add].input[0] = m.graph.node[add].input[1]
        try expectError(m, in: dir, ["ends without reaching the Add"])
        // a second graph input
        var two = try load("vgg-torchscript.onnx")
        two.graph.input.append(two.graph.input[0])
        two.graph.input[1].name = "other"
        try expectError(two, in: dir, ["2 inputs"])
        // an input with a dynamic image size, without --input-shape
        var dyn = try load("vgg-torchscript.onnx")
        dyn.graph.input[0].type.tensorType.shape.dim[2] = .with { $0.dimParam = "height" }
        try expectError(dyn, in: dir, ["dynamic sizes", "--input-shape"])
        XCTAssertNoThrow(try ONNXImporter.importData(try dyn.serializedData(), path: "\(dir)/dyn.onnx", options: ONNXImportOptions(inputShape: [1, 28, 28])))
    }

    /// A model exported for a fixed batch reshapes to [batch, -1]: a flatten; another leading size is refused.
    func testReshapeWithAFixedBatch() throws {
        let dir = try Fixtures.scratch(self)
        try FileManager.default.copyItem(atPath: Fixtures.path("vgg-dynamo.onnx.data"), toPath: "\(dir)/vgg-dynamo.onnx.data")
        var m = try load("vgg-dynamo.onnx")
        m.graph.input[0].type.tensorType.shape.dim[0] = .with { $0.dimValue = 1 }
        let k = m.graph.initializer.firstIndex { $0.name == "val_17" }!
        m.graph.initializer[k] = .with { $0.name = "val_17"; $0.dataType = 7; $0.dims = [2]; $0.int64Data = [1, -1] }
        try m.serializedData().write(to: URL(fileURLWithPath: "\(dir)/b1.onnx"))
        let r = try ONNXImporter.importFile("\(dir)/b1.onnx")
        let (xs, x) = try Fixtures.npy("images.npy")
        let (_, want) = try Fixtures.npy("vgg-logits.npy")
        XCTAssertLessThanOrEqual(zip(r.model.predict(Tensor(shape: xs, values: x)).scalars, want).map { abs($0 - $1) }.max()!, 1e-4)
        m.graph.initializer[k].int64Data = [3, -1]
        try expectError(m, in: dir, ["(Reshape)", "reshapes to [3, -1]"])
    }

    /// Weights passed through an Identity node (shared weights) are constants; a node off the path is refused.
    func testIdentityOfAWeightAndDanglingNodes() throws {
        let dir = try Fixtures.scratch(self)
        var m = try load("resnet-torchscript.onnx")
        let g = nodeIndex(m, "Gemm")
        m.graph.node.insert(.with { $0.opType = "Identity"; $0.name = "share"; $0.input = ["fc.weight"]; $0.output = ["fc.weight.shared"] }, at: 0)
        m.graph.node[g + 1].input[1] = "fc.weight.shared"
        let r = try ONNXImporter.importData(try m.serializedData(), path: "\(dir)/id.onnx")
        let (xs, x) = try Fixtures.npy("images.npy")
        let (_, want) = try Fixtures.npy("resnet-logits.npy")
        XCTAssertLessThanOrEqual(zip(r.model.predict(Tensor(shape: xs, values: x)).scalars, want).map { abs($0 - $1) }.max()!, 1e-4)
        m.graph.node.append(.with { $0.opType = "Relu"; $0.name = "stray"; $0.input = ["nowhere"]; $0.output = ["nothing"] })
        try expectError(m, in: dir, ["node 'stray' (Relu)", "is not on the path"])
    }
}
