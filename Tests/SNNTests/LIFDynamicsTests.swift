import Foundation
import XCTest
@testable import SNN

/// Single-neuron dynamics against closed forms.
final class LIFDynamicsTests: XCTestCase {
    /// lif_exp below threshold with a constant current: v(t) = E_L + R I (1 - exp(-t/tau_m)), R = tau_m/C.
    func testLIFExpMembraneMatchesClosedForm() throws {
        var p = LIFExpParameters()
        p.capacitance = 250; p.tauMembrane = 10; p.restingPotential = -70; p.threshold = -55
        p.biasCurrent = 300   // R I = 12 mV < 15 mV: never fires
        let sim = try makeSim([Population(name: "n", size: 1, model: .lifExp(p))])
        let m = try sim.recordState("n", variable: "v", neurons: [0], everyMs: 0.1)
        try sim.run(milliseconds: 100)
        let tr = sim.trace(m)
        XCTAssertEqual(tr.timesMs.count, 1000)
        let R = p.tauMembrane / p.capacitance
        for (t, v) in zip(tr.timesMs, tr.values) {
            let expected = -70 + R * 300 * (1 - exp(-t / 10))
            XCTAssertEqual(Double(v[0]), expected, accuracy: 2e-4, "t = \(t)")
        }
        XCTAssertEqual(sim.spikeCount("n"), 0)
    }

    /// lif_cond_exp with no input relaxes to E_L + I/g_L with time constant C/g_L (exponential Euler is
    /// exact for constant conductances).
    func testCondExpRelaxationMatchesClosedForm() throws {
        var p = LIFCondExpParameters()
        p.capacitance = 200; p.leakConductance = 10; p.restingPotential = -60; p.threshold = -50
        p.biasCurrent = 50   // v_inf = -55 mV
        let sim = try makeSim([Population(name: "n", size: 1, model: .lifCondExp(p), initial: ["v": .constant(-70)])])
        let m = try sim.recordState("n", variable: "v", neurons: [0], everyMs: 0.5)
        try sim.run(milliseconds: 200)
        let tr = sim.trace(m)
        for (t, v) in zip(tr.timesMs, tr.values) {
            let expected = -55 + (-70 + 55) * exp(-t * 10 / 200)
            XCTAssertEqual(Double(v[0]), expected, accuracy: 2e-4, "t = \(t)")
        }
    }

    /// f-I curve: the inter-spike interval of a LIF with constant suprathreshold current is
    /// t_ref + tau_m ln((E_L + R I - V_reset)/(E_L + R I - V_th)); on a grid of dt every ISI is that
    /// value rounded up to the grid (within one step).
    func testFICurveMatchesAnalyticRate() throws {
        for current in [400.0, 500.0, 800.0, 1500.0] {
            var p = LIFExpParameters()
            p.capacitance = 250; p.tauMembrane = 10; p.restingPotential = -70; p.threshold = -55
            p.resetPotential = -70; p.refractoryPeriod = 2; p.biasCurrent = current
            let dt = 0.01
            let sim = try makeSim([Population(name: "n", size: 1, model: .lifExp(p))], dt: dt)
            try sim.recordSpikes("n")
            try sim.run(milliseconds: 1000)
            let t = sim.spikes("n").timesMs
            XCTAssertGreaterThan(t.count, 10)
            let ri = p.tauMembrane / p.capacitance * current
            let isi = p.refractoryPeriod + p.tauMembrane * log((ri + p.restingPotential - p.resetPotential) / (ri + p.restingPotential - p.threshold))
            let measured = (t.last! - t.first!) / Double(t.count - 1)
            XCTAssertEqual(measured, isi, accuracy: dt + 1e-9, "I = \(current) pA")
            let rate = Double(t.count) / 1.0
            XCTAssertEqual(rate, 1000 / isi, accuracy: 1000 / isi * 0.02 + 1)
        }
    }

    /// Non-leaky IF with reset by subtraction: with constant input a per step and threshold 1 the spike
    /// count after n steps is floor(n a) (rate = activation / threshold, the basis of ANN conversion).
    func testIFRateEqualsInputOverThreshold() throws {
        for a in [0.05, 0.3, 0.77, 1.0] {
            var p = IFParameters()
            p.threshold = 1; p.resetPotential = 0; p.capacitance = 1
            p.biasCurrent = a
            let sim = try makeSim([Population(name: "n", size: 1, model: .integrateAndFire(p))], dt: 1)
            try sim.run(steps: 200)
            XCTAssertEqual(Double(sim.spikeCount("n")), (200 * a).rounded(.down), accuracy: 1, "a = \(a)")
        }
    }

    /// Reset to a value vs by subtraction differ exactly by the discarded surplus.
    func testIFResetModes() throws {
        var p = IFParameters()
        p.threshold = 1; p.resetPotential = 0; p.capacitance = 1; p.biasCurrent = 0.75  // exact in binary
        let sub = try makeSim([Population(name: "n", size: 1, model: .integrateAndFire(p))], dt: 1)
        p.resetBySubtraction = false
        let val = try makeSim([Population(name: "n", size: 1, model: .integrateAndFire(p))], dt: 1)
        try sub.run(steps: 100)
        try val.run(steps: 100)
        XCTAssertEqual(sub.spikeCount("n"), 75)           // floor(100 * 0.75)
        XCTAssertEqual(val.spikeCount("n"), 50)           // reset to 0: 0.75, 1.5 -> spike, every 2nd step
    }
}
