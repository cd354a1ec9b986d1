import Foundation
import XCTest
@testable import Experiment
import SNN

/// The config parser reads every registered model's parameters from the model's own table: each
/// parameter written with its default is accepted and gives the default model; each value that breaks
/// one of its rules (or cannot be a value of its kind at all) is refused naming the file, line and key.
/// Iterates over `NeuronModels.all`, so a new model is covered without a change here.
final class ModelParameterConfigTests: XCTestCase {
    /// A config with one population `x` of `model` (size 1) with these params.
    func config(_ model: String, _ params: [String]) -> String {
        """
        run: {dt: 0.1 ms, duration: 1 ms}
        populations:
          x:
            size: 1
            model: \(model)
            params: {\(params.joined(separator: ", "))}
        """
    }
    func parse(_ text: String) throws -> SimulationConfig { try SimulationConfig.parse(ConfigNode.parse(text, file: "m.yaml")) }

    /// What a config must write for a required parameter (a valid value), keyed by parameter key.
    func requiredValue<M: NeuronModelKind>(_ p: ModelParameter<M>) -> String {
        switch p.kind {
        case .timeLists: return "[[1 ms, 2.5 ms]]"
        case .quantity(let d, _): return "1 \(d.canonicalUnit)"
        case .choice(let on, _, _): return on
        }
    }

    /// Text for value `x` of dimension `d` (full precision, so that it parses back exactly).
    func text(_ x: Double, _ d: SNN.Dimension) -> String { d.canonicalUnit.isEmpty ? String(format: "%.17g", x) : "\(String(format: "%.17g", x)) \(d.canonicalUnit)" }

    func testEveryParameterIsAcceptedWithItsDefaultAndRefusedOutOfRange() throws {
        var checked = 0, refusals = 0
        for kind in NeuronModels.all {
            func run<M: NeuronModelKind>(_ m: M.Type) throws {
                let required = M.parameters.filter(\.required).map { "\($0.key): \(requiredValue($0))" }
                let base = try parse(config(M.name, required)).network.populations[0].model
                for p in M.parameters {
                    // (1) written with another valid value than the default (default + 0.5, the other word, a
                    // list): the parsed model differs from the default exactly there
                    var assignment: String, expected: M = base.parameters as! M
                    switch p.kind {
                    case .quantity(let d, let path):
                        let x = M()[keyPath: path]
                        let v = p.required ? 2.0 : x.isFinite ? x + 0.5 : -80.0
                        assignment = text(v, d)
                        expected[keyPath: path] = v
                    case .choice(let on, let off, let path):
                        let flag = !M()[keyPath: path]   // the other word than the default
                        assignment = flag ? on : off
                        expected[keyPath: path] = flag
                    case .timeLists(let path):
                        assignment = "[[0.1 ms, 7 ms]]"
                        expected[keyPath: path] = [[0.1, 7]]
                    }
                    let others = required.filter { !$0.hasPrefix(p.key + ":") }
                    let got = try parse(config(M.name, others + ["\(p.key): \(assignment)"])).network.populations[0].model
                    XCTAssertEqual(got, NeuronModel(expected), "\(M.name).\(p.key): \(assignment)")
                    checked += 1
                    // (2) refused: every rule broken on its own, or a value its kind cannot take
                    var bad: [(String, String)] = []
                    switch p.kind {
                    case .quantity(let d, _):
                        bad.append((text(1e39, d), "out of range"))   // beyond single precision: no parameter takes it
                        for r in p.rules {
                            switch r {
                            case .positive: bad.append((text(0, d), "\(p.key) must be > 0"))
                            case .nonNegative: bad.append((text(-1, d), "\(p.key) must be >= 0"))
                            case .below(let k): bad.append((text((M.parameters.first { $0.key == k }!.number(in: base.parameters as! M)!) + 1, d), "\(p.key) must be below \(k)"))
                            case .above(let k): bad.append((text((M.parameters.first { $0.key == k }!.number(in: base.parameters as! M)!) - 1, d), "\(p.key) must be above \(k)"))
                            case .steps: bad.append((text(1e14, d), "\(p.key) must be at most 2^31 - 1 steps of dt"))
                            case .perStepAtMost(let m): bad.append((text(2 * m * 1000 / 0.1, d), "\(p.key) must be at most \(String(format: "%g", m)) spikes per step"))
                            }
                        }
                    case .choice(let on, let off, _): bad.append(("\(on)\(off)", "\(on)"))
                    case .timeLists: bad.append(("[[0.05 ms]]", "spike times must be >= dt"))
                    }
                    for (value, needle) in bad {
                        let t = config(M.name, others + ["\(p.key): \(value)"])
                        do {
                            _ = try parse(t)
                            XCTFail("\(M.name).\(p.key): \(value) accepted")
                        } catch let e as ConfigError {
                            XCTAssertEqual(e.file, "m.yaml")
                            XCTAssertEqual(e.line, 6, "\(M.name).\(p.key): \(value): \(e)")
                            XCTAssertTrue(e.key.hasPrefix("populations.x.params.\(p.key)"), "\(M.name).\(p.key): \(value): key \(e.key)")
                            XCTAssertTrue(e.description.contains(needle), "\(M.name).\(p.key): \(value): '\(needle)' not in \(e)")
                            refusals += 1
                        }
                    }
                }
                // a key of no parameter, with the model's parameters listed as the alternatives
                XCTAssertThrowsError(try parse(config(M.name, required + ["V_nope: 1 mV"]))) { e in
                    XCTAssertTrue("\(e)".contains("unknown key 'V_nope'") && "\(e)".contains("parameters of \(M.name)"), "\(e)")
                }
                // a required parameter left out
                for p in M.parameters where p.required {
                    XCTAssertThrowsError(try parse(config(M.name, required.filter { !$0.hasPrefix(p.key + ":") }))) { e in
                        XCTAssertTrue("\(e)".contains("needs params: {\(p.key): ...}"), "\(e)")
                    }
                }
            }
            try run(kind)
        }
        XCTAssertGreaterThan(checked, 60)
        XCTAssertGreaterThan(refusals, 100)
    }

    /// State variables' initial values are read with the variable's dimension.
    func testInitialValuesUseTheVariablesDimensions() throws {
        let c = try parse("""
            populations:
              a: {size: 2, model: lif_exp, initial: {v: -60 mV, i_exc: 100 pA}}
            """)
        XCTAssertEqual(c.network.populations[0].initial["i_exc"], .constant(100))
        XCTAssertThrowsError(try parse("""
            populations:
              a: {size: 2, model: lif_exp, initial: {i_exc: 100 mV}}
            """)) { e in XCTAssertTrue("\(e)".contains("not a unit of current"), "\(e)") }
    }
}
