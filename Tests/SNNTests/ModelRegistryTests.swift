import CEngine
import Foundation
import XCTest
@testable import SNN

/// The model registries: every model registered in Swift (`NeuronModels.all`) has the engine's model of
/// the same name with the same state variables, ports and parameter names; every model documents its
/// parameters and units and appears in README's model table; every model round-trips through a saved
/// network; files of the previous format are refused with the way to re-create them.
final class ModelRegistryTests: XCTestCase {
    func engineModels() -> [nm_model_info] {
        var out: [nm_model_info] = [], info = nm_model_info(), k: Int32 = 0
        while nm_model_at(k, &info) == 0 { out.append(info); k += 1 }
        return out
    }

    func testSwiftAndEngineTablesAgree() {
        let engine = engineModels()
        XCTAssertEqual(engine.map { String(cString: $0.name) }, NeuronModels.names, "the same models, in the same order")
        XCTAssertEqual(Set(NeuronModels.names).count, NeuronModels.names.count, "names are unique")
        for (kind, info) in zip(NeuronModels.all, engine) {
            let name = kind.name
            let vars = (0..<info.nvars).map { j -> String in String(cString: nm_model_var_name(name, j, nil)) }
            XCTAssertEqual(vars, kind.variables.map(\.name), "\(name): state variables")
            XCTAssertEqual(Int(info.nports), kind.receptors.count, "\(name): ports")
            if let w = kind.weightDimensions.first {
                XCTAssertEqual(String(cString: info.weight_unit), w.canonicalUnit, "\(name): the engine's weight unit")
            } else {
                XCTAssertEqual(info.nports, 0, "\(name): a model without weights is a spike source")
            }
            let cParams = (0..<info.nparams).map { j -> String in String(cString: nm_model_param_name(name, j, nil)) }
            let swiftParams = kind.init().engineParameters(dt: 0.1).map(\.name)
            XCTAssertEqual(Set(swiftParams).count, swiftParams.count, "\(name): every engine parameter once")
            XCTAssertEqual(Set(swiftParams), Set(cParams), "\(name): Swift passes exactly the engine's parameters")
        }
        XCTAssertNil(NeuronModels.named("nope"))
        XCTAssertEqual(NeuronModels.named("lif_exp")?.name, "lif_exp")
    }

    /// Every parameter has a key, documentation and (for numbers) a dimension whose unit the table shows;
    /// every state variable a unit that matches its dimension; every model a one-line summary, and a row
    /// in README's model table that names each of its config parameters.
    func testEveryModelDocumentsItsParametersWithUnits() throws {
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        for kind in NeuronModels.all {
            func check<M: NeuronModelKind>(_ m: M.Type) {
                XCTAssertFalse(M.summary.isEmpty, M.name)
                XCTAssertEqual(Set(M.parameters.map(\.key)).count, M.parameters.count, "\(M.name): unique keys")
                for p in M.parameters {
                    XCTAssertFalse(p.key.isEmpty || p.doc.isEmpty, "\(M.name).\(p.key): documented")
                    XCTAssertFalse(p.defaultText.isEmpty, "\(M.name).\(p.key): a default")
                    if let d = p.dimension, d != .dimensionless, p.defaultText != "none", !p.required {
                        XCTAssertTrue(p.defaultText.hasSuffix(" " + d.canonicalUnit), "\(M.name).\(p.key): default with its unit, got \(p.defaultText)")
                    }
                }
                for v in M.variables {
                    XCTAssertFalse(v.unit.isEmpty, "\(M.name).\(v.name): unit")
                    if v.dimension != .dimensionless { XCTAssertEqual(v.unit, v.dimension.canonicalUnit, "\(M.name).\(v.name)") }
                }
                guard let row = readme.split(separator: "\n").first(where: { $0.hasPrefix("| `\(M.name)`") }) else {
                    return XCTFail("README's model table has no row for \(M.name)")
                }
                for p in M.parameters { XCTAssertTrue(row.contains("`\(p.key)`"), "README's row of \(M.name) names \(p.key)") }
            }
            check(kind)
        }
    }

    /// One population of every registered model (spike sources included, a Poisson drive into every
    /// model with ports) is saved and loaded: the loaded engine has each population's model and every
    /// engine parameter with the value Swift gave, and runs to the same spikes as the original.
    func testEveryModelRoundTripsThroughASavedNetwork() throws {
        let dt = 0.1
        var pops: [Population] = [Population(name: "drive", size: 40, model: .poisson(rateHz: 800), rates: (0..<40).map { 500 + 10 * Double($0) })]
        var projs: [Projection] = []
        for kind in NeuronModels.all {
            let name = "m_" + kind.name
            switch kind.name {   // the models that need data to exist (a test may name them)
            case SpikeSourceParameters.name: pops.append(Population(name: name, size: 3, model: .spikeSource(times: [[1, 2.5], [], [4]])))
            default: pops.append(Population(name: name, size: 20, model: NeuronModel(kind.init())))
            }
            guard let w = kind.weightDimensions.first else { continue }
            let weight = w == .conductance ? 40.0 : w == .voltage ? 6.0 : 400.0
            projs.append(Projection(pre: "drive", post: name, kind: .sparse(.fixedIndegree(8)), weight: .constant(weight), delay: .constant(0.2)))
        }
        let net = Network(dt: dt, populations: pops, projections: projs)
        let sim = try Simulator(CompiledNetwork(net, seed: 3))
        for p in net.populations { try sim.recordSpikes(p.name) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-registry-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("all.nmnet").path
        try sim.saveNetwork(to: path)

        var err = [CChar](repeating: 0, count: 512)
        let e = try XCTUnwrap(nm_engine_load(path, nil, &err, err.count), cMessage(err))
        defer { nm_engine_free(e) }
        for (i, p) in net.populations.enumerated() {
            XCTAssertEqual(String(cString: nm_pop_model(e, Int32(i))), p.model.name)
            for (name, value) in p.model.parameters.engineParameters(dt: dt) {
                var got = 0.0
                XCTAssertEqual(nm_pop_param(e, Int32(i), name, &got), 0, "\(p.name).\(name)")
                XCTAssertEqual(got.bitPattern, value.bitPattern, "\(p.name).\(name): \(got) vs \(value)")
            }
        }
        try sim.run(milliseconds: 30, threads: 1)
        XCTAssertEqual(nm_engine_run(e, 300, 1), 0, String(cString: nm_engine_error(e)))
        var total = 0
        for (i, p) in net.populations.enumerated() {
            let a = sim.spikes(p.name)
            let n = Int(nm_rec_count(e, Int32(i)))
            let steps = n > 0 ? Array(UnsafeBufferPointer(start: nm_rec_steps(e, Int32(i)), count: n)) : []
            let ids = n > 0 ? Array(UnsafeBufferPointer(start: nm_rec_ids(e, Int32(i)), count: n)) : []
            XCTAssertEqual(a.steps, steps, p.name)
            XCTAssertEqual(a.ids, ids, p.name)
            if !p.model.isSource { XCTAssertGreaterThan(a.count, 0, "\(p.name) should spike") }
            total += a.count
        }
        XCTAssertGreaterThan(total, 100)
    }

    /// A file of format version 2 (models by number, positional parameters: a complete empty network in
    /// that format, checksum included) is refused before anything is read, saying it is an older format
    /// and how to re-create it.
    func testVersion2FilesAreRefusedWithTheWayToRecreateThem() throws {
        var payload: [UInt8] = []
        withUnsafeBytes(of: 0.1) { payload += $0 }
        withUnsafeBytes(of: UInt64(5)) { payload += $0 }
        payload += [UInt8](repeating: 0, count: 16) + Array("NMEND".utf8) + [0, 0, 0]
        var file: [UInt8] = Array("NMNET".utf8) + [0, 0, 2]
        withUnsafeBytes(of: UInt64(payload.count)) { file += $0 }
        withUnsafeBytes(of: nm_net_checksum(payload, payload.count)) { file += $0 }
        file += payload
        var err = [CChar](repeating: 0, count: 512)
        XCTAssertNil(nm_engine_load_buffer(file, file.count, "old.nmnet", nil, &err, err.count))
        let msg = cMessage(err)
        XCTAssertTrue(msg.hasPrefix("old.nmnet: a network file of an older format (version 2; this neuromorph reads version 4"), msg)
        XCTAssertTrue(msg.contains("saves models by name with named parameters, Poisson inputs and the poisson model's draw"), msg)
        XCTAssertTrue(msg.hasSuffix("re-create it with: neuromorph simulate CONFIG --save-network old.nmnet"), msg)
        // the same bytes as version 4 are read as a (valid, empty) network: only the version refused it
        file[7] = UInt8(NM_NET_VERSION)
        let e = nm_engine_load_buffer(file, file.count, "new.nmnet", nil, &err, err.count)
        XCTAssertNotNil(e, cMessage(err))
        nm_engine_free(e)
    }
}
