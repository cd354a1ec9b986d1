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

    typealias Result = ToolResult
    func run(_ tool: String, _ args: [String]) throws -> Result {
        let url = binDir.appendingPathComponent(tool)
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: url.path), "\(tool) not built (run swift build --build-tests)")
        return try runProcess(url, args)
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

    /// AdEx driven by 1e9 pA, and 1e7 pA (which under the earlier bound of 10,000 internal steps ran, at
    /// 3.4 s of CPU per 20 ms of 4 neurons, losing all but one spike per step): the run stops at the
    /// second spike within the first step, in well under a second, naming config, population and neuron;
    /// a 1e9 nS inhibitory conductance (stiff, no spikes) stops at the solver's bound of 1000 internal
    /// steps in the step that receives it. Both through `neuromorph-run` too.
    func testAdExBoundsThroughTheCommandLine() throws {
        for current in ["1e9 pA", "1e7 pA"] {
            let cfg = try write("adex.yaml", """
                run: {duration: 5 ms, dt: 0.1 ms, seed: 3}
                populations:
                  burst:
                    size: 3
                    model: adex
                    params: {I_e: \(current)}
                """)
            let t0 = Date()
            let s = try run("neuromorph", ["simulate", cfg, "--threads", "1"])
            XCTAssertEqual(s.status, 1, s.err)
            XCTAssertTrue(s.err.contains("\(cfg): simulation stopped: burst: neuron 0 reached V_peak a second time within the step from t = 0 ms to t = 0.1 ms"), s.err)
            XCTAssertLessThan(Date().timeIntervalSince(t0), 30, "stops at once (a loose bound: the machine may be loaded)")
        }
        let stiff = try write("stiff.yaml", """
            run: {duration: 5 ms, dt: 0.1 ms, seed: 3}
            populations:
              cue: {size: 1, model: spike_source, params: {spike_times: [[1 ms]]}}
              ad: {size: 3, model: adex}
            projections:
              - {pre: cue, post: ad, receptor: inh, connect: {rule: list, pairs: [[0, 0]]}, weight: 1e9 nS, delay: 0.1 ms}
            """)
        let s = try run("neuromorph", ["simulate", stiff, "--threads", "1"])
        XCTAssertEqual(s.status, 1, s.err)
        let needle = "ad: the AdEx solver needed more than 1000 internal steps for neuron 0 in the step from t = 1.1 ms to t = 1.2 ms"
        XCTAssertTrue(s.err.contains("\(stiff): simulation stopped: \(needle)"), s.err)
        let net = tmp.appendingPathComponent("stiff.nmnet").path
        XCTAssertEqual(try run("neuromorph", ["simulate", stiff, "--save-network", net]).status, 0)
        let r = try run("neuromorph-run", [net, "--duration", "0.005", "--threads", "1"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("neuromorph-run: \(net): simulation stopped: \(needle)"), r.err)
    }

    /// A lif_exp population with C_m = 1e38 pF reads its synaptic current out as x * C_m / tau_m = 1e37 x:
    /// after a 100 mV input the sample exceeds float32. `simulate` and `neuromorph-run` refuse to write
    /// state_a_i_exc.npy as ±inf (the saved-0048 kind of silent -inf) naming monitor, time and neuron, and
    /// leave no output folder; the same network without the overflowing input writes finite samples.
    func testStateReadOutBeyondFloat32IsRefused() throws {
        func config(_ weight: String) -> String {
            """
            run: {duration: 3 ms, dt: 0.1 ms, seed: 1}
            populations:
              src: {size: 1, model: spike_source, params: {spike_times: [[1 ms]]}}
              a: {size: 2, model: lif_exp, params: {C_m: 1e38 pF, tau_m: 10 ms, E_L: -70 mV, V_th: 1e30 mV}}
            projections:
              - {pre: src, post: a, receptor: exc, connect: {rule: all_to_all}, weight: \(weight), delay: 0.1 ms}
            monitors:
              state: [{population: a, variables: [v, i_exc], neurons: all, every: 0.1 ms}]
            """
        }
        let cfg = try write("big.yaml", config("100 mV"))
        let out = tmp.appendingPathComponent("o1").path
        let s = try run("neuromorph", ["simulate", cfg, "--out", out])
        XCTAssertEqual(s.status, 1, s.err)
        XCTAssertTrue(s.err.contains("Error: \(cfg): state monitor of a.i_exc: the sample at t = 1.2 ms of neuron 0 is +inf once read out as float32 (pA)"), s.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let net = tmp.appendingPathComponent("big.nmnet").path
        XCTAssertEqual(try run("neuromorph", ["simulate", cfg, "--save-network", net]).status, 0)
        let rout = tmp.appendingPathComponent("o2").path
        let r = try run("neuromorph-run", [net, "--duration", "0.003", "--out", rout])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("neuromorph-run: \(net): state monitor 1 ('i_exc' of 'a'): the sample at t = 0.0012 s of neuron 0 is 9.51229e+38, which float32 (state_a_i_exc.npy) cannot hold"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: rout))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".") }, [], "no staging folder or lock left")
        // the control: 1e-10 mV gives a current of ~1e27 pA, within float32
        let ok = try write("ok.yaml", config("1e-10 mV"))
        XCTAssertEqual(try run("neuromorph", ["simulate", ok, "--out", out]).status, 0)
        let i = try Data(contentsOf: URL(fileURLWithPath: out + "/state_a_i_exc.npy"))
        let values = i.suffix(30 * 2 * 4).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertTrue(values.allSatisfy(\.isFinite))
        XCTAssertGreaterThan(values.max() ?? 0, 1e26)
    }

    /// `compare MODEL SNN` whose SNN overflows (read-out weights of 3e38, e.g. after bit flips in
    /// weights.safetensors: fuzz seed 61 model-0249) stops naming the converted network folder that ran.
    func testCompareNamesTheNetworkWhoseSimulationStopped() throws {
        let d1 = Dense(inFeatures: 6, outFeatures: 4), d2 = Dense(inFeatures: 4, outFeatures: 3)
        for (l, w) in [(d1, Float(0.5)), (d2, Float(0.2))] {
            for p in l.parameters { p.value = Tensor(shape: p.value.shape, repeating: p.value.shape.count == 1 ? 0 : w) }
        }
        let model = try Sequential(inputShape: [1, 2, 3], layers: [Flatten(), d1, ReLU(), d2], classes: 3)
        let data = tmp.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for split in ["train", "t10k"] {
            try IDXFile.encode(type: .uint8, shape: [4, 2, 3], payload: Data((0..<24).map { UInt8(40 * ($0 % 7)) }))
                .write(to: data.appendingPathComponent("\(split)-images-idx3-ubyte"))
            try IDXFile.encode(type: .uint8, shape: [4], payload: Data([0, 1, 2, 1])).write(to: data.appendingPathComponent("\(split)-labels-idx1-ubyte"))
        }
        let mdir = tmp.appendingPathComponent("model").path, sdir = tmp.appendingPathComponent("snn").path
        try ModelDirectory.save(model, to: mdir)
        let pixels = (0..<60).map { Float($0 % 7) / 6 }
        var snn = try Converter.convert(model, calibration: LabeledImages(sampleShape: [1, 2, 3], pixels: pixels, labels: [Int32](repeating: 0, count: 10), classCount: 3),
                                        options: ConversionOptions())
        snn.layers[1].weights = snn.layers[1].weights.map { _ in 3e38 }
        try snn.save(to: sdir)
        let out = tmp.appendingPathComponent("cmp").path
        let r = try run("neuromorph", ["compare", mdir, sdir, "--data", data.path, "--timesteps", "20", "--out", out])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("Error: \(sdir): simulation stopped: \(snn.layers[1].name).v became"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
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
