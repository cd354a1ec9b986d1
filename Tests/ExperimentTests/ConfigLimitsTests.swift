import Common
import Foundation
import XCTest
@testable import Experiment
import SNN

/// Numbers from configs that become counts, steps or sizes are refused with file, line and key
/// instead of trapping or allocating; YAML work is bounded; the memory estimate is what the
/// documented storage rules give; valid configs still pass.
final class ConfigLimitsTests: XCTestCase {
    /// A small network: 80 LIF neurons driven by one spike source.
    static let base = """
    run: {duration: 10 ms, dt: 0.1 ms}
    populations:
      a: {size: 80, model: lif_exp}
      s: {size: 1, model: spike_source, params: {spike_times: [[1 ms]]}}
    projections:
      - {pre: s, post: a, connect: {rule: all_to_all}, weight: 1 mV}

    """

    func parse(_ text: String, budget: YAMLBudget = .default) throws -> SimulationConfig {
        try SimulationConfig.parse(ConfigNode.parse(text, file: "limits.yaml", budget: budget))
    }

    /// `text` is refused with a ConfigError at `line`, `key` and containing each fragment.
    func refuse(_ text: String, line: Int?, key: String?, _ fragments: [String], budget: YAMLBudget = .default,
                file: StaticString = #filePath, l: UInt = #line) {
        do {
            _ = try parse(text, budget: budget)
            XCTFail("accepted; expected \(fragments)", file: file, line: l)
        } catch let e as ConfigError {
            XCTAssertEqual(e.file, "limits.yaml", file: file, line: l)
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: l)
            if let key { XCTAssertEqual(e.key, key, "\(e)", file: file, line: l) }
            for f in fragments { XCTAssertTrue(e.description.contains(f), "'\(f)' not in: \(e)", file: file, line: l) }
        } catch {
            XCTFail("not a ConfigError: \(error)", file: file, line: l)
        }
    }

    func edit(_ a: String, _ b: String) -> String {
        precondition(Self.base.contains(a), "test setup: '\(a)' not in the base config")
        return Self.base.replacingOccurrences(of: a, with: b)
    }

    // MARK: the trapping and hanging cases of issue 10

    func testBaseConfigIsAccepted() throws {
        let c = try parse(Self.base)
        XCTAssertEqual(c.network.populations.map(\.size), [80, 1])
    }

    func testIndegreeBeyondInt32() {
        refuse(edit("rule: all_to_all", "rule: fixed_indegree, k: 3000000000"), line: 6, key: "projections[0].connect.k",
               ["k must be at most 2^31 - 1", "found 3000000000"])
    }

    func testHugeTimesAndSamplingIntervals() {
        refuse(edit("duration: 10 ms", "duration: 1e300 s"), line: 1, key: "run.duration", ["out of range", "3.4e38 ms"])
        // within the magnitude bound but more steps than a run may have
        refuse(edit("duration: 10 ms", "duration: 1e15 ms"), line: 1, key: "run.duration", ["at most 1000000000000000 steps"])
        refuse(edit("[[1 ms]]", "[[1e20 s]]"), line: 4, key: "populations.s.params.spike_times[0][0]", ["spike times must be at most 1000000000000000 steps"])
        refuse(edit("dt: 0.1 ms}", "dt: 1e-6 ms}").replacingOccurrences(of: "[[1 ms]]", with: "[[1e12 ms]]"), line: 4,
               key: "populations.s.params.spike_times[0][0]", ["spike times must be at most"])
        refuse(Self.base + "monitors:\n  state: [{population: a, variables: [v], neurons: [0], every: 1e10 ms}]\n", line: 8,
               key: "monitors.state[0].every", ["at most 2^31 - 1 steps"])
        refuse(Self.base + "monitors:\n  rates: {bin: 1e15 ms}\n", line: 8, key: "monitors.rates.bin", ["at most"])
        refuse(edit("model: lif_exp}", "model: lif_exp, params: {t_ref: 1e14 ms}}"), line: 3, key: "populations.a.params.t_ref",
               ["t_ref must be at most 2^31 - 1 steps"])
        refuse(Self.base + "inputs:\n  - {kind: step_current, target: a, times: [0 ms, 1e15 ms], amplitudes: [1 pA, 0 pA]}\n",
               line: 8, key: "inputs[0].times", ["at most 1000000000000000 steps"])
    }

    func testRangeIsCheckedBeforeItIsExpanded() {
        // 0:2000000000 on 80 neurons: expanding it first would allocate 16 GB
        refuse(Self.base + "monitors:\n  spikes: [{population: a, neurons: \"0:2000000000\"}]\n", line: 8,
               key: "monitors.spikes[0].neurons", ["0:2000000000 is out of range 0..<80"])
        refuse(Self.base + "inputs:\n  - {kind: constant_current, target: a, amplitude: 1 pA, neurons: \"-5:3\"}\n", line: 8,
               key: "inputs[0].neurons", ["out of range 0..<80"])
    }

    /// Monitor ranges (`all`, `a:b`) stay bounds until the run allocates them: `neurons: all` on
    /// 99,999,999 neurons used to be an 800 MB index list before the memory estimate ran. The estimate
    /// counts the selection, refuses it under a limit naming the state monitors, and a list stays a list.
    func testMonitorSelectionsAreNotExpandedBeforeTheEstimate() throws {
        let huge = """
        run: {duration: 1 ms, dt: 0.1 ms}
        populations:
          a: {size: 99999999, model: if}
        monitors:
          spikes: [{population: a, neurons: 10:99999990}]
          state:
            - {population: a, variables: [v], neurons: all, every: 0.1 ms}
            - {population: a, variables: [v], neurons: 5:99999999, every: 0.5 ms}
            - {population: a, variables: [v], neurons: [3, 1, 4]}

        """
        let c = try parse(huge)
        XCTAssertEqual(c.stateMonitors.map(\.selection), [.range(0..<99_999_999), .range(5..<99_999_999), .list([3, 1, 4])])
        XCTAssertEqual(c.spikeMonitors.first?.selection, .range(10..<99_999_990))
        XCTAssertEqual(c.stateMonitors[2].neurons, [3, 1, 4])
        // 10 samples + 2 of 1e8 neurons (4 B each) + 8 B per sample, and the 8 B index entries
        let e = SimulationBudget.estimate(c, writesOutput: false)
        let part = try XCTUnwrap(e.parts.first { $0.name == "state monitors" })
        let n1 = 99_999_999.0, n2 = 99_999_994.0
        XCTAssertEqual(part.bytes, 12 * (4 * n1 + 8) + 8 * n1 + 4 * (4 * n2 + 8) + 8 * n2 + 12 * (4 * 3 + 8) + 8 * 3, accuracy: 1)
        XCTAssertThrowsError(try SimulationBudget.check(c, configPath: "limits.yaml", memoryLimit: 1 << 30, writesOutput: false)) {
            XCTAssertTrue("\($0)".contains("state monitors"), "\($0)")
        }
        XCTAssertEqual(NeuronSelection.range(2..<5).indices, [2, 3, 4])
        XCTAssertTrue(NeuronSelection.range(2..<5).contains(4))
        XCTAssertFalse(NeuronSelection.list([3, 1]).contains(2))
    }

    func testEveryQuantityIsFiniteAfterConversion() {
        // 1e300 GF = 1e321 pF is +inf in Double: it used to pass "C_m > 0"
        refuse(edit("model: lif_exp}", "model: lif_exp, params: {C_m: 1e300 GF}}"), line: 3, key: "populations.a.params.C_m",
               ["'1e300 GF' is out of range", "3.4e38 pF"])
        refuse(edit("weight: 1 mV", "weight: 1e36 V"), line: 6, key: "projections[0].weight", ["out of range"])
        refuse(edit("weight: 1 mV", "weight: {lognormal: {mu: 80, sigma: 2}}"), line: 6, key: "projections[0].weight",
               ["beyond single precision"])
        // a positive but vanishing C_m made tau_m/C_m infinite in the engine
        refuse(edit("model: lif_exp}", "model: lif_exp, params: {C_m: 1e-300 pF}}"), line: 3, key: "populations.a.params.C_m",
               ["0 or between 1e-15 pF and 3.4e38 pF"])
        XCTAssertThrowsError(try Units.parse("1e308 kHz", as: .frequency))
        XCTAssertEqual(try Units.parse("0 pA", as: .current), 0)
        XCTAssertEqual(try Units.parse("1 fA", as: .current), 1e-3, accuracy: 1e-18)
        XCTAssertEqual(try Units.parse("1e15 ms", as: .time), 1e15)
        XCTAssertEqual(try Units.parse("3e38 nS", as: .conductance), 3e38)   // finite in single precision
        // a long text is refused at once (the number/unit split would be quadratic)
        refuse(edit("weight: 1 mV", "weight: \(String(repeating: "1", count: 100_000)) mV"), line: 6, key: nil, ["characters"])
    }

    /// A log-normal is positive: valid as a conductance weight (its lower bound was taken as -inf).
    func testLognormalConductanceWeightIsAccepted() throws {
        let text = """
        populations:
          a: {size: 5, model: lif_cond_exp}
        projections:
          - {pre: a, post: a, connect: {rule: all_to_all}, weight: {lognormal: {mu: 0, sigma: 1}}}
        """
        let c = try parse(text)
        XCTAssertEqual(c.network.projections[0].weight.lowerBound, 0)
    }

    func testListDelaysBeyondSixteenBits() {
        refuse(edit("rule: all_to_all}", "rule: list, pairs: [[0, 1]], delays: [1e10 ms]}"), line: 6,
               key: "projections[0].connect.delays", ["longer than 65534 steps"])
    }

    /// `--duration` overrides the config after parsing: the runner counts the steps again.
    func testDurationOverrideIsCheckedByTheRunner() throws {
        var c = try parse(Self.base)
        c.durationMs = 1e303
        XCTAssertThrowsError(try SimulationRunner.run(c, configPath: "limits.yaml", out: nil, showProgress: false)) { e in
            XCTAssertTrue("\(e)".hasPrefix("limits.yaml: run.duration:"), "\(e)")
        }
        c.durationMs = 1e9 * 0.1 * 2   // 2e9 steps: runs are allowed, but long ones are warned about
        XCTAssertEqual(SimulationBudget.warnings(c).count, 1)
        XCTAssertTrue(SimulationBudget.warnings(c)[0].contains("2.0e9 steps"), SimulationBudget.warnings(c)[0])
        c.durationMs = 10
        XCTAssertEqual(SimulationBudget.warnings(c), [])
    }

    // MARK: memory estimates

    /// 99,999,999 neurons at p = 0.02 (2e14 synapses): refused from the estimate, nothing generated.
    func testHugeNetworkIsRefusedWithTheEstimate() throws {
        let text = """
        populations:
          exc: {size: 99999999, model: lif_exp}
        projections:
          - {pre: exc, post: exc, connect: {rule: fixed_probability, p: 0.02}, weight: 1 mV}
        """
        let c = try parse(text)
        XCTAssertThrowsError(try SimulationRunner.run(c, configPath: "huge.yaml", out: nil, showProgress: false)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix("huge.yaml: the simulation needs ~"), s)
            XCTAssertTrue(s.contains("synapses exc->exc 2.0e14 x 4 B"), s)
            XCTAssertTrue(s.contains("are available; reduce sizes"), s)
        }
        // an explicit limit replaces the available memory in the message
        let small = try parse(edit("size: 80", "size: 50000") + "  - {pre: a, post: a, connect: {rule: all_to_all}, weight: 1 mV}\n")
        XCTAssertThrowsError(try SimulationBudget.check(small, configPath: "a2a.yaml", memoryLimit: 1 << 30)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("synapses a->a 2.5e9 x 4 B"), s)
            XCTAssertTrue(s.contains("but --max-memory allows 1.00 GiB"), s)
        }
        XCTAssertNoThrow(try SimulationBudget.check(small, configPath: "a2a.yaml", memoryLimit: 1 << 40))
    }

    /// The estimate of a small network against the storage rules of README "Storage" and the
    /// documented recording costs, computed by hand.
    func testEstimateMatchesHandComputation() throws {
        let text = """
        run: {duration: 100 ms, dt: 0.1 ms, threads: 2}
        populations:
          exc: {size: 100, model: lif_cond_exp}
          ext: {size: 50, model: poisson, params: {rate: 20 Hz}}
        projections:
          - {pre: ext, post: exc, connect: {rule: fixed_indegree, k: 10}, weight: 1 nS, delay: 1 ms}
          - {pre: exc, post: exc, connect: {rule: fixed_probability, p: 0.1}, weight: {uniform: {low: 1 nS, high: 2 nS}}, delay: 0.5 ms}
        monitors:
          spikes: [ext]
          state: [{population: exc, variables: [v], neurons: "0:10", every: 1 ms}]
          rates: {bin: 1 ms}
        """
        let c = try parse(text)
        let state: Double = 100 * (3 * 4 + 12) + 50 * (12 + 20)     // lif_cond_exp: 3 variables; poisson: next spike, offset, count
        let rings: Double = 4 * 2 * 100 * (10 + 1)                    // 2 ports, longest delay 10 steps
        let lists: Double = 8 * 150 * 6 + 4 * 100 * 6 * 2             // interval: shortest delay 5 steps + 1; 2 threads
        let indegree: Double = 10 * 100 * 4 + 8 * 51 + 4 * 50 * 1      // k * n_post targets, row pointers, row splits
        let pairs: Double = 100 * 100 - 100                            // no autapses
        let bernoulli: Double = 0.1 * pairs * 8 + 8 * 101 + 4 * 100    // drawn weights: 8 B per synapse
        let monitor: Double = 102 * (4 * 10 + 8) + 8 * 10              // 1000 steps / 10 + 2 samples
        let rates: Double = 1 * (4 * 1000 + 8 * 100)                   // the spike-monitored population (ext) only
        let spikes: Double = 12 * 20 * 50 * 0.1                        // 20 Hz x 50 neurons x 0.1 s
        let writing: Double = 102 * (16 * 10 + 48)                     // the largest temporary need
        let network: Double = state + rings + lists + indegree + bernoulli
        let expected: Double = network + monitor + rates + spikes + writing
        let e = SimulationBudget.estimate(c)
        XCTAssertEqual(e.total, expected, accuracy: 1e-6, "\(e)")
        XCTAssertEqual(SimulationBudget.estimate(c, writesOutput: false).total,
                       network + monitor + spikes + 4 * 1000, accuracy: 1e-6)   // generating the indegree projection

        // the built network stores what the rules say: exactly for the fixed indegree, within 4 sigma
        // for the Bernoulli draw (binomial count of 9900 pairs at p = 0.1)
        let compiled = try CompiledNetwork(c.network, seed: 1)
        XCTAssertEqual(compiled.synapseCounts[0], 1000)
        XCTAssertEqual(Double(compiled.synapseCounts[1]), 990, accuracy: 4 * (9900 * 0.1 * 0.9).squareRoot())
        XCTAssertEqual(Double(compiled.connectivityBytes),
                       (indegree - 200) + Double(compiled.synapseCounts[1]) * 8 + 8 * 101, accuracy: 1e-9)
    }

    // MARK: bounded YAML work

    /// A "billion laughs" document: 10 anchors, each a list of ten aliases of the previous one.
    static func bomb(levels: Int = 10, width: Int = 10) -> (defs: String, last: String) {
        var lines = ["l0: &l0 [" + Array(repeating: "lol", count: width).joined(separator: ", ") + "]"]
        for k in 1..<levels {
            lines.append("l\(k): &l\(k) [" + Array(repeating: "*l\(k - 1)", count: width).joined(separator: ", ") + "]")
        }
        return (lines.joined(separator: "\n"), "l\(levels - 1)")
    }

    func testAliasBombIsRefused() {
        let (defs, last) = Self.bomb()
        let text = defs + "\npopulations: *\(last)\n"
        XCTAssertLessThan(text.utf8.count, 1100)
        refuse(text, line: 7, key: "l6[2]", ["expands to more than 4000000 YAML nodes", "alias '*l5' here repeats 1111111 nodes"])
    }

    /// The whole bomb inside a mapping key: composing used to hash the key's full expansion (10^10
    /// nodes), which takes hours.
    func testAliasBombAsMappingKeyIsRefused() {
        var key = "{a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"
        for k in 1..<10 { key += ", a\(k): &a\(k) [" + Array(repeating: "*a\(k - 1)", count: 10).joined(separator: ", ") + "]" }
        key += "}"
        let text = "? \(key)\n: 1\npopulations: {a: {size: 1, model: if}}\n"
        XCTAssertLessThan(text.utf8.count, 1100)
        refuse(text, line: 1, key: nil, ["expands to more than 4000000 YAML nodes"])
    }

    func testAliasesWithinBudgetAreExpanded() throws {
        let text = """
        populations:
          a: {size: 3, model: lif_exp, params: &p {tau_m: 20 ms, t_ref: 2 ms}}
          b: {size: 4, model: lif_exp, params: *p}
        """
        let c = try parse(text)
        XCTAssertEqual(c.network.populations[0].model, c.network.populations[1].model)
        guard let p = c.network.populations[1].model.parameters as? LIFExpParameters else { return XCTFail() }
        XCTAssertEqual(p.tauMembrane, 20)
        // the same document under a budget one node too small is refused (at the alias); exactly enough
        // passes. Nodes: the root mapping, key 'populations' and its mapping; per population its key,
        // its mapping, 3 keys, 2 scalar values and the params mapping of 2 keys + 2 values (the alias
        // counts as the 5 nodes it repeats)
        let nodes = 3 + 2 * (1 + 1 + 3 + 2 + 5)
        refuse(text, line: 3, key: "populations.b.params", ["expands to more than \(nodes - 1) YAML nodes", "alias '*p'"],
               budget: YAMLBudget(maxNodes: nodes - 1))
        XCTAssertNoThrow(try parse(text, budget: YAMLBudget(maxNodes: nodes)))
    }

    func testDocumentSizeAndDepthAreBounded() throws {
        refuse(Self.base, line: nil, key: "", ["configs are limited to 100 B"], budget: YAMLBudget(maxBytes: 100))
        let deep = "populations: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "\n"
        refuse(deep, line: 1, key: nil, ["nested more than 64 levels"])
        // load() reads no more than the limit from a file
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nm-limits-\(UUID().uuidString).yaml")
        try Data(repeating: UInt8(ascii: "#"), count: 5000).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try ConfigNode.load(path: url.path, budget: YAMLBudget(maxBytes: 1000))) { e in
            XCTAssertTrue("\(e)".hasPrefix(url.path + ": the file is larger than 1000 B"), "\(e)")
        }
        XCTAssertThrowsError(try ConfigNode.load(path: FileManager.default.temporaryDirectory.path)) { e in
            XCTAssertTrue("\(e)".contains("is a folder"), "\(e)")
        }
    }

    func testDuplicateKeyNamesFileLineColumnAndKey() {
        let text = edit("  s: {size: 1,", "  s: {size: 1, size: 2,")
        do {
            _ = try parse(text)
            XCTFail("accepted a duplicate key")
        } catch {
            XCTAssertEqual("\(error)", "limits.yaml:4:16: duplicate key 'size' in populations.s (first at line 4)")
        }
        do {
            _ = try parse(Self.base + "run: {duration: 1 s}\n")
            XCTFail("accepted a duplicate key")
        } catch {
            XCTAssertTrue("\(error)".hasPrefix("limits.yaml:7:1: duplicate key 'run' (first at line 1)"), "\(error)")
            XCTAssertFalse("\(error)".contains("populations"), "the message must not print the document: \(error)")
        }
        // complex keys are compared by the composer; the message still names file and line only
        refuse("? [a]\n: 1\n? [a]\n: 2\n", line: 1, key: "", ["duplicate key"])
    }

    /// Every shipped simulation config parses and fits in memory with room to spare.
    func testShippedConfigsStayAccepted() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let configs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("configs").path)
            .filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("fmnist") }
        XCTAssertGreaterThanOrEqual(configs.count, 3)
        for name in configs {
            let path = root.appendingPathComponent("configs/\(name)").path
            let c = try SimulationConfig.load(path: path)
            XCTAssertNoThrow(try SimulationBudget.check(c, configPath: path, memoryLimit: 64 << 20), name)
            XCTAssertEqual(SimulationBudget.warnings(c), [], name)
        }
    }
}
