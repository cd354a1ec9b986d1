import ANN
import Datasets
import Foundation
import XCTest

/// `compare --energy-model`: unknown names are refused before anything is read; a QCFS model trained,
/// converted (without reading any data) and compared through the CLI reports the recipe, the requested profiles in order with their
/// sources, and energies that follow the documented formula from the report's own counts.
final class EnergyProfileCLITests: XCTestCase {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("neuromorph")
    }
    var tmp: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.binary.path), "neuromorph binary not built (run swift build --build-tests)")
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-energy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let tmp { try? FileManager.default.removeItem(at: tmp) } }

    func run(_ args: [String]) throws -> ToolResult { try runProcess(Self.binary, args) }

    func testUnknownProfileIsRefused() throws {
        let out = tmp.appendingPathComponent("o").path
        let r = try run(["compare", tmp.appendingPathComponent("model").path, "--energy-model", "loihi,truenorth", "--out", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--energy-model") && r.err.contains("'truenorth'") && r.err.contains("horowitz45, lemaire22, loihi"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testQCFSModelThroughTrainAndCompare() throws {
        // tiny IDX folder: 8x8 images, 3 classes
        let d = tmp.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        let labels: [UInt8] = (0..<60).map { UInt8($0 % 3) }
        var px = [UInt8](repeating: 0, count: 60 * 64)
        for (i, l) in labels.enumerated() { for x in 0..<8 { px[i * 64 + Int(l) * 16 + x] = 255 }; px[i * 64 + (i * 7) % 64] = UInt8((i * 37) % 256) }
        for split in ["train", "t10k"] {
            try IDXFile.encode(type: .uint8, shape: [60, 8, 8], payload: Data(px)).write(to: d.appendingPathComponent("\(split)-images-idx3-ubyte"))
            try IDXFile.encode(type: .uint8, shape: [60], payload: Data(labels)).write(to: d.appendingPathComponent("\(split)-labels-idx1-ubyte"))
        }
        let cfg = tmp.appendingPathComponent("q.yaml")
        try """
            data: {folder: \(d.path), normalize: unit}
            model:
              input: [1, 8, 8]
              classes: 3
              layers:
                - conv2d: {out: 4, kernel: 3}
                - qcfs: {levels: 4, per_channel: true, threshold: 1}
                - avgpool2d: {kernel: 2}
                - flatten
                - dense: {out: 3}
            training:
              epochs: 3
              batch_size: 10
              optimizer: {type: adam, lr: 0.01}

            """.write(to: cfg, atomically: true, encoding: .utf8)
        let model = tmp.appendingPathComponent("m").path, out = tmp.appendingPathComponent("c").path
        let t = try run(["train", cfg.path, "--out", model, "--threads", "1"])
        XCTAssertEqual(t.status, 0, t.err)
        // no calibration: converting reads no data (an empty data folder is fine)
        let empty = tmp.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let cv = try run(["convert", model, "--data", empty.path, "--out", tmp.appendingPathComponent("snn").path])
        XCTAssertEqual(cv.status, 0, cv.err)
        XCTAssertTrue(cv.out.contains("recipe: qcfs"), cv.out)
        let spikes = try run(["convert", model, "--data", empty.path, "--decoding", "spikes", "--out", tmp.appendingPathComponent("snn2").path])
        XCTAssertNotEqual(spikes.status, 0, "spike decoding calibrates the output layer: it needs the training images")
        XCTAssertTrue(spikes.err.contains("empty"), spikes.err)
        let c = try run(["compare", model, "--data", d.path, "--timesteps", "1,4,16", "--energy-model", "loihi",
                         "--energy-model", "horowitz45", "--out", out, "--threads", "2"])
        XCTAssertEqual(c.status, 0, c.err)
        XCTAssertTrue(c.out.contains("energy loihi: SNN/ANN") && c.out.contains("energy horowitz45: SNN/ANN"), c.out)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as! [String: Any]
        XCTAssertEqual(json["recipe"] as? String, "qcfs")
        let profiles = json["energy_profiles"] as! [[String: Any]]
        XCTAssertEqual(profiles.map { ($0["profile"] as! [String: Any])["name"] as! String }, ["loihi", "horowitz45"])
        // horowitz45 from the report's own counts: ANN = MACs (4.6 + 5) pJ; SNN = SOPs (0.9 + 5) + first-layer MACs (4.6 + 5)
        let macs = json["macs_per_image"] as! Double, first = json["first_layer_macs_per_image"] as! Double
        let snn = json["snn"] as! [[String: Any]]
        let h = profiles[1]
        XCTAssertEqual(h["energy_ann_uj"] as! Double, macs * 9.6e-6, accuracy: 1e-9)
        for (k, r) in snn.enumerated() {
            let sops = r["sops_per_image"] as! Double
            XCTAssertEqual((h["energy_snn_uj"] as! [Double])[k], (sops * 5.9 + first * 9.6) * 1e-6, accuracy: 1e-9)
        }
        let md = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        for needle in ["Conversion recipe: **qcfs**", "Davies et al.", "Horowitz", "## Energy by hardware profile", "**loihi**"] {
            XCTAssertTrue(md.contains(needle), "report.md lacks \(needle)")
        }
        XCTAssertFalse(md.contains("Lemaire"), "only the requested profiles")
        let svg = try String(contentsOfFile: out + "/energy.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("loihi") && svg.contains("horowitz45") && svg.contains("break-even"))
    }
}
