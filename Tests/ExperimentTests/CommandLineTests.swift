import Foundation
import XCTest

/// Runs the built `neuromorph` binary (next to the test bundle) and checks what users see.
final class CommandLineTests: XCTestCase {
    typealias Result = ToolResult

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("neuromorph")
    }

    func run(_ args: [String], cwd: URL? = nil) throws -> Result { try runTool(Self.binary, args, cwd: cwd) }

    func runTool(_ tool: URL, _ args: [String], cwd: URL? = nil) throws -> Result { try runProcess(tool, args, cwd: cwd) }

    var tmp: URL!
    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.binary.path), "neuromorph binary not built (run swift build --build-tests)")
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let tmp { try? FileManager.default.removeItem(at: tmp) } }

    func write(_ name: String, _ text: String) throws -> String {
        let u = tmp.appendingPathComponent(name)
        try text.write(to: u, atomically: true, encoding: .utf8)
        return u.path
    }

    func testBadConfigGivesFileLineMessageAndNoOutput() throws {
        let cfg = try write("bad.yaml", minimalConfig.replacingOccurrences(of: "p: 0.5", with: "p: 2"))
        let out = tmp.appendingPathComponent("out").path
        let r = try run(["simulate", cfg, "--out", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("bad.yaml:12:"), r.err)
        XCTAssertTrue(r.err.contains("p must be a probability in [0, 1]"), r.err)
        XCTAssertFalse(r.err.contains("Fatal error"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted(), ["bad.yaml"], "no partial output")
    }

    func testBadFlagsAreRejected() throws {
        let cfg = try write("ok.yaml", minimalConfig)
        for (args, needle) in [(["--threads", "0"], "--threads"), (["--duration", "-1"], "--duration"), (["--seed", "-4"], "--seed"),
                               (["--threads", "two"], "two")] {
            let r = try run(["simulate", cfg] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.err.contains(needle), "\(args): \(r.err)")
        }
        let missing = try run(["simulate", tmp.appendingPathComponent("nope.yaml").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("nope.yaml") && missing.err.contains("cannot read"), missing.err)
    }

    /// Conversion flags are checked before any model or data is read, and name the flag and the choices.
    func testBadConversionFlagsAreRejected() throws {
        let model = tmp.appendingPathComponent("model").path
        for (flag, value, needle) in [("--percentile-of", "most", "positive or all"), ("--percentile", "0", "(0, 100]"),
                                      ("--normalization", "pixel", "layer or channel"), ("--decoding", "votes", "membrane or spikes")] {
            for cmd in ["convert", "compare"] {
                let r = try run([cmd, model, flag, value, "--out", tmp.appendingPathComponent("o").path])
                XCTAssertNotEqual(r.status, 0, "\(cmd) \(flag) \(value)")
                XCTAssertTrue(r.err.contains(flag) && r.err.contains(needle), "\(cmd) \(flag) \(value): \(r.err)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("o").path))
            }
        }
    }

    func testUnwritableOutputIsAnErrorNotACrash() throws {
        let cfg = try write("ok.yaml", minimalConfig)
        let blocker = try write("file", "x")
        let r = try run(["simulate", cfg, "--out", blocker + "/run"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("cannot"), r.err)
    }

    /// `simulate --save-network` + `neuromorph-run` (the engine alone, in C) write the same spikes and
    /// sampled state, byte for byte, as `simulate` with the same seed (on 2 threads vs 1); bad runner
    /// input gets a clear message: usage errors exit 2, unreadable files exit 1 naming the file.
    func testSavedNetworkRunsInTheCRunner() throws {
        let runner = Self.binary.deletingLastPathComponent().appendingPathComponent("neuromorph-run")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: runner.path), "neuromorph-run not built")
        let cfg = try write("mon.yaml", minimalConfig + """

            monitors:
              spikes: all
              state:
                - {population: exc, variables: [v, g_exc], neurons: [0, 3], every: 0.5 ms}
            """)
        let net = tmp.appendingPathComponent("net.nmnet").path
        let s = try run(["simulate", cfg, "--seed", "9", "--save-network", net])
        XCTAssertEqual(s.status, 0, s.err)
        XCTAssertTrue(s.out.contains("neuromorph-run \(net) --duration 0.05"), s.out)
        let d = try run(["simulate", cfg, "--seed", "9", "--duration", "0.2", "--threads", "1", "--json", "--out", tmp.appendingPathComponent("direct").path])
        XCTAssertEqual(d.status, 0, d.err)
        let r = try runTool(runner, [net, "--duration", "0.2", "--threads", "2", "--out", tmp.appendingPathComponent("runner").path])
        XCTAssertEqual(r.status, 0, r.err)
        for f in ["spikes_exc_t.npy", "spikes_exc_i.npy", "spikes_ext_i.npy", "state_exc_v.npy", "state_exc_g_exc.npy",
                  "state_exc_t.npy", "state_exc_neurons.npy"] {
            let a = try Data(contentsOf: tmp.appendingPathComponent("direct/\(f)"))
            XCTAssertGreaterThan(a.count, 128, f)   // more than the header
            XCTAssertEqual(try Data(contentsOf: tmp.appendingPathComponent("runner/\(f)")), a, f)
        }
        let js = try JSONSerialization.jsonObject(with: Data(contentsOf: tmp.appendingPathComponent("runner/summary.json"))) as! [String: Any]
        let jd = try JSONSerialization.jsonObject(with: Data(d.out.utf8)) as! [String: Any]
        for k in ["spikes", "synapses", "synaptic_events", "neurons"] { XCTAssertEqual(js[k] as? Int, jd[k] as? Int, k) }
        XCTAssertEqual(js["simulated_seconds"] as? Double, 0.2)
        XCTAssertGreaterThan(js["peak_rss_bytes"] as? Int ?? 0, 0)
        // bad input
        for (args, code, text) in [([net], Int32(2), "missing --duration"), ([net, "--duration", "-1"], 2, "--duration must be a positive"),
                                   ([net, "--duration", "1", "--threads", "0"], 2, "--threads must be"),
                                   ([net, "--duration", "1", "--bogus"], 2, "unknown option '--bogus'"),
                                   ([tmp.appendingPathComponent("nope.nmnet").path, "--duration", "1"], 1, "nope.nmnet: cannot open"),
                                   ([cfg, "--duration", "1"], 1, "mon.yaml: not a neuromorph network file")] {
            let b = try runTool(runner, args)
            XCTAssertEqual(b.status, code, "\(args): \(b.err)")
            XCTAssertTrue(b.err.contains(text), "\(args): \(b.err)")
        }
        // a config whose current changes during the run cannot be saved (the runner applies constant currents)
        let stepCfg = try write("step.yaml", minimalConfig + """

            inputs:
              - {kind: step_current, target: exc, times: [0 ms, 20 ms], amplitudes: [100 pA, 0 pA]}
            """)
        let bad = try run(["simulate", stepCfg, "--save-network", tmp.appendingPathComponent("step.nmnet").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("changes after t = 0"), bad.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("step.nmnet").path))
    }

    /// A good run prints the summary; --json prints summary.json; overrides apply; same seed twice gives
    /// identical spikes; the output folder is complete.
    func testSimulateRunsAndOverridesApply() throws {
        let cfg = try write("ok.yaml", minimalConfig)
        let r = try run(["simulate", cfg, "--duration", "0.2", "--seed", "9", "--threads", "2", "--json", "--out", tmp.appendingPathComponent("a").path])
        XCTAssertEqual(r.status, 0, r.err)
        let j = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        XCTAssertEqual(j["simulated_seconds"] as? Double, 0.2)
        XCTAssertEqual(j["seed"] as? Int, 9)
        XCTAssertEqual(j["threads"] as? Int, 2)
        let r2 = try run(["simulate", cfg, "--duration", "0.2", "--seed", "9", "--threads", "1", "--out", tmp.appendingPathComponent("b").path])
        XCTAssertEqual(r2.status, 0, r2.err)
        XCTAssertTrue(r2.out.contains("rate (Hz)"), r2.out)
        for f in ["spikes_exc_t.npy", "spikes_exc_i.npy", "raster.svg", "summary.json", "rates_exc.npy"] {
            let a = try Data(contentsOf: tmp.appendingPathComponent("a/\(f)"))
            XCTAssertFalse(a.isEmpty, f)
            if f.hasSuffix(".npy") { XCTAssertEqual(a, try Data(contentsOf: tmp.appendingPathComponent("b/\(f)")), "\(f): 2 vs 1 threads") }
        }
        // --threads auto: the tuner picks the count, the spikes are the same as with a fixed count
        let r3 = try run(["simulate", cfg, "--duration", "0.2", "--seed", "9", "--threads", "auto", "--json", "--out", tmp.appendingPathComponent("c").path])
        XCTAssertEqual(r3.status, 0, r3.err)
        let j3 = try JSONSerialization.jsonObject(with: Data(r3.out.utf8)) as! [String: Any]
        XCTAssertEqual(j3["threads_mode"] as? String, "auto")
        XCTAssertEqual(try Data(contentsOf: tmp.appendingPathComponent("c/spikes_exc_i.npy")),
                       try Data(contentsOf: tmp.appendingPathComponent("a/spikes_exc_i.npy")), "auto vs 2 threads")
    }
}

import ANN
import Conversion
import Datasets

/// `neuromorph simulate SNN_DIR` runs a converted network on a test image with the ordinary simulation
/// outputs, and predicts what the library's classifier predicts for that image.
final class ConvertedSimulateCLITests: XCTestCase {
    func testSimulateRunsConvertedNetwork() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CommandLineTests.binary.path))
        let spec = ModelSpec(inputShape: [1, 28, 28], layers: [
            .conv2d(inChannels: 1, outChannels: 4, kernel: Size2(5), stride: Size2(2), padding: Size2(0), bias: true), .relu,
            .flatten, .dense(inFeatures: 4 * 12 * 12, outFeatures: 10, bias: true),
        ], normalization: .fashionMNIST, classes: 10)
        let model = try Sequential(spec: spec, seed: 3)
        let cal = try IDXDataset().load(.train, normalization: .fashionMNIST, limit: 50)
        let snn = try Converter.convert(model, calibration: cal, options: ConversionOptions())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-csim-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try snn.save(to: dir.appendingPathComponent("snn").path)
        let p = Process()
        p.executableURL = CommandLineTests.binary
        p.arguments = ["simulate", dir.appendingPathComponent("snn").path, "--image", "5", "--timesteps", "40", "--json", "--out", dir.appendingPathComponent("run").path]
        let o = Pipe()
        p.standardOutput = o
        try p.run()
        let data = o.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let j = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let extra = j["extra"] as! [String: String]
        let test = try IDXDataset().load(.test, normalization: .unit, limit: 6)
        let ev = try SpikingClassifier(snn).evaluate(pixels: Array(test.pixels[(5 * 784)..<(6 * 784)]), labels: [test.labels[5]], timesteps: [40], threads: 1)
        XCTAssertEqual(extra["predicted_class"], String(ev.results[0].predictions[0]))
        XCTAssertEqual(extra["true_class"], String(test.labels[5]))
        let pops = j["populations"] as! [String: [String: Any]]
        XCTAssertEqual((pops["L0_conv"]!["spikes"] as! NSNumber).doubleValue, ev.results[0].spikesPerLayer[0])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/raster.svg").path))
    }
}
