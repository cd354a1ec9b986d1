import Foundation
import Testing
import XCTest
@testable import Experiment
import SNN

let minimalConfig = """
run: {duration: 50 ms, dt: 0.1 ms, seed: 3}
populations:
  exc:
    size: 20
    model: lif_cond_exp
    params: {C_m: 200 pF, g_L: 10 nS, E_L: -60 mV, V_th: -50 mV, V_reset: -60 mV, t_ref: 5 ms}
  ext:
    size: 10
    model: poisson
    params: {rate: 50 Hz}
projections:
  - {pre: ext, post: exc, receptor: exc, connect: {rule: fixed_probability, p: 0.5}, weight: 20 nS, delay: 1 ms}
  - {pre: exc, post: exc, receptor: inh, connect: {rule: fixed_indegree, k: 3}, weight: {uniform: {low: 1 nS, high: 2 nS}}, delay: 0.1 ms}
"""

/// Replaces the first occurrence of `a` by `b` in the minimal config.
func variant(_ a: String, _ b: String) -> String {
    precondition(minimalConfig.contains(a), "test setup: '\(a)' not in config")
    return minimalConfig.replacingOccurrences(of: a, with: b, options: [], range: minimalConfig.range(of: a))
}

final class SimulationConfigTests: XCTestCase {
    func parse(_ text: String) throws -> SimulationConfig {
        try SimulationConfig.parse(ConfigNode.parse(text, file: "test.yaml"))
    }

    /// Asserts that parsing fails with an error at `line` whose text contains every fragment.
    func assertError(_ text: String, line: Int?, _ fragments: [String], file: StaticString = #filePath, l: UInt = #line) {
        do {
            _ = try parse(text)
            XCTFail("expected an error containing \(fragments)", file: file, line: l)
        } catch let e as ConfigError {
            if let line { XCTAssertEqual(e.line, line, "\(e)", file: file, line: l) }
            XCTAssertTrue(e.description.hasPrefix("test.yaml:"), "\(e)", file: file, line: l)
            for f in fragments { XCTAssertTrue(e.description.contains(f), "'\(f)' not in: \(e)", file: file, line: l) }
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: l)
        }
    }

    func testMinimalConfigParsesWithUnitsConverted() throws {
        let c = try parse(minimalConfig)
        XCTAssertEqual(c.durationMs, 50, accuracy: 1e-12)
        XCTAssertEqual(c.seed, 3)
        XCTAssertEqual(c.network.populations.map(\.name), ["exc", "ext"])
        guard let p = c.network.populations[0].model.parameters as? LIFCondExpParameters else { return XCTFail() }
        XCTAssertEqual(p.capacitance, 200); XCTAssertEqual(p.leakConductance, 10); XCTAssertEqual(p.refractoryPeriod, 5)
        XCTAssertEqual(c.network.projections[0].delay, .constant(1))
        XCTAssertEqual(c.network.projections[1].weight, .uniform(low: 1, high: 2))
        // units convert: 0.5 s = 500 ms, 1e-3 S... = 1e6 nS
        XCTAssertEqual(try Units.parse("0.5 s", as: .time), 500, accuracy: 1e-9)
        XCTAssertEqual(try Units.parse("2 uS", as: .conductance), 2000, accuracy: 1e-9)
        XCTAssertEqual(try Units.parse("1.5 nA", as: .current), 1500, accuracy: 1e-9)
        XCTAssertEqual(try Units.parse("0.2 nF", as: .capacitance), 200, accuracy: 1e-9)
        XCTAssertEqual(try Units.parse("2 kHz", as: .frequency), 2000, accuracy: 1e-9)
    }

    /// Current-model weights accept mV (used as is) or pA (times tau_m / C_m).
    func testLIFExpWeightInPicoampere() throws {
        let text = """
        populations:
          a: {size: 2, model: lif_exp, params: {C_m: 250 pF, tau_m: 10 ms}}
        projections:
          - {pre: a, post: a, connect: {rule: all_to_all}, weight: 100 pA}
          - {pre: a, post: a, connect: {rule: all_to_all}, weight: 1.5 mV}
        """
        let c = try parse(text)
        XCTAssertEqual(c.network.projections[0].weight.constantValue!, 100 * 10 / 250, accuracy: 1e-12)
        XCTAssertEqual(c.network.projections[1].weight.constantValue!, 1.5, accuracy: 1e-12)
    }

    func testUnknownKeyIsRejectedWithSuggestion() {
        assertError(variant("t_ref: 5 ms", "t_reff: 5 ms"), line: 6, ["unknown key 't_reff'", "did you mean 't_ref'", "populations.exc.params"])
        assertError(variant("run: {", "runn: {"), line: 1, ["unknown key 'runn'", "did you mean 'run'"])
    }

    func testWrongTypesAndMissingUnits() {
        assertError(variant("size: 20", "size: twenty"), line: 4, ["expected a whole number", "populations.exc.size"])
        assertError(variant("C_m: 200 pF", "C_m: 200"), line: 6, ["has no unit", "C_m"])
        assertError(variant("g_L: 10 nS", "g_L: 10 mV"), line: 6, ["not a unit of conductance"])
        assertError(variant("seed: 3", "seed: [3]"), line: 1, ["expected a single value", "run.seed"])
    }

    func testImpossibleValues() {
        assertError(variant("t_ref: 5 ms", "t_ref: -5 ms"), line: 6, ["t_ref must be >= 0"])
        assertError(variant("C_m: 200 pF", "C_m: -200 pF"), line: 6, ["C_m must be > 0"])
        assertError(variant("p: 0.5", "p: 1.5"), line: 12, ["p must be a probability in [0, 1]", "found 1.5"])
        assertError(variant("delay: 1 ms", "delay: 0.05 ms"), line: 12, ["delays must be >= dt"])
        assertError(variant("V_reset: -60 mV", "V_reset: -40 mV"), line: 6, ["V_reset", "below V_th"])
        assertError(variant("rate: 50 Hz", "rate: -50 Hz"), line: 10, ["rate must be >= 0"])
        assertError(variant("rate: 50 Hz", "rate: 2e10 Hz"), line: 10, ["rate must be at most 1e+06 spikes per step"])
        assertError(variant("rate: 50 Hz", "rate: 50000 Hz, draw: bernoulli"), line: 10, ["more than 1/dt", "draw: bernoulli"])
        assertError(variant("weight: 20 nS", "weight: -20 nS"), line: 12, ["conductance weights must be >= 0"])
        assertError(variant("k: 3", "k: -3"), line: 13, ["k must be >= 0"])
        assertError(variant("duration: 50 ms", "duration: 0 ms"), line: 1, ["duration must be > 0"])
    }

    func testReferencesAndModels() {
        assertError(variant("pre: ext", "pre: extt"), line: 12, ["unknown population 'extt'", "did you mean 'ext'"])
        assertError(variant("model: lif_cond_exp", "model: lif_cond"), line: 5, ["unknown value 'lif_cond'", "lif_cond_exp"])
        assertError(variant("post: exc, receptor: exc", "post: ext, receptor: exc"), line: 12, ["'ext' is a spike source"])
        assertError(variant("rule: fixed_probability", "rule: random"), line: 12, ["unknown value 'random'"])
    }

    func testMonitorsAndInitialValues() {
        let withState = minimalConfig + "\nmonitors:\n  state:\n    - {population: exc, variables: [vv], neurons: [0]}\n"
        assertError(withState, line: 16, ["no variable 'vv'", "v, g_exc, g_inh"])
        let badNeuron = minimalConfig + "\nmonitors:\n  spikes: [{population: exc, neurons: [0, 20]}]\n"
        assertError(badNeuron, line: 15, ["neuron index 20 is out of range 0..<20"])
        let badInit = variant("    model: lif_cond_exp\n", "    model: lif_cond_exp\n    initial: {u: -60 mV}\n")
        assertError(badInit, line: 6, ["no state variable 'u'"])
    }

    func testYAMLSyntaxAndMissingFile() {
        assertError("populations:\n  a: {size: 2, model: if\n", line: nil, ["YAML syntax error"])
        XCTAssertThrowsError(try SimulationConfig.load(path: "/nonexistent/x.yaml")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/x.yaml") && "\(e)".contains("cannot read"), "\(e)")
        }
        assertError("run: {duration: 1 s}\n", line: 1, ["missing required key 'populations'"])
    }

    /// The shipped configs parse and describe the networks their comments promise.
    func testShippedConfigs() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["coba", "cuba", "cobahh"] {
            let c = try SimulationConfig.load(path: root.appendingPathComponent("configs/\(name).yaml").path)
            XCTAssertEqual(c.network.populations.map(\.size), [3200, 800], name)
            XCTAssertEqual(c.network.projections.count, 4, name)
            for p in c.network.projections { XCTAssertEqual(p.kind, .sparse(.fixedProbability(0.02, autapses: false)), name) }
        }
    }
}

/// Swift Testing: the end-to-end runner writes a complete output folder whose files agree.
@Test func runnerWritesConsistentOutputFolder() throws {
    let cfg = try SimulationConfig.parse(ConfigNode.parse(minimalConfig + "\nmonitors:\n  spikes: all\n  state:\n    - {population: exc, variables: [v], neurons: [0, 1], every: 1 ms}\n", file: "t.yaml"))
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-run-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let s = try SimulationRunner.run(cfg, configPath: "t.yaml", out: dir, showProgress: false)
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("summary.json"))) as! [String: Any]
    for key in ["neurons", "synapses", "spikes", "synaptic_events", "simulated_seconds", "wall_seconds", "realtime_factor", "populations"] {
        #expect(json[key] != nil, "summary.json lacks \(key)")
    }
    let ids = try NPYReader.read(dir.appendingPathComponent("spikes_exc_i.npy"))
    let times = try NPYReader.read(dir.appendingPathComponent("spikes_exc_t.npy"))
    #expect(ids.count == Int(s.populations["exc"]!.spikes))
    #expect(times.count == ids.count)
    #expect(times.allSatisfy { $0 > 0 && $0 <= 0.05 + 1e-12 })
    let v = try NPYReader.read(dir.appendingPathComponent("state_exc_v.npy"))
    #expect(v.count == 50 * 2)
    #expect(s.populations["exc"]!.spikes > 0)
    let pops = json["populations"] as! [String: [String: Any]]
    #expect(abs((pops["exc"]!["mean_rate_hz"] as! Double) - Double(s.populations["exc"]!.spikes) / 20 / 0.05) < 1e-9)
}

import Common
enum NPYReader {
    static func read(_ url: URL) throws -> [Double] { try NPY.decode(Data(contentsOf: url), path: url.path).doubles }
}
