@testable import ANN
@testable import Conversion
import Foundation
@testable import SNN
import XCTest

/// A padded max pooling (the ResNet stem's 3x3, stride 2, padding 1) converted to spike-count gating,
/// beside an unpadded one: every pooling neuron fires at least as often as the most active neuron of
/// its window inside the map (each rise of the window's leading count is a spike that passes) and at
/// most as often as the window's neurons together (within one spike: a relay fires once per step), so
/// windows sit where the ANN's do; saved and loaded with its padding; 1 and 3 threads alike.
final class PaddedMaxPoolConversionTests: XCTestCase {
    func testPoolNeuronsFollowTheirWindowsMaximum() throws {
        try check(k: 2, s: 2, p: 0)
        try check(k: 3, s: 2, p: 1)
    }

    func check(k pk: Int, s ps: Int, p pp: Int) throws {
        let po = (7 + 2 * pp - pk) / ps + 1
        var rng = TestRNG(s: 31)
        let c1 = Conv2D(inChannels: 1, outChannels: 3, kernel: Size2(3), padding: Size2(1)), d = Dense(inFeatures: 3 * po * po, outFeatures: 4)
        setWeights(c1, &rng); setWeights(d, &rng)
        let model = try Sequential(inputShape: [1, 7, 7], layers: [c1, ReLU(), MaxPool2D(kernel: Size2(pk), stride: Size2(ps), padding: Size2(pp)), Flatten(), d],
                                   classes: 4)
        let (raw, set) = images(6, shape: [1, 7, 7], norm: model.normalization, seed: 32)
        let snn = try Converter.convert(model, calibration: set, options: ConversionOptions())
        XCTAssertEqual(snn.layers[1].kind, .maxPool)
        XCTAssertEqual(snn.layers[1].padding, pp)
        XCTAssertEqual(snn.layers[1].outputShape, [3, po, po])

        let sim = try Simulator(CompiledNetwork(snn.makeNetwork(), seed: 1))
        var compared = 0
        for img in 0..<6 {
            sim.initializeState()
            let cur = snn.firstLayerCurrents(pixels: Array(raw[(img * 49)..<(img * 49 + 49)]), count: 1, threads: 1)
            let ext = sim.externalCurrent(population: 0)
            for q in 0..<cur.count { ext[q] = cur[q] }
            try sim.run(steps: 120)
            let conv = sim.spikeCounts(population: 0), pool = sim.spikeCounts(population: 1)   // HWC: (y * W + x) * C + c
            for oy in 0..<po { for ox in 0..<po { for ch in 0..<3 {
                var m: Int64 = 0, sum: Int64 = 0
                for ky in 0..<pk { for kx in 0..<pk {
                    let y = oy * ps + ky - pp, x = ox * ps + kx - pp
                    if y >= 0 && y < 7 && x >= 0 && x < 7 { m = max(m, Int64(conv[(y * 7 + x) * 3 + ch])); sum += Int64(conv[(y * 7 + x) * 3 + ch]) }
                } }
                let got = Int64(pool[(oy * po + ox) * 3 + ch]), at = "k \(pk) s \(ps) p \(pp): image \(img) target (\(oy), \(ox), \(ch))"
                XCTAssertGreaterThanOrEqual(got, m - 1, at)
                XCTAssertLessThanOrEqual(got, sum + 1, at)
                if m > 0 { compared += 1 }
            } } }
        }
        XCTAssertGreaterThan(compared, 50)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-padpool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try snn.save(to: dir.path)
        let back = try ConvertedNetwork.load(dir.path)
        XCTAssertEqual(back.layers[1].padding, pp)
        let clf = try SpikingClassifier(back, seed: 3)
        let one = try clf.evaluate(pixels: raw, labels: set.labels, timesteps: [16, 40], threads: 1)
        let three = try SpikingClassifier(snn, seed: 3).evaluate(pixels: raw, labels: set.labels, timesteps: [16, 40], threads: 3)
        XCTAssertEqual(one.results.map(\.predictions), three.results.map(\.predictions))
        XCTAssertEqual(one.results.map(\.spikesPerLayer), three.results.map(\.spikesPerLayer))
    }
}
