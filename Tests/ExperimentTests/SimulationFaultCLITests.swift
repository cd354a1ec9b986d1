import ANN
import Conversion
import Datasets
import Experiment
import Foundation
import SNN
import XCTest

/// A simulation whose state becomes non-finite, or whose AdEx solver cannot keep up, stops with a
/// message naming the input, population, variable, neuron and time, a non-zero exit and no output
/// folder: from `neuromorph simulate`, a converted network's simulation and `neuromorph-run`.
final class SimulationFaultCLITests: XCTestCase {
    var tmp: URL!
    var binDir: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent() }

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let tmp { try? FileManager.default.removeItem(at: tmp) } }

    struct Result { let status: Int32; let out: String; let err: String }
    func run(_ tool: String, _ args: [String]) throws -> Result {
        let url = binDir.appendingPathComponent(tool)
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: url.path), "\(tool) not built (run swift build --build-tests)")
        let p = Process()
        p.executableURL = url
        p.arguments = args
        let o = Pipe(), e = Pipe()
        p.standardOutput = o
        p.standardError = e
        try p.run()
        let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, out: String(decoding: od, as: UTF8.self), err: String(decoding: ed, as: UTF8.self))
    }
    func write(_ name: String, _ text: String) throws -> String {
        let u = tmp.appendingPathComponent(name)
        try text.write(to: u, atomically: true, encoding: .utf8)
        return u.path
    }
    /// "<pop>.<var> became <value> between t = a ms and t = b ms, neuron i" in `text`, as its parts.
    func nonFinite(_ text: String) -> (pop: String, variable: String, from: Double, to: Double, neuron: Int)? {
        let re = try! NSRegularExpression(pattern: #"(\w+)\.(\w+) became (NaN|\+inf|-inf) between t = ([0-9.e+-]+) ms and t = ([0-9.e+-]+) ms, neuron (\d+)"#)
        guard let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        func g(_ k: Int) -> String { String(text[Range(m.range(at: k), in: text)!]) }
        return (g(1), g(2), Double(g(4))!, Double(g(5))!, Int(g(6))!)
    }

    /// The minimal config with 3e38 nS synapses: two inputs within a few steps overflow a conductance.
    /// `simulate` exits non-zero naming the config, exc and a neuron, and writes no output folder;
    /// `neuromorph-run` on the saved network reports the same fault (same names, from the file) with
    /// exit 1 and leaves no output folder either.
    func testNonFiniteStateStopsSimulateAndTheRunner() throws {
        let cfg = try write("huge.yaml", variant("weight: 20 nS", "weight: 3e38 nS"))
        let out = tmp.appendingPathComponent("out").path
        let s = try run("neuromorph", ["simulate", cfg, "--threads", "1", "--out", out])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.err.contains("\(cfg): simulation stopped: exc."), s.err)
        XCTAssertFalse(s.err.contains("Fatal error"), s.err)
        let f = try XCTUnwrap(nonFinite(s.err), s.err)
        XCTAssertEqual(f.pop, "exc")
        XCTAssertTrue(["v", "g_exc", "g_inh"].contains(f.variable), f.variable)
        XCTAssertLessThan(f.from, f.to)
        XCTAssertLessThan(f.to, 50, "stopped before the end of the 50 ms run")
        XCTAssertLessThan(f.neuron, 20)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output folder")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), ["huge.yaml"], "nothing partial left behind")

        let net = tmp.appendingPathComponent("huge.nmnet").path
        XCTAssertEqual(try run("neuromorph", ["simulate", cfg, "--save-network", net]).status, 0)
        let rout = tmp.appendingPathComponent("rout").path
        let r = try run("neuromorph-run", [net, "--duration", "0.05", "--threads", "2", "--out", rout])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted(), ["huge.nmnet", "huge.yaml"],
                       "no output folder, staging folder or lock left behind")
        XCTAssertTrue(r.err.contains("neuromorph-run: \(net): simulation stopped: "), r.err)
        let g = try XCTUnwrap(nonFinite(r.err), r.err)
        XCTAssertEqual(g.pop, "exc")
        XCTAssertEqual(g.variable, f.variable)
        XCTAssertEqual(g.neuron, f.neuron)
    }

    /// AdEx driven by 1e9 pA: the solver's bound stops the run in its first step, in well under a second
    /// (before the bound, 16 s per simulated ms), naming config, population and neuron.
    func testAdExSolverBoundThroughTheCommandLine() throws {
        let cfg = try write("adex.yaml", """
            run: {duration: 5 ms, dt: 0.1 ms, seed: 3}
            populations:
              burst:
                size: 3
                model: adex
                params: {I_e: 1e9 pA}
            """)
        let s = try run("neuromorph", ["simulate", cfg, "--threads", "1"])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.err.contains("\(cfg): simulation stopped: burst: the AdEx solver needed more than 10000 internal steps for neuron 0 in the step from t = 0 ms to t = 0.1 ms"), s.err)
    }

    /// A converted network whose read-out weights overflow: its simulation (the path `simulate` takes for
    /// a converted folder) stops with the read-out layer's v named, and writes no output folder.
    func testConvertedNetworkSimulationStopsOnNonFiniteState() throws {
        let d1 = Dense(inFeatures: 6, outFeatures: 4), d2 = Dense(inFeatures: 4, outFeatures: 3)
        for (l, w) in [(d1, Float(0.5)), (d2, Float(0.2))] {
            for p in l.parameters { p.value = Tensor(shape: p.value.shape, repeating: p.value.shape.count == 1 ? 0 : w) }
        }
        let model = try Sequential(inputShape: [1, 2, 3], layers: [Flatten(), d1, ReLU(), d2], classes: 3)
        let pixels = (0..<60).map { Float($0 % 7) / 6 }
        let calibration = LabeledImages(sampleShape: [1, 2, 3], pixels: pixels, labels: [Int32](repeating: 0, count: 10), classCount: 3)
        var snn = try Converter.convert(model, calibration: calibration, options: ConversionOptions())
        let healthy = try ConvertedSimulation.config(snn, pixels: [1, 1, 1, 1, 1, 1], timesteps: 20, seed: 1, threads: 1, name: "tiny")
        XCTAssertEqual(try SimulationRunner.run(healthy, configPath: "tiny", out: nil, showProgress: false).populations[snn.layers[0].name]?.spikes ?? 0 > 0, true,
                       "the hidden layer fires, so the read-out receives input")
        snn.layers[1].weights = snn.layers[1].weights.map { _ in 3e38 }
        let cfg = try ConvertedSimulation.config(snn, pixels: [1, 1, 1, 1, 1, 1], timesteps: 20, seed: 1, threads: 1, name: "tiny")
        let out = tmp.appendingPathComponent("out")
        XCTAssertThrowsError(try SimulationRunner.run(cfg, configPath: "runs/tiny-snn", out: out, showProgress: false)) { e in
            guard let f = e as? SimulationFault else { return XCTFail("\(e)") }
            XCTAssertEqual(f.kind, .nonFinite)
            XCTAssertEqual(f.population, snn.layers[1].name)
            XCTAssertEqual(f.variable, "v")
            XCTAssertTrue(f.description.hasPrefix("runs/tiny-snn: simulation stopped: \(snn.layers[1].name).v became"), f.description)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }
}
