import Foundation
import XCTest
@testable import Conversion

/// The energy model: the per-image formula on hand-computed counts, the break-even T, and bad costs.
final class EnergyProfileTests: XCTestCase {
    let counts = EnergyProfile.Counts(macs: 1000, annOutputs: 50, sops: 400, spikes: 30, neurons: 60, timesteps: 4,
                                      firstLayerMacs: 200, firstLayerOutputs: 20)

    func testEstimateMatchesHandComputation() {
        // lemaire22: MAC 4.6, add 0.9, update 1.8, spike 5, every memory word 5 pJ
        let l = EnergyProfile.lemaire22.estimate(counts)
        let perMAC = 4.6 + 5 + 5
        XCTAssertEqual(l.ann, (1000 * perMAC + 50 * 5) * 1e-6, accuracy: 1e-12)
        let syn: Double = 400 * (0.9 + 5 + 5 + 5)
        let upd: Double = 60 * 4 * (1.8 + 5 + 5)
        let snn: Double = syn + upd + 30 * 5 + (200 * perMAC + 20 * 5)
        XCTAssertEqual(l.snn, snn * 1e-6, accuracy: 1e-12)
        // horowitz45: operations + weight fetch only
        let h = EnergyProfile.horowitz45.estimate(counts)
        XCTAssertEqual(h.ann, 1000 * 9.6 * 1e-6, accuracy: 1e-12)
        let hSNN: Double = 400 * 5.9 + 200 * 9.6
        XCTAssertEqual(h.snn, hSNN * 1e-6, accuracy: 1e-12)
        // loihi: 23.6 pJ per synaptic op, 52 pJ per neuron per step, 1.7 pJ per spike; ANN and first layer as horowitz45
        let o = EnergyProfile.loihi.estimate(counts)
        XCTAssertEqual(o.ann, h.ann, accuracy: 1e-12)
        let loihiSNN: Double = 400 * 23.6 + 60 * 4 * 52 + 30 * 1.7 + 200 * 9.6
        XCTAssertEqual(o.snn, loihiSNN * 1e-6, accuracy: 1e-12)
        // neuron updates grow with T even without a spike
        var idle = counts
        idle.sops = 0; idle.spikes = 0; idle.timesteps = 8
        var idle4 = idle
        idle4.timesteps = 4
        let diff = EnergyProfile.loihi.estimate(idle).snn - EnergyProfile.loihi.estimate(idle4).snn
        XCTAssertEqual(diff, 60.0 * 4 * 52 * 1e-6, accuracy: 1e-12)
    }

    func testBreakEven() {
        // crosses between T = 8 and 16: 0.5 -> 1.5, ratio 1 at T = 12
        var r = Comparison.breakEven(timesteps: [4, 8, 16, 32], ratio: [0.3, 0.5, 1.5, 3])
        XCTAssertEqual(r.0, 16); XCTAssertEqual(r.1!, 12, accuracy: 1e-12); XCTAssertFalse(r.2)
        // saves everywhere: extrapolated from the last two (0.4 at 16, 0.7 at 32 -> 1 at 48)
        r = Comparison.breakEven(timesteps: [8, 16, 32], ratio: [0.2, 0.4, 0.7])
        XCTAssertNil(r.0); XCTAssertEqual(r.1!, 48, accuracy: 1e-9); XCTAssertTrue(r.2)
        // never saves
        r = Comparison.breakEven(timesteps: [1, 2], ratio: [1.2, 2])
        XCTAssertEqual(r.0, 1); XCTAssertNil(r.1)
        // one T that saves: no estimate
        r = Comparison.breakEven(timesteps: [4], ratio: [0.5])
        XCTAssertNil(r.0); XCTAssertNil(r.1)
    }

    func testBadCostsAreRefused() {
        var p = EnergyProfile.loihi
        XCTAssertNil(p.problem)
        p.neuronUpdate = -1
        XCTAssertTrue(p.problem?.contains("neuron update") ?? false, "\(p.problem ?? "")")
        p = .horowitz45; p.mac = 0
        XCTAssertNotNil(p.problem)
        p = .lemaire22; p.potentialRead = .nan
        XCTAssertTrue(p.problem?.contains("potential read") ?? false)
        XCTAssertEqual(EnergyProfile.names, ["horowitz45", "lemaire22", "loihi"])
        XCTAssertNil(EnergyProfile.named("truenorth"))
    }
}
