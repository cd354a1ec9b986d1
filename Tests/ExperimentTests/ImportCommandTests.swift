import Foundation
import XCTest

/// `neuromorph import` end to end: the model folder it writes (with the output marker), its refusal of
/// bad files without leaving anything behind, and eval / convert / compare on an imported model.
final class ImportCommandTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ONNXTests/Fixtures")
    var tmp: URL!

    struct CLI {
        func run(_ args: [String]) throws -> ToolResult { try runProcess(CommandLineTests.binary, args) }
    }
    let cli = CLI()

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path), "neuromorph binary not built")
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let tmp { try? FileManager.default.removeItem(at: tmp) } }

    func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    func testImportWritesAModelFolderAndRefusesBadFilesWithoutOutput() throws {
        let out = tmp.appendingPathComponent("vgg").path
        let r = try cli.run(["import", fixture("vgg-dynamo.onnx"), "--out", out, "--mean", "0.286", "--std", "0.353"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("opset 18"), r.out)
        XCTAssertTrue(r.out.contains("normalization mean 0.286 std 0.353 (flag)"), r.out)
        for f in ["model.json", "model.safetensors", ".neuromorph-output"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(f)"), f)
        }
        let marker = try String(contentsOfFile: "\(out)/.neuromorph-output", encoding: .utf8)
        XCTAssertTrue(marker.contains("\"import\""), marker)
        // an existing output needs --force, and only an import's output is replaced
        let again = try cli.run(["import", fixture("vgg-dynamo.onnx"), "--out", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("--force"), again.err)
        XCTAssertEqual(try cli.run(["import", fixture("vgg-dynamo.onnx"), "--out", out, "--force"]).status, 0)

        // an unsupported op (every "Relu" renamed "Relx"): error naming the node, no folder left
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("vgg-torchscript.onnx"))))
        let relu = Array("Relu".utf8)
        for i in 0..<(bytes.count - 4) where Array(bytes[i..<(i + 4)]) == relu { bytes[i + 3] = UInt8(ascii: "x") }
        let bad = tmp.appendingPathComponent("bad.onnx").path
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        let badOut = tmp.appendingPathComponent("bad").path
        let e = try cli.run(["import", bad, "--out", badOut])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.err.contains("bad.onnx: node '/features/features.5/Relx' (Relx): op type Relx is not supported"), e.err)
        XCTAssertEqual(e.err.split(separator: "\n").count, 1, e.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badOut))
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.contains("partial") }
        XCTAssertEqual(left, [], "staging folders left behind")
        // usage errors
        let shape = try cli.run(["import", fixture("vgg-dynamo.onnx"), "--out", badOut, "--input-shape", "1,x,28"])
        XCTAssertEqual(shape.status, 2)
        XCTAssertTrue(shape.err.contains("--input-shape must be C,H,W"), shape.err)
        let std = try cli.run(["import", fixture("vgg-dynamo.onnx"), "--out", badOut, "--std", "0"])
        XCTAssertEqual(std.status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badOut))
    }

    /// An imported residual network goes through eval, convert and compare (Fashion-MNIST, few images).
    func testImportedResNetEvaluatesConvertsAndCompares() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"), "Fashion-MNIST not installed")
        let model = tmp.appendingPathComponent("resnet").path
        XCTAssertEqual(try cli.run(["import", fixture("resnet-torchscript.onnx"), "--out", model, "--mean", "0.286", "--std", "0.353"]).status, 0)
        let ev = try cli.run(["eval", model, "--limit", "16", "--outputs", tmp.appendingPathComponent("logits.npy").path])
        XCTAssertEqual(ev.status, 0, ev.err)
        let snn = tmp.appendingPathComponent("snn").path
        let cv = try cli.run(["convert", model, "--out", snn, "--calibration", "100", "--threads", "2"])
        XCTAssertEqual(cv.status, 0, cv.err)
        XCTAssertTrue(cv.out.contains("L3_add"), cv.out)
        let cmp = try cli.run(["compare", model, snn, "--out", tmp.appendingPathComponent("cmp").path, "--limit", "20", "--timesteps", "8,32", "--threads", "2"])
        XCTAssertEqual(cmp.status, 0, cmp.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("cmp/report.json").path))
    }
}
