import Foundation
import XCTest
import CEngine
@testable import SNN

/// Saving a built network (for neuromorph-run) and loading it back in C.
/// A NUL-terminated C message buffer as a String.
func cMessage(_ a: [CChar]) -> String { String(decoding: a.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }

final class SaveLoadTests: XCTestCase {
    func tempFile(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-saveload-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    /// A network touching every saved part: Poisson input with per-neuron rates, a spike source, sparse
    /// projections with per-synapse weights and delays, a recording mask, same-step conv (padding) and
    /// pooling, a max-pool gate, dense, an IF population with a constant current, and a state monitor.
    func richNetwork() -> Network {
        var lif = LIFCondExpParameters()
        lif.capacitance = 200; lif.leakConductance = 10; lif.restingPotential = -60; lif.threshold = -50
        lif.resetPotential = -60; lif.refractoryPeriod = 2; lif.tauExc = 5; lif.tauInh = 10
        var relay = IFParameters(); relay.threshold = 1; relay.biasCurrent = 0.02
        let conv = ConvGeometry(inHeight: 8, inWidth: 8, inChannels: 2, outChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)
        let pool = ConvGeometry(inHeight: 8, inWidth: 8, inChannels: 16, outChannels: 16, kernelHeight: 2, kernelWidth: 2, stride: 2, depthwise: true)
        let gate = ConvGeometry(inHeight: 4, inWidth: 4, inChannels: 16, outChannels: 16, kernelHeight: 2, kernelWidth: 2, stride: 2, depthwise: true)
        var rng: UInt64 = 3
        func w(_ n: Int) -> [Float] { (0..<n).map { _ in rng = rng &* 6364136223846793005 &+ 1; return Float(Int(rng >> 40) % 1000) / 1000 - 0.2 } }
        let pops = [
            Population(name: "noise", size: 128, model: .poisson(rateHz: 40)),
            Population(name: "cue", size: 4, model: .spikeSource(times: [[1, 5], [2], [], [7.5, 9]])),
            Population(name: "exc", size: 160, model: .lifCondExp(lif), initial: ["v": .normal(mean: -55, std: 4)]),
            Population(name: "grid", size: 128, model: .integrateAndFire(relay)),
            Population(name: "conv", size: conv.outputSize, model: .integrateAndFire(relay)),
            Population(name: "pool", size: pool.outputSize, model: .integrateAndFire(relay)),
            Population(name: "gated", size: gate.outputSize, model: .integrateAndFire(relay)),
            Population(name: "out", size: 10, model: .integrateAndFire(relay)),
        ]
        let projs = [
            Projection(pre: "noise", post: "exc", kind: .sparse(.fixedIndegree(10)), weight: .uniform(low: 2, high: 6), delay: .uniform(low: 0.1, high: 2)),
            Projection(pre: "cue", post: "exc", kind: .sparse(.allToAll(autapses: true)), weight: .constant(30), delay: .constant(1)),
            Projection(pre: "exc", post: "exc", kind: .sparse(.fixedProbability(0.1)), weight: .normal(mean: 3, std: 1), delay: .constant(0.5)),
            Projection(pre: "noise", post: "grid", kind: .sparse(.oneToOne), weight: .constant(0.6), delay: .constant(0.1)),
            Projection(pre: "grid", post: "conv", kind: .conv(conv, kernel: w(conv.kernelCount)), delay: .constant(0)),
            Projection(pre: "conv", post: "pool", kind: .conv(pool, kernel: [Float](repeating: 0.25, count: pool.kernelCount)), delay: .constant(0)),
            Projection(pre: "pool", post: "gated", kind: .maxPool(gate), weight: .constant(1), delay: .constant(0)),
            Projection(pre: "gated", post: "out", kind: .dense(weights: w(gate.outputSize * 10)), delay: .constant(0)),
        ]
        return Network(dt: 0.1, populations: pops, projections: projs)
    }

    func recorded(_ e: OpaquePointer, pops: Int) -> [[Int64]] {
        (0..<pops).map { p in
            let n = Int(nm_rec_count(e, Int32(p)))
            guard n > 0 else { return [] }
            let st = UnsafeBufferPointer(start: nm_rec_steps(e, Int32(p)), count: n)
            let id = UnsafeBufferPointer(start: nm_rec_ids(e, Int32(p)), count: n)
            return zip(st, id).map { $0 * 100_000 + Int64($1) }
        }
    }

    /// The loaded network, run in C, gives the same spikes (every population, with a recording mask on
    /// one), synaptic events and sampled state as the original on 1 and 2 threads; population names
    /// come back.
    func testSavedNetworkRunsIdentically() throws {
        let net = richNetwork()
        let sim = try Simulator(CompiledNetwork(net, seed: 21))
        for p in net.populations where p.name != "exc" { try sim.recordSpikes(p.name) }
        try sim.recordSpikes("exc", neurons: Array(stride(from: 0, to: 160, by: 3)))
        let mon = try sim.recordState("exc", variable: "v", neurons: [0, 7, 99], everyMs: 0.5)
        let path = tempFile("rich.nmnet")
        try sim.saveNetwork(to: path)
        try sim.run(steps: 400, threads: 1)
        let original = recorded(sim.engine, pops: net.populations.count)
        XCTAssertGreaterThan(original.reduce(0) { $0 + $1.count }, 500)
        for (k, p) in net.populations.enumerated() where !["cue", "out"].contains(p.name) {
            XCTAssertFalse(original[k].isEmpty, "\(p.name) fires")
        }
        let events = (0..<net.projections.count).map { sim.synapticEvents(projection: $0) }
        let trace = sim.trace(mon)
        for threads: Int32 in [1, 2] {
            var err = [CChar](repeating: 0, count: 512)
            var meta = nm_net_meta()
            guard let e = nm_engine_load(path, &meta, &err, err.count) else { return XCTFail(cMessage(err)) }
            defer { nm_engine_free(e) }
            XCTAssertEqual((0..<net.populations.count).map { String(cString: meta.pop_names[$0]!) }, net.populations.map(\.name))
            XCTAssertEqual(String(cString: meta.mon_names[0]!), "v")
            XCTAssertEqual(meta.mon_scales[0], 1)
            XCTAssertEqual(nm_engine_run(e, 400, threads), 0, String(cString: nm_engine_error(e)))
            let got = recorded(e, pops: net.populations.count)
            XCTAssertTrue(got == original, "\(threads) threads: spikes per population \(got.map(\.count)) vs \(original.map(\.count))")
            XCTAssertEqual((0..<net.projections.count).map { nm_proj_events(e, Int32($0)) }, events)
            let ns = Int(nm_state_samples(e, 0))
            XCTAssertEqual(ns, trace.values.count)
            let data = Array(UnsafeBufferPointer(start: nm_state_data(e, 0), count: ns * 3))
            XCTAssertTrue(data == trace.values.flatMap { $0 }, "sampled state differs")
        }
        // saving after a run is refused
        XCTAssertThrowsError(try sim.saveNetwork(to: tempFile("late.nmnet")))
    }

    /// A missing, foreign, truncated or padded file is refused with a message naming it; nothing is
    /// half-written when saving fails.
    func testBadNetworkFilesAreRefused() throws {
        let sim = try Simulator(CompiledNetwork(smallCOBA(n: 200), seed: 2))
        let path = tempFile("good.nmnet")
        try sim.saveNetwork(to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        func load(_ data: Data?, _ name: String) -> String? {
            let p = tempFile(name)
            if let data { try? data.write(to: URL(fileURLWithPath: p)) } else { try? FileManager.default.removeItem(atPath: p) }
            var err = [CChar](repeating: 0, count: 512)
            if let e = nm_engine_load(p, nil, &err, err.count) { nm_engine_free(e); return nil }
            let msg = cMessage(err)
            XCTAssertTrue(msg.contains(p), "message names the file: \(msg)")
            return msg
        }
        XCTAssertNil(load(good, "copy.nmnet"))
        XCTAssertTrue(load(nil, "missing.nmnet")?.contains("cannot open") ?? false)
        XCTAssertTrue(load(Data("name: cuba\nrun: {}\n".utf8), "yaml.nmnet")?.contains("not a neuromorph network file") ?? false)
        for cut in [4, 20, 100, good.count / 3, good.count / 2, good.count - 9, good.count - 1] {
            let msg = load(good.prefix(cut), "cut\(cut).nmnet")
            XCTAssertNotNil(msg, "truncated at \(cut) of \(good.count) bytes")
        }
        XCTAssertTrue(load(good + Data([0]), "padded.nmnet")?.contains("end marker") ?? false)
        var bad = good
        bad[8] = 0; bad[9] = 0; bad[10] = 0; bad[11] = 0; bad[12] = 0; bad[13] = 0; bad[14] = 0xf0; bad[15] = 0xbf   // payload length
        XCTAssertTrue(load(bad, "len.nmnet")?.contains("header") ?? false)
        // an unwritable destination: error, and no file (temporary or final) left behind
        let dir = tempFile("missing-dir/sub")
        XCTAssertThrowsError(try sim.saveNetwork(to: dir + "/net.nmnet"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir))
    }
}
