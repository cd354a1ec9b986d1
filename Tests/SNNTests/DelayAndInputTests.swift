import Foundation
import XCTest
@testable import SNN

final class DelayAndInputTests: XCTestCase {
    /// A spike at t_s through a synapse with delay d makes the postsynaptic current jump at exactly
    /// t_s + d; v then follows the closed-form PSP of an exponential current,
    /// v - E_L = w tau_s/(tau_s - tau_m) (exp(-s/tau_s) - exp(-s/tau_m)), s = t - t_s - d.
    func testDelayIsExactAndPSPMatchesClosedForm() throws {
        for delay in [0.1, 1.5, 3.7] {
            var p = LIFExpParameters()
            p.tauMembrane = 10; p.tauExc = 2; p.restingPotential = -70; p.threshold = 0
            let src = Population(name: "src", size: 1, model: .spikeSource(times: [[5.0]]))
            let tgt = Population(name: "n", size: 1, model: .lifExp(p))
            let w = 2.0 // mV
            let sim = try makeSim([src, tgt], [Projection(pre: "src", post: "n", kind: .sparse(.allToAll()), weight: .constant(w), delay: .constant(delay))])
            let m = try sim.recordState("n", variable: "v", neurons: [0], everyMs: 0.1)
            try sim.recordSpikes("src")
            try sim.run(milliseconds: 40)
            XCTAssertEqual(sim.spikes("src").timesMs, [5.0])
            let tr = sim.trace(m)
            let arrival = 5.0 + delay
            for (t, v) in zip(tr.timesMs, tr.values) {
                let s = t - arrival
                let expected = s < 1e-9 ? -70 : -70 + w * 2 / (2 - 10) * (exp(-s / 2) - exp(-s / 10))
                XCTAssertEqual(Double(v[0]), expected, accuracy: 1e-4, "delay \(delay), t = \(t)")
            }
        }
    }

    /// Per-synapse delays (explicit list): each target's first deviation from rest is at t_s + its delay.
    func testPerSynapseDelays() throws {
        var p = LIFExpParameters(); p.threshold = 0
        let delays = [0.1, 0.7, 2.0, 5.5]
        let src = Population(name: "src", size: 1, model: .spikeSource(times: [[1.0]]))
        let tgt = Population(name: "n", size: 4, model: .lifExp(p))
        let conn = Connectivity.list(pairs: (0..<4).map { (0, $0) }, weights: nil, delays: delays)
        let sim = try makeSim([src, tgt], [Projection(pre: "src", post: "n", kind: .sparse(conn), weight: .constant(1), delay: .constant(0.1))])
        let m = try sim.recordState("n", variable: "i_exc", neurons: [0, 1, 2, 3], everyMs: 0.1)
        try sim.run(milliseconds: 10)
        let tr = sim.trace(m)
        for q in 0..<4 {
            // i_exc jumps at the arrival time and is recorded (after its first decay step) one step later
            let first = tr.timesMs[tr.values.firstIndex { $0[q] != 0 }!]
            XCTAssertEqual(first, 1.0 + delays[q] + 0.1, accuracy: 1e-9, "synapse \(q)")
        }
    }

    /// Step currents switch at their times: a LIF gets 0 pA before 20 ms, then 300 pA until 60 ms.
    func testStepCurrentFollowsSchedule() throws {
        var p = LIFExpParameters(); p.threshold = 0; p.capacitance = 250; p.tauMembrane = 10
        let cur = CurrentInput(population: "n", times: [0, 20, 60], amplitudes: [0, 300, 0])
        let sim = try makeSim([Population(name: "n", size: 2, model: .lifExp(p))], currents: [cur])
        let m = try sim.recordState("n", variable: "v", neurons: [0], everyMs: 0.1)
        try sim.run(milliseconds: 100)
        let tr = sim.trace(m)
        let ri = 10.0 / 250 * 300
        for (t, v) in zip(tr.timesMs, tr.values) {
            let expected: Double
            if t <= 20 { expected = -70 }
            else if t <= 60 { expected = -70 + ri * (1 - exp(-(t - 20) / 10)) }
            else { expected = -70 + ri * (1 - exp(-40.0 / 10)) * exp(-(t - 60) / 10) }
            XCTAssertEqual(Double(v[0]), expected, accuracy: 2e-4, "t = \(t)")
        }
    }

    /// Poisson sources: mean rate within 4 standard errors of the Bernoulli count, ISI coefficient of
    /// variation ~ 1 and Fano factor ~ 1 (a Poisson process), for two rates.
    func testPoissonRateAndStatistics() throws {
        for rate in [5.0, 40.0] {
            let n = 2000, seconds = 5.0
            let sim = try makeSim([Population(name: "p", size: n, model: .poisson(rateHz: rate))], seed: 7)
            try sim.recordSpikes("p")
            try sim.run(milliseconds: seconds * 1000)
            let sp = sim.spikes("p")
            let pStep = rate * 0.1 / 1000, steps = seconds * 10000
            let mean = Double(n) * steps * pStep, sd = (Double(n) * steps * pStep * (1 - pStep)).squareRoot()
            XCTAssertEqual(Double(sp.count), mean, accuracy: 4 * sd, "rate \(rate)")
            var perNeuron = [[Double]](repeating: [], count: n)
            for (t, i) in zip(sp.timesMs, sp.ids) { perNeuron[Int(i)].append(t) }
            var isis: [Double] = []
            for ts in perNeuron { for k in 1..<max(1, ts.count) { isis.append(ts[k] - ts[k - 1]) } }
            let mi = isis.reduce(0, +) / Double(isis.count)
            let vi = isis.map { ($0 - mi) * ($0 - mi) }.reduce(0, +) / Double(isis.count - 1)
            XCTAssertEqual(vi.squareRoot() / mi, 1.0, accuracy: 0.05, "CV, rate \(rate)")
            let counts = perNeuron.map { Double($0.count) }
            let mc = counts.reduce(0, +) / Double(n)
            let vc = counts.map { ($0 - mc) * ($0 - mc) }.reduce(0, +) / Double(n - 1)
            XCTAssertEqual(vc / mc, 1.0, accuracy: 0.12, "Fano, rate \(rate)")
        }
    }

    /// Spike sources emit exactly the given times (on the grid).
    func testSpikeSourceTimes() throws {
        let times: [[Double]] = [[1.0, 2.5, 10.0], [], [0.1, 0.2, 0.3]]
        let sim = try makeSim([Population(name: "s", size: 3, model: .spikeSource(times: times))])
        try sim.recordSpikes("s")
        try sim.run(milliseconds: 20)
        let sp = sim.spikes("s")
        var got = [[Double]](repeating: [], count: 3)
        for (t, i) in zip(sp.timesMs, sp.ids) { got[Int(i)].append(t) }
        for q in 0..<3 { XCTAssertEqual(got[q].count, times[q].count); for (a, b) in zip(got[q], times[q]) { XCTAssertEqual(a, b, accuracy: 1e-9) } }
    }
}
