import ANN
import Conversion
import Datasets
import Experiment
import Foundation
import SNN
import XCTest

/// `neuromorph simulate SNN_DIR` of a network with corrected initial potentials (potential
/// correction): the simulation config charges them as a one-step pulse at t = 0, which must give the
/// same output membrane as a simulator whose state starts at those potentials.
final class CorrectedSimulationTests: XCTestCase {
    func testSimulationConfigStartsFromTheCorrectedPotentials() throws {
        let conv = Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), padding: Size2(1)), d = Dense(inFeatures: 2 * 4 * 4, outFeatures: 3)
        conv.weight.value = Tensor(shape: [2, 1, 3, 3], values: (0..<18).map { Float(($0 * 7) % 11) / 20 - 0.15 })
        conv.bias!.value = Tensor(shape: [2], values: [0.05, -0.02])
        d.weight.value = Tensor(shape: [3, 32], values: (0..<96).map { Float(($0 * 5) % 13) / 13 - 0.45 })
        let model = try Sequential(inputShape: [1, 4, 4], layers: [conv, ReLU(), Flatten(), d], classes: 3)
        let pixels = (0..<160).map { Float(($0 * 3) % 17) / 16 }
        let calibration = LabeledImages(sampleShape: [1, 4, 4], pixels: pixels, labels: [Int32](repeating: 0, count: 10), classCount: 3)
        var snn = try Converter.convert(model, calibration: calibration, options: ConversionOptions())
        XCTAssertEqual(snn.layers[0].initialPotential.count, 2, "the default conversion corrects the hidden layer")
        snn.layers[0].initialPotential = [0.05, 0.9]   // far from the uniform 0.5: the pulse must matter
        let u = Array(pixels[0..<16])
        let T = 12
        func direct(_ v0: [Float]) throws -> [Float] {
            let sim = try Simulator(CompiledNetwork(snn.makeNetwork(), seed: 1))
            sim.initializeState()
            let v = sim.state(population: 0, variable: 0)
            for q in 0..<v.count { v[q] = v0[q % 2] }   // engine order: channel = q mod C
            let cur = snn.firstLayerCurrents(pixels: u, count: 1, threads: 1)
            let e0 = sim.externalCurrent(population: 0)
            for q in 0..<cur.count { e0[q] = cur[q] }
            let b = snn.biasCurrents(1), e1 = sim.externalCurrent(population: 1)
            for q in 0..<b.count { e1[q] = b[q] }
            try sim.run(steps: Int64(T))
            return Array(sim.state(population: 1, variable: 0))
        }
        let cfg = try ConvertedSimulation.config(snn, pixels: u, timesteps: T, seed: 1, threads: 1, name: "corrected")
        var viaConfig: [Float] = []
        _ = try SimulationRunner.run(cfg, configPath: "corrected", out: nil, showProgress: false) { sim in
            viaConfig = Array(sim.state(population: 1, variable: 0))
            return [:]
        }
        let want = try direct([0.05, 0.9]), uniform = try direct([0.5, 0.5])
        XCTAssertEqual(viaConfig.count, 3)
        for (a, b) in zip(viaConfig, want) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertTrue(zip(want, uniform).contains { abs($0 - $1) > 1e-3 }, "the corrected potentials change the output")
    }
}
