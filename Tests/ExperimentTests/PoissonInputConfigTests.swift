import Common
import Foundation
import XCTest
@testable import Experiment
import SNN

/// Configs for the Poisson drive of issue 14: `poisson_input` inputs (every key checked at its line),
/// rate monitors that write only the populations they list, the memory estimate, the output folder and
/// `neuromorph-run` with a Poisson input.
final class PoissonInputConfigTests: XCTestCase {
    static let base = """
    run: {duration: 20 ms, dt: 0.1 ms, seed: 3}
    populations:
      exc: {size: 40, model: lif_delta, params: {C_m: 1 pF, tau_m: 20 ms, E_L: 0 mV, V_reset: 0 mV, V_th: 20 mV}}
      cond: {size: 10, model: lif_cond_exp}
      src: {size: 5, model: poisson, params: {rate: 20 Hz}}
    inputs:
      - {kind: poisson_input, target: exc, sources: 1000, rate: 20 Hz, weight: 0.1 mV}

    """

    func parse(_ text: String) throws -> SimulationConfig { try SimulationConfig.parse(ConfigNode.parse(text, file: "pi.yaml")) }

    /// The config with the input line (line 7) replaced.
    func withInput(_ line: String) -> String {
        Self.base.replacingOccurrences(of: "  - {kind: poisson_input, target: exc, sources: 1000, rate: 20 Hz, weight: 0.1 mV}", with: line)
    }

    func refuse(_ text: String, line: Int, column: Int? = nil, _ fragments: [String], file: StaticString = #filePath, l: UInt = #line) {
        do {
            _ = try parse(text)
            XCTFail("accepted; expected \(fragments)", file: file, line: l)
        } catch let e as ConfigError {
            XCTAssertEqual(e.file, "pi.yaml", file: file, line: l)
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: l)
            if let column { XCTAssertEqual(e.column, column, "\(e)", file: file, line: l) }
            for f in fragments { XCTAssertTrue(e.description.contains(f), "'\(f)' not in: \(e)", file: file, line: l) }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: l)
        }
    }

    func testPoissonInputParsesWithDefaultsAndEveryKey() throws {
        let c = try parse(Self.base)
        XCTAssertEqual(c.network.poissonInputs, [PoissonInput(name: "input0", population: "exc", sources: 1000, rateHz: 20, weight: 0.1)])
        XCTAssertEqual(c.network.poissonInputs[0].meanPerStep(dt: 0.1), 2, accuracy: 1e-12)
        XCTAssertTrue(c.network.projections.isEmpty, "no synapses")
        let full = try parse(withInput("  - {kind: poisson_input, name: drive, target: cond, receptor: inh, sources: 40, rate: 0.5 kHz, weight: 2 nS, draw: binomial, neurons: 2:5}"))
        XCTAssertEqual(full.network.poissonInputs, [PoissonInput(name: "drive", population: "cond", neurons: [2, 3, 4], sources: 40, rateHz: 500,
                                                                 weight: 2, receptor: .inhibitory, draw: .binomial)])
        // any rate with the Poisson draw (NEST's poisson_generator), a weight in pA converted for lif_exp
        let lif = try parse(Self.base.replacingOccurrences(of: "model: lif_cond_exp}", with: "model: lif_exp}")
            .replacingOccurrences(of: "target: exc, sources: 1000, rate: 20 Hz, weight: 0.1 mV", with: "target: cond, sources: 1, rate: 300 kHz, weight: 25 pA"))
        XCTAssertEqual(lif.network.poissonInputs[0].weight, 25 * 10 / 250, accuracy: 1e-12)
    }

    func testEveryPoissonInputKeyIsCheckedAtItsLine() {
        let pre = "  - {kind: poisson_input, target: exc, "
        refuse(withInput(pre + "sources: 0, rate: 20 Hz, weight: 0.1 mV}"), line: 7, column: 49, ["sources must be a whole number from 1 to 2^31 - 1", "found 0"])
        refuse(withInput(pre + "sources: 2147483648, rate: 20 Hz, weight: 0.1 mV}"), line: 7, ["sources must be"])
        refuse(withInput(pre + "sources: 1.5, rate: 20 Hz, weight: 0.1 mV}"), line: 7, ["whole number"])
        refuse(withInput(pre + "rate: 20 Hz, weight: 0.1 mV}"), line: 7, ["sources", "independent Poisson trains"])
        refuse(withInput(pre + "sources: 10, rate: -20 Hz, weight: 0.1 mV}"), line: 7, ["rate must be >= 0 Hz"])
        refuse(withInput(pre + "sources: 10, rate: 20 mV, weight: 0.1 mV}"), line: 7, ["frequency"])
        refuse(withInput(pre + "sources: 10, rate: 1e39 Hz, weight: 0.1 mV}"), line: 7, ["rate"])
        refuse(withInput(pre + "sources: 10, rate: 20 kHz, weight: 0.1 mV, draw: binomial}"), line: 7, ["at most 1/dt (10000 Hz) with draw: binomial"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 0.1 mV, draw: gauss}"), line: 7, ["draw", "poisson", "binomial"])
        refuse(withInput(pre + "sources: 2000000000, rate: 1 MHz, weight: 0.1 mV}"), line: 7, ["spikes per neuron and step is more than 1e+07"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 0.1 nS}"), line: 7, ["weight", "lif_delta"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: {normal: {mean: 1 mV, std: 0.1 mV}}}"), line: 7, ["one weight, not a distribution"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 1e39 mV}"), line: 7, ["weight"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 0.1 mV, receptor: inh}"), line: 7, ["receptor", "exc"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 0.1 mV, neurons: 30:50}"), line: 7, ["out of range"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 0.1 mV, name: 'a/b'}"), line: 7, ["input names must"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 0.1 mV, delay: 1 ms}"), line: 7, ["unknown key 'delay'"])
        refuse(withInput("  - {kind: poisson_input, target: src, sources: 10, rate: 20 Hz, weight: 0.1 mV}"), line: 7, ["spike source", "receives no input"])
        refuse(withInput("  - {kind: poisson_input, target: nope, sources: 10, rate: 20 Hz, weight: 0.1 mV}"), line: 7, ["unknown population 'nope'"])
        refuse(withInput("  - {kind: poisson_input, target: cond, sources: 10, rate: 20 Hz, weight: -1 nS}"), line: 7, ["conductance weights must be >= 0"])
        refuse(withInput("  - {kind: poisson_inpt, target: exc, sources: 10, rate: 20 Hz, weight: 0.1 mV}"), line: 7, ["poisson_input"])
        refuse(withInput(pre + "sources: 10, rate: 20 Hz, weight: 0.1 mV, name: a}\n  - {kind: poisson_input, target: exc, sources: 1, rate: 1 Hz, weight: 0.1 mV, name: a}"),
               line: 8, ["the input name 'a' is used twice"])
    }

    /// Rate files only for the populations a config asks for: `rates.populations`, by default those whose
    /// spikes are recorded; no `rates`, no rate files; no `monitors`, everything.
    func testRatesAreWrittenOnlyForListedPopulations() throws {
        func ratePops(_ monitors: String) throws -> [String] { try parse(Self.base + monitors).ratePopulations }
        XCTAssertEqual(try ratePops(""), ["exc", "cond", "src"])
        XCTAssertEqual(try ratePops("monitors:\n  spikes: [exc]\n  rates: {bin: 1 ms}\n"), ["exc"])
        XCTAssertEqual(try ratePops("monitors:\n  spikes: [{population: cond, neurons: [1]}, exc, cond]\n  rates: {bin: 1 ms}\n"), ["cond", "exc"])
        XCTAssertEqual(try ratePops("monitors:\n  spikes: [exc]\n  rates: {bin: 1 ms, populations: [src, cond]}\n"), ["src", "cond"])
        XCTAssertEqual(try ratePops("monitors:\n  spikes: none\n  rates: {populations: all}\n"), ["exc", "cond", "src"])
        XCTAssertEqual(try ratePops("monitors:\n  spikes: all\n  rates: {populations: none}\n"), [])
        XCTAssertEqual(try ratePops("monitors:\n  spikes: all\n"), [])
        refuse(Self.base + "monitors:\n  rates: {populations: [exc, exx]}\n", line: 9, ["unknown population 'exx'"])
        refuse(Self.base + "monitors:\n  rates: {populations: [exc, exc]}\n", line: 9, ["listed twice"])

        let cfg = try parse(Self.base + "monitors:\n  spikes: [exc]\n  rates: {bin: 1 ms}\n")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-rates-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try SimulationRunner.run(cfg, configPath: "pi.yaml", out: dir, showProgress: false)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(Set(files), ["spikes_exc_t.npy", "spikes_exc_i.npy", "rates_exc.npy", "raster.svg", "summary.json"])
        XCTAssertEqual(Set(s.files), Set(files))
        // the rates agree with the spikes; the input's events are in the summary
        let rates = try NPYReader.read(dir.appendingPathComponent("rates_exc.npy"))
        XCTAssertEqual(rates.reduce(0, +) * 0.001 * 40, Double(s.populations["exc"]!.spikes), accuracy: 1e-6)
        let ev = try XCTUnwrap(s.poisson_inputs["input0"])
        XCTAssertEqual(ev.target, "exc")
        let expected: Double = 2 * 40 * 200   // mean 2 per neuron and step, 40 neurons, 200 steps
        XCTAssertEqual(Double(ev.events), expected, accuracy: 6 * expected.squareRoot())
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("summary.json"))) as! [String: Any]
        XCTAssertEqual(((json["poisson_inputs"] as? [String: Any])?["input0"] as? [String: Any])?["events"] as? Int, Int(ev.events))
    }

    /// The estimate has a part for the inputs (their streams: 16 B per pair of target neurons, 8 B per
    /// neuron; their tables: at most 92 B per count) and counts rate recordings of the listed populations only.
    func testEstimateCountsInputsAndListedRates() throws {
        let big = Self.base.replacingOccurrences(of: "exc: {size: 40,", with: "exc: {size: 4000000,")
        let e = SimulationBudget.estimate(try parse(big + "monitors:\n  spikes: none\n"))
        let part = try XCTUnwrap(e.parts.first { $0.name == "poisson inputs" })
        XCTAssertEqual(part.bytes, 8 * 4_000_032 + 92 * (13 * 2.0.squareRoot() + 30), accuracy: 1)
        XCTAssertNil(e.parts.first { $0.name == "population rates" })
        let withRates = SimulationBudget.estimate(try parse(big + "monitors:\n  spikes: none\n  rates: {populations: [exc, src]}\n"))
        XCTAssertEqual(withRates.parts.first { $0.name == "population rates" }?.bytes ?? 0, 2 * (4 * 200 + 8 * 20), accuracy: 1e-9)
        XCTAssertThrowsError(try SimulationBudget.check(try parse(big), configPath: "pi.yaml", memoryLimit: 32 << 20)) { err in
            XCTAssertTrue("\(err)".contains("poisson inputs"), "\(err)")
        }
    }

    /// configs/brunel.yaml (Brunel 2000, driven by Poisson inputs) is NEST's network: sizes, in-degrees,
    /// weights, delays and a 20 kHz Poisson drive per neuron, with no source population.
    func testShippedBrunelConfig() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try SimulationConfig.load(path: root.appendingPathComponent("configs/brunel.yaml").path)
        XCTAssertEqual(c.network.populations.map(\.size), [5000, 1250])
        XCTAssertEqual(c.network.projections.map(\.kind), [.sparse(.fixedIndegree(1000, autapses: true, multapses: true)), .sparse(.fixedIndegree(1000)),
                                                           .sparse(.fixedIndegree(250)), .sparse(.fixedIndegree(250, autapses: true, multapses: true))])
        XCTAssertEqual(c.network.projections.map(\.weight), [.constant(0.1), .constant(0.1), .constant(-0.5), .constant(-0.5)])
        XCTAssertTrue(c.network.projections.allSatisfy { $0.delay == .constant(1.5) })
        for pin in c.network.poissonInputs {
            XCTAssertEqual(pin.meanPerStep(dt: c.network.dt) * 1000 / c.network.dt, 20_000, accuracy: 1e-6)
            XCTAssertEqual(pin.weight, 0.1); XCTAssertEqual(pin.draw, .poisson)
        }
        XCTAssertEqual(c.network.poissonInputs.map(\.population), ["exc", "inh"])
        XCTAssertEqual(c.ratePopulations, ["exc", "inh"])
    }

    /// `simulate --save-network` + `neuromorph-run` with Poisson inputs and a Poisson source of several
    /// spikes per step: the same spikes byte for byte as `simulate` (2 threads vs 1), the same input
    /// events in both summaries.
    func testSavedNetworkWithPoissonInputsRunsInTheCRunner() throws {
        let cli = testCaseInstance(CommandLineTests.self)
        try cli.setUpWithError()
        defer { try? cli.tearDownWithError() }
        let runner = CommandLineTests.binary.deletingLastPathComponent().appendingPathComponent("neuromorph-run")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: runner.path), "neuromorph-run not built")
        let cfg = try cli.write("pi.yaml", Self.base.replacingOccurrences(of: "rate: 20 Hz}}", with: "rate: 30 kHz}}") + """
            projections:
              - {pre: src, post: exc, connect: {rule: fixed_indegree, k: 2}, weight: 0.5 mV}
              - {pre: exc, post: exc, connect: {rule: fixed_indegree, k: 20}, weight: 0.3 mV, delay: 1 ms}
            monitors:
              spikes: [exc, src]
            """)
        let net = cli.tmp.appendingPathComponent("pi.nmnet").path
        XCTAssertEqual(try cli.run(["simulate", cfg, "--seed", "4", "--save-network", net]).status, 0)
        let d = try cli.run(["simulate", cfg, "--seed", "4", "--duration", "0.1", "--threads", "1", "--json", "--out", cli.tmp.appendingPathComponent("direct").path])
        XCTAssertEqual(d.status, 0, d.err)
        let r = try cli.runTool(runner, [net, "--duration", "0.1", "--threads", "2", "--out", cli.tmp.appendingPathComponent("runner").path])
        XCTAssertEqual(r.status, 0, r.err)
        for f in ["spikes_exc_t.npy", "spikes_exc_i.npy", "spikes_src_i.npy"] {
            let a = try Data(contentsOf: cli.tmp.appendingPathComponent("direct/\(f)"))
            XCTAssertGreaterThan(a.count, 1000, f)
            XCTAssertEqual(try Data(contentsOf: cli.tmp.appendingPathComponent("runner/\(f)")), a, f)
        }
        let js = try JSONSerialization.jsonObject(with: Data(contentsOf: cli.tmp.appendingPathComponent("runner/summary.json"))) as! [String: Any]
        let jd = try JSONSerialization.jsonObject(with: Data(d.out.utf8)) as! [String: Any]
        let ri = (js["poisson_inputs"] as? [String: Any])?["input0"] as? [String: Any]
        let di = (jd["poisson_inputs"] as? [String: Any])?["input0"] as? [String: Any]
        XCTAssertEqual(ri?["events"] as? Int, di?["events"] as? Int)
        XCTAssertGreaterThan(ri?["events"] as? Int ?? 0, 0)
        XCTAssertEqual(ri?["target"] as? String, "exc")
        XCTAssertEqual(ri?["sources"] as? Int, 1000)
        XCTAssertEqual(ri?["rate_hz"] as? Double ?? 0, 20, accuracy: 1e-9)
    }
}

/// An instance of another test class whose helpers a test uses.
func testCaseInstance<T: XCTestCase>(_ type: T.Type) -> T { T(name: "\(T.self)", testClosure: { _ in }) }
