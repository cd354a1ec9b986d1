import Foundation
import XCTest
@testable import SNN

/// Networks built in code from values read from files (converted networks, saved weights) are
/// checked like configs: `validate` and `CompiledNetwork` refuse what would trap, overflow or not fit
/// in memory, with a `NetworkError` naming the population or projection.
final class NetworkLimitsTests: XCTestCase {
    let lif = Population(name: "a", size: 10, model: .lifExp(LIFExpParameters()))
    let src = Population(name: "s", size: 2, model: .spikeSource(times: [[1], [2]]))

    func net(_ pops: [Population]? = nil, _ projs: [Projection] = [], currents: [CurrentInput] = []) -> Network {
        Network(dt: 0.1, populations: pops ?? [lif, src], projections: projs, currents: currents)
    }

    /// `n` is refused by `validate` (and by `CompiledNetwork`) with a message containing every fragment.
    func refuse(_ n: Network, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        for attempt in 0..<2 {
            do {
                if attempt == 0 { try n.validate() } else { _ = try CompiledNetwork(n, seed: 1) }
                XCTFail("accepted; expected \(fragments)", file: file, line: line)
            } catch let e as NetworkError {
                for f in fragments { XCTAssertTrue(e.message.contains(f), "'\(f)' not in: \(e)", file: file, line: line) }
            } catch {
                XCTFail("not a NetworkError: \(error)", file: file, line: line)
            }
        }
    }

    func sparse(_ c: Connectivity, weight: Distribution = .constant(1), delay: Distribution = .constant(0.1), pre: String = "s") -> Projection {
        Projection(pre: pre, post: "a", kind: .sparse(c), weight: weight, delay: delay)
    }

    func testModelParametersAreNeverNaN() throws {
        var p = LIFExpParameters()
        p.capacitance = .nan
        refuse(net([Population(name: "x", size: 3, model: .lifExp(p))]), ["population 'x'", "capacitance is NaN"])
        var c = LIFCondExpParameters()
        c.biasCurrent = .nan
        refuse(net([Population(name: "x", size: 3, model: .lifCondExp(c))]), ["biasCurrent is NaN"])
        refuse(net([Population(name: "x", size: 3, model: .poisson(rateHz: .nan))]), ["population 'x'"])
        // infinite time constants give NaN propagators (inf/inf): caught on the engine's parameters
        var l2 = LIFExpParameters(); l2.tauMembrane = .infinity; l2.capacitance = .infinity
        refuse(net([Population(name: "x", size: 3, model: .lifExp(l2))]), ["engine parameter", "is NaN"])
        // a threshold of +inf is a neuron that never fires (converted output layers): allowed
        var never = IFParameters(); never.threshold = .infinity
        XCTAssertNoThrow(try net([Population(name: "x", size: 3, model: .integrateAndFire(never))]).validate())
        // every model with a refractory period: at most 2^31 - 1 steps
        var i = IFParameters(); i.refractoryPeriod = 1e12
        var h = HHParameters(); h.refractoryPeriod = 1e12
        var ad = AdExParameters(); ad.refractoryPeriod = 1e12
        var l = LIFExpParameters(); l.refractoryPeriod = 1e12
        var lc = LIFCondExpParameters(); lc.refractoryPeriod = 1e12
        for m in [NeuronModel.integrateAndFire(i), .hodgkinHuxley(h), .adex(ad), .lifExp(l), .lifCondExp(lc)] {
            refuse(net([Population(name: "x", size: 3, model: m)]), ["refractory period", "2^31 - 1 steps"])
        }
        XCTAssertNoThrow(try net().validate())
    }

    func testStepCountsFromTimes() {
        refuse(net([lif, Population(name: "s", size: 1, model: .spikeSource(times: [[1e20]]))]), ["spike time", "steps"])
        refuse(net(currents: [CurrentInput(population: "a", times: [0, 1e300], amplitudes: [1, 0])]), ["time 1e+300 ms"])
        refuse(net(currents: [CurrentInput(population: "a", times: [0], amplitudes: [.infinity])]), ["amplitude inf"])
        refuse(net(currents: [CurrentInput(population: "a", times: [0], amplitudes: [1], perNeuron: [Float](repeating: .nan, count: 10))]),
               ["per-neuron factor 0 is nan"])
        XCTAssertNil(net().steps(1e300))
        XCTAssertNil(net().steps(-1))
        XCTAssertEqual(net().steps(1000), 10_000)
    }

    func testConnectionRuleNumbers() {
        refuse(net([lif, src], [sparse(.fixedIndegree(3_000_000_000))]), ["indegree 3000000000", "2147483647"])
        refuse(net([lif, src], [sparse(.fixedOutdegree(-1))]), ["outdegree -1"])
        refuse(net([lif, src], [sparse(.fixedIndegree(3, multapses: false))]), ["indegree 3 impossible for 2 sources"])
        refuse(net([lif], [sparse(.fixedIndegree(10, multapses: false), pre: "a")]), ["indegree 10 impossible for 9 sources"])
        refuse(net([lif, src], [sparse(.fixedProbability(.nan))]), ["p must be in [0, 1]"])
        refuse(net([lif, src], [sparse(.list(pairs: [(0, 1)], delays: [1e10]))]), ["delay 10000000000.0 ms is longer than 65534 steps"])
        refuse(net([lif, src], [sparse(.list(pairs: [(0, 1)], weights: [1e39]))]), ["weight 1e+39"])
        refuse(net([lif, src], [sparse(.allToAll(), weight: .lognormal(mu: 80, sigma: 2))]), ["beyond single precision"])
        refuse(net([lif, src], [sparse(.allToAll(), weight: .normal(mean: .infinity, std: 1))]), ["weight", "finite"])
        refuse(net([lif, src], [sparse(.allToAll(), delay: .constant(.nan))]), ["delay"])
    }

    /// Geometry from a converted network's file: a zero stride used to divide by zero, huge sizes to
    /// overflow.
    func testStructuredGeometriesAreCheckedBeforeUse() {
        let a = Population(name: "in", size: 4, model: .integrateAndFire(IFParameters()))
        let b = Population(name: "out", size: 4, model: .integrateAndFire(IFParameters()))
        func conv(_ g: ConvGeometry, kernel: [Float] = [1]) -> Network {
            Network(dt: 1, populations: [a, b], projections: [Projection(pre: "in", post: "out", kind: .conv(g, kernel: kernel), delay: .constant(0))])
        }
        refuse(conv(ConvGeometry(inHeight: 2, inWidth: 2, inChannels: 1, outChannels: 1, kernelHeight: 1, kernelWidth: 1, stride: 0)),
               ["conv geometry", "stride 0"])
        refuse(conv(ConvGeometry(inHeight: 65535, inWidth: 65535, inChannels: 65535, outChannels: 1, kernelHeight: 1, kernelWidth: 1)),
               ["exceed 2^31 - 1"])
        refuse(conv(ConvGeometry(inHeight: 2, inWidth: 2, inChannels: 1, outChannels: 1, kernelHeight: 5, kernelWidth: 1)),
               ["does not fit"])
        let ok = ConvGeometry(inHeight: 2, inWidth: 2, inChannels: 1, outChannels: 1, kernelHeight: 1, kernelWidth: 1)
        XCTAssertNil(ok.problem)
        refuse(conv(ok, kernel: [.nan]), ["kernel value 0 is nan"])
        refuse(Network(dt: 1, populations: [a, b], projections: [Projection(pre: "in", post: "out",
               kind: .maxPool(ConvGeometry(inHeight: 2, inWidth: 2, inChannels: 1, outChannels: 1, kernelHeight: 2, kernelWidth: 2, stride: -2, depthwise: true)),
               delay: .constant(0))]), ["max-pool geometry", "stride -2"])
        refuse(Network(dt: 1, populations: [a, b], projections: [Projection(pre: "in", post: "out",
               kind: .dense(weights: [Float](repeating: 1, count: 15) + [.infinity]), delay: .constant(0))]), ["dense weight 15 is inf"])
    }

    /// The estimate refuses what does not fit before anything is generated; it names the largest parts.
    func testCompiledNetworkRefusesWhatDoesNotFit() throws {
        let big = Population(name: "big", size: 50_000, model: .lifExp(LIFExpParameters()))
        let n = Network(dt: 0.1, populations: [big], projections: [
            Projection(pre: "big", post: "big", kind: .sparse(.allToAll()), weight: .constant(1), delay: .constant(0.1))])
        XCTAssertThrowsError(try CompiledNetwork(n, seed: 1, memoryLimit: 1 << 30)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("the network needs ~9.3"), s)
            XCTAssertTrue(s.contains("synapses big->big 2.5e9 x 4 B"), s)
            XCTAssertTrue(s.contains("but 1.00 GiB are available"), s)
        }
        // 99,999,999 neurons at p = 0.02 against the memory of this machine
        let huge = Population(name: "exc", size: 99_999_999, model: .lifExp(LIFExpParameters()))
        let h = Network(dt: 0.1, populations: [huge], projections: [
            Projection(pre: "exc", post: "exc", kind: .sparse(.fixedProbability(0.02)), weight: .constant(1), delay: .constant(0.1))])
        XCTAssertThrowsError(try CompiledNetwork(h, seed: 1)) { e in XCTAssertTrue("\(e)".contains("synapses exc->exc 2.0e14 x 4 B"), "\(e)") }
    }

    /// For rules with a fixed synapse count the estimate's connectivity is exactly what is stored.
    func testEstimateEqualsStoredConnectivityForFixedRules() throws {
        let b = Population(name: "b", size: 7, model: .lifExp(LIFExpParameters()))
        let pops = [lif, b]
        let rules: [(Connectivity, Distribution, Distribution)] = [
            (.allToAll(), .constant(1), .constant(0.1)),
            (.oneToOne, .uniform(low: 1, high: 2), .constant(0.1)),
            (.fixedIndegree(3), .constant(1), .uniform(low: 0.1, high: 0.5)),
            (.fixedOutdegree(4, multapses: false), .normal(mean: 1, std: 0.1), .uniform(low: 0.1, high: 0.5)),
            (.list(pairs: [(0, 1), (2, 3), (0, 1)], weights: [1, 2, 3], delays: nil), .constant(1), .constant(0.2)),
        ]
        for (c, w, d) in rules {
            let post = c == .oneToOne ? "a" : "b"
            let n = Network(dt: 0.1, populations: pops, projections: [Projection(pre: "a", post: post, kind: .sparse(c), weight: w, delay: d)])
            let compiled = try CompiledNetwork(n, seed: 3)
            let e = MemoryEstimate.network(n, threads: 1)
            let part = try XCTUnwrap(e.parts.first { $0.name.hasPrefix("synapses") }, "\(c)")
            XCTAssertEqual(part.bytes, Double(compiled.connectivityBytes), "\(c): \(e)")
        }
    }

    /// Vanishing probabilities: the geometric gap between events exceeds 32 bits; it used to become 0
    /// (generation looped forever, a Poisson source fired every step).
    func testVanishingProbabilitiesTerminateWithNoEvents() throws {
        let s = Population(name: "s", size: 300, model: .poisson(rateHz: 1e-12))
        let t = Population(name: "t", size: 300, model: .lifExp(LIFExpParameters()))
        let n = Network(dt: 0.1, populations: [s, t], projections: [
            Projection(pre: "s", post: "t", kind: .sparse(.fixedProbability(1e-300)), weight: .constant(1), delay: .constant(0.1))])
        let sim = try Simulator(CompiledNetwork(n, seed: 1))
        XCTAssertEqual(sim.totalSynapses, 0)
        try sim.run(steps: 1000, threads: 1)
        XCTAssertEqual(sim.spikeCount("s"), 0)
    }

    func testSimulatorRefusesBadMonitorsAndRunLengths() throws {
        let sim = try Simulator(CompiledNetwork(net(), seed: 1))
        XCTAssertThrowsError(try sim.recordState("a", variable: "v", neurons: [0], everyMs: 1e10)) { e in
            XCTAssertTrue("\(e)".contains("sampling interval"), "\(e)")
        }
        XCTAssertThrowsError(try sim.recordState("a", variable: "v", neurons: [1 << 40], everyMs: 0.1)) { e in
            XCTAssertTrue("\(e)".contains("neuron 1099511627776 out of range"), "\(e)")
        }
        XCTAssertThrowsError(try sim.run(milliseconds: 1e300)) { e in XCTAssertTrue("\(e)".contains("1e+300 ms"), "\(e)") }
        XCTAssertThrowsError(try sim.run(steps: Network.maxSteps + 1))
        try sim.run(milliseconds: 1)
        XCTAssertEqual(sim.step, 10)
    }
}
