import Foundation
import XCTest
import CEngine
@testable import SNN

/// Runs whose state becomes NaN or infinite stop with the population, variable, neuron and time
/// window; the AdEx solver's work per step is bounded. Expectations come from the construction of
/// each network (which neuron receives an overflowing input, and when), not from a previous run.
final class NonFiniteStateTests: XCTestCase {
    /// Healthy background plus `kick` spikes that reach chosen neurons of "exc" through two synapses of
    /// 3e38 nS each: their sum overflows float, the conductance becomes +inf and v NaN in the update
    /// that consumes them (spike at t, delay 0.1 ms: v is NaN from t + 0.2 ms).
    func kicked(_ times: [[Double]], targets: [[Int]]) throws -> Simulator {
        var lif = LIFCondExpParameters()
        lif.threshold = -50; lif.resetPotential = -60; lif.restingPotential = -60
        var pairs: [(Int, Int)] = []
        for (k, ts) in targets.enumerated() { for t in ts { pairs += [(k, t), (k, t)] } }
        return try makeSim([
            Population(name: "bg", size: 30, model: .lifCondExp(lif)),
            Population(name: "kick", size: times.count, model: .spikeSource(times: times)),
            Population(name: "exc", size: 200, model: .lifCondExp(lif), initial: ["v": .uniform(low: -60, high: -52)]),
        ], [
            Projection(pre: "kick", post: "exc", kind: .sparse(.list(pairs: pairs)), weight: .constant(3e38), delay: .constant(0.1)),
            Projection(pre: "bg", post: "exc", kind: .sparse(.fixedProbability(0.2)), weight: .constant(1), delay: .constant(0.1)),
        ])
    }

    func fault(_ sim: Simulator, ms: Double, threads: Int, file: StaticString = #filePath, line: UInt = #line) -> SimulationFault? {
        do {
            try sim.run(milliseconds: ms, threads: threads)
            XCTFail("the run should have stopped", file: file, line: line)
            return nil
        } catch let f as SimulationFault {
            return f
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    /// Neurons 150 and 170 (owned by the second thread when there are two) blow up at 1.2 ms, neuron 20
    /// at 5.2 ms: the run stops at the first check after 1.2 ms (step 16 = 1.6 ms) and names exc.v,
    /// neuron 150 (the lowest non-finite one), on 1, 2 and 3 threads alike.
    func testNaNStopsTheRunNamingPopulationVariableNeuronAndTime() throws {
        for threads in [1, 2, 3] {
            let sim = try kicked([[1.0], [5.0]], targets: [[150, 170], [20]])
            guard let f = fault(sim, ms: 20, threads: threads) else { return }
            XCTAssertEqual(f.kind, .nonFinite)
            XCTAssertEqual(f.population, "exc")
            XCTAssertEqual(f.variable, "v")
            XCTAssertEqual(f.neuron, 150, "\(threads) threads")
            XCTAssertEqual(f.fromMs, 0, accuracy: 1e-9)
            XCTAssertEqual(f.toMs, Double(NM_CHECK_STEPS) * 0.1, accuracy: 1e-9)
            XCTAssertEqual(sim.step, Int64(NM_CHECK_STEPS), "the run stops at the check, not at 20 ms")
            XCTAssertTrue(f.description.hasPrefix("simulation stopped: exc.v became NaN between t = 0 ms and t = 1.6 ms, neuron 150"), f.description)
            XCTAssertTrue(sim.state(population: 2, variable: 0)[150].isNaN, "the reported value is really there")
            XCTAssertFalse(sim.state(population: 2, variable: 0)[20].isNaN, "neuron 20 was not hit yet")
        }
    }

    /// Two neurons of different threads blow up within one check window: the lower index is reported
    /// whatever the thread count; a later window starts where the last passed check was.
    func testFirstNonFiniteNeuronDoesNotDependOnThreads() throws {
        for threads in [1, 2] {
            let sim = try kicked([[3.3], [3.5]], targets: [[170], [20]])
            guard let f = fault(sim, ms: 20, threads: threads) else { return }
            XCTAssertEqual(f.neuron, 20, "\(threads) threads")
            // 3.5 ms + 0.2 ms lies in the window ending at step 48; the check at step 32 (3.2 ms) passed
            XCTAssertEqual(f.fromMs, 3.2, accuracy: 1e-9)
            XCTAssertEqual(f.toMs, 4.8, accuracy: 1e-9)
        }
    }

    /// -inf is named as such: an IF membrane with no lower bound driven by -3e38 pA per step overflows in
    /// the second step. A state written between runs (+inf) is found by the next run's first check.
    func testInfiniteValuesAndStateWrittenBetweenRuns() throws {
        var p = IFParameters()
        p.threshold = .infinity
        p.capacitance = 0.1   // dt/C = 1: a current of I pA adds I mV per step
        let sim = try makeSim([Population(name: "acc", size: 10, model: .integrateAndFire(p))],
                              currents: [CurrentInput(population: "acc", neurons: [7], times: [0], amplitudes: [-3e38])])
        guard let f = fault(sim, ms: 5, threads: 1) else { return }
        XCTAssertEqual(f.population, "acc")
        XCTAssertEqual(f.neuron, 7)
        XCTAssertTrue(f.description.contains("acc.v became -inf"), f.description)

        var q = IFParameters()
        q.threshold = 10
        let calm = try makeSim([Population(name: "calm", size: 100, model: .integrateAndFire(q))])
        try calm.run(steps: 20, threads: 2)   // checked at 1.6 ms and at the end (2.0 ms)
        calm.state(population: 0, variable: 0)[63] = .infinity
        guard let g = fault(calm, ms: 10, threads: 2) else { return }
        XCTAssertEqual(g.neuron, 63)
        XCTAssertEqual(g.fromMs, 2.0, accuracy: 1e-9)
        XCTAssertEqual(g.toMs, 3.2, accuracy: 1e-9)
        XCTAssertTrue(g.description.contains("calm.v became +inf"), g.description)
    }

    /// A healthy network runs to the end (the check never fires on finite state, including +inf
    /// thresholds and -inf lower bounds, which are parameters, not state).
    func testHealthyRunIsNotStopped() throws {
        var p = IFParameters()
        p.threshold = .infinity
        let sim = try makeSim([Population(name: "read", size: 64, model: .integrateAndFire(p))],
                              currents: [CurrentInput(population: "read", times: [0], amplitudes: [1])])
        try sim.run(steps: 1000, threads: 2)
        XCTAssertEqual(sim.step, 1000)
        XCTAssertEqual(Double(sim.state(population: 0, variable: 0)[5]), 1000 * 0.1, accuracy: 1e-2)
    }

    /// AdEx driven by 1e9 pA (it would fire thousands of times per step; before the bounds, 16 s per
    /// simulated ms): the run stops in the first step at the neuron's second spike, naming the population
    /// and neuron 1500 (the first driven one; neuron 1700 is also driven), on 1 and 2 threads.
    func testAdExSecondSpikeWithinAStepStopsTheRun() throws {
        for threads in [1, 2] {
            let sim = try makeSim([Population(name: "ad", size: 2048, model: .adex(AdExParameters()))],
                                  currents: [CurrentInput(population: "ad", neurons: [1500, 1700], times: [0], amplitudes: [1e9])])
            guard let f = fault(sim, ms: 10, threads: threads) else { return }
            XCTAssertEqual(f.kind, .spikesPerStep)
            XCTAssertEqual(f.population, "ad")
            XCTAssertNil(f.variable)
            XCTAssertEqual(f.neuron, 1500, "\(threads) threads")
            XCTAssertEqual(f.fromMs, 0, accuracy: 1e-9)
            XCTAssertEqual(f.toMs, 0.1, accuracy: 1e-9)
            XCTAssertEqual(sim.step, 1)
            XCTAssertTrue(f.description.contains("ad: neuron 1500 reached V_peak a second time within the step from t = 0 ms to t = 0.1 ms"), f.description)
            XCTAssertTrue(f.description.contains("t_ref >= dt = 0.1 ms"), f.description)
        }
    }

    /// A conductance of 1e9 nS makes the equations so stiff that RKF45's stable step is ~3e-7 ms: the
    /// solver's internal steps per time step are bounded (NM_ADEX_MAX_STEPS) and the run stops in the step
    /// that receives the input (spike at 1 ms, delay 0.1 ms: the update from 1.1 to 1.2 ms), naming neuron 2.
    func testAdExSolverStepBoundStopsAStiffRun() throws {
        let sim = try makeSim([
            Population(name: "cue", size: 1, model: .spikeSource(times: [[1]])),
            Population(name: "ad", size: 4, model: .adex(AdExParameters())),
        ], [Projection(pre: "cue", post: "ad", receptor: .inhibitory, kind: .sparse(.list(pairs: [(0, 2)], weights: [1e9], delays: nil)),
                       weight: .constant(1), delay: .constant(0.1))])
        guard let f = fault(sim, ms: 10, threads: 1) else { return }
        XCTAssertEqual(f.kind, .solverSteps)
        XCTAssertEqual(f.neuron, 2)
        XCTAssertEqual(f.fromMs, 1.1, accuracy: 1e-9)
        XCTAssertEqual(f.toMs, 1.2, accuracy: 1e-9)
        XCTAssertTrue(f.description.contains("more than \(NM_ADEX_MAX_STEPS) internal steps for neuron 2 in the step from t = 1.1 ms to t = 1.2 ms"), f.description)
    }

    /// The bounds leave strong but meaningful drive alone: 5e4 pA (about 0.7 spikes per 0.1 ms step, < 100
    /// solver steps per time step, never two spikes in one step) runs to the end and fires on most steps;
    /// 1e5 pA, whose first interspike intervals are shorter than dt, runs too once t_ref = dt keeps the
    /// neuron from firing twice in one step.
    func testAdExUnderStrongDriveIsNotStopped() throws {
        var q = AdExParameters()
        q.biasCurrent = 5e4
        let sim = try makeSim([Population(name: "ad", size: 3, model: .adex(q))])
        try sim.recordSpikes("ad")
        try sim.run(milliseconds: 20, threads: 1)
        XCTAssertEqual(sim.step, 200)
        XCTAssertGreaterThan(sim.spikes("ad").count, 3 * 100)
        q.biasCurrent = 1e5
        q.refractoryPeriod = 0.1
        let refractory = try makeSim([Population(name: "ad", size: 3, model: .adex(q))])
        try refractory.recordSpikes("ad")
        try refractory.run(milliseconds: 20, threads: 1)
        XCTAssertEqual(refractory.step, 200)
        XCTAssertGreaterThan(refractory.spikes("ad").count, 3 * 60)
        q.refractoryPeriod = 0
        XCTAssertEqual(fault(try makeSim([Population(name: "ad", size: 3, model: .adex(q))]), ms: 20, threads: 1)?.kind, .spikesPerStep)
    }
}
