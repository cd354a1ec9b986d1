import ANN
import Datasets
import Foundation
import SNN
import XCTest
@testable import Conversion

/// Conversion of QCFS-trained networks (Bu et al., ICLR 2022): the IF threshold is the trained λ (per
/// layer or channel), membranes start at θ/2 and reset by subtraction, no calibration is used, and the
/// recipe is recorded.
final class QCFSConversionTests: XCTestCase {
    let noImages = LabeledImages(sampleShape: [1, 2, 3], pixels: [], labels: [], classCount: 10)

    func denseQCFS(levels: Int, lambdas: [Float], seed: UInt64) throws -> Sequential {
        var rng = TestRNG(s: seed)
        let d1 = Dense(inFeatures: 6, outFeatures: 5), d2 = Dense(inFeatures: 5, outFeatures: 3)
        setWeights(d1, &rng, scale: 1); setWeights(d2, &rng)
        let q = QCFS(levels: levels, thresholdCount: lambdas.count)
        q.threshold.value = Tensor(shape: [lambdas.count], values: lambdas)
        return try Sequential(inputShape: [1, 2, 3], layers: [Flatten(), d1, q, d2], normalization: Normalization(mean: 0.2, std: 0.5), classes: 3)
    }

    /// The paper's Theorem: an IF neuron with threshold λ, v0 = λ/2, reset by subtraction and constant
    /// input a fires clip(floor(T a/λ + 1/2), 0, T) times in T steps, so at T = L its count is exactly
    /// the QCFS level of the ANN (y L/λ). Checked on the first layer (constant analog input), per
    /// channel thresholds, every level reached.
    func testFirstLayerSpikeCountsAtTEqualsLAreTheQCFSLevels() throws {
        let L = 4
        let model = try denseQCFS(levels: L, lambdas: [0.6, 1.1, 1.7, 2.3, 3.0], seed: 3)
        let snn = try Converter.convert(model, calibration: noImages, options: ConversionOptions())
        XCTAssertEqual(snn.recipe, .qcfs)
        XCTAssertEqual(snn.layers[0].scale, [0.6, 1.1, 1.7, 2.3, 3.0])
        let n = 60
        let (raw, set) = images(n, shape: [1, 2, 3], norm: model.normalization, seed: 4)
        let y = model.activations(Tensor(shape: [n, 1, 2, 3], values: set.pixels))[2].scalars   // QCFS output
        let sim = try Simulator(CompiledNetwork(snn.makeNetwork(), seed: 1))
        var exact = 0, levels = Set<Int>()
        for img in 0..<n {
            sim.initializeState()
            let cur = snn.firstLayerCurrents(pixels: Array(raw[(img * 6)..<(img * 6 + 6)]), count: 1, threads: 1)
            let ext = sim.externalCurrent(population: 0)
            for q in 0..<5 { ext[q] = cur[q] }
            try sim.run(steps: Int64(L))
            let counts = sim.spikeCounts(population: 0)
            for q in 0..<5 {
                let level = (Double(y[img * 5 + q]) * Double(L) / Double(snn.layers[0].scale[q])).rounded()
                levels.insert(Int(level))
                XCTAssertEqual(Double(counts[q]), level, accuracy: 1, "image \(img) neuron \(q)")   // ±1 only at float ties
                if Double(counts[q]) == level { exact += 1 }
            }
        }
        XCTAssertGreaterThanOrEqual(exact, n * 5 - 3, "counts equal the ANN's levels except at rounding ties")
        XCTAssertEqual(levels, Set(0...L), "every level occurs")
    }

    func convQCFS(perChannel: Bool, seed: UInt64) throws -> Sequential {
        var rng = TestRNG(s: seed)
        let conv = Conv2D(inChannels: 1, outChannels: 3, kernel: Size2(3)), dense = Dense(inFeatures: 3 * 4 * 4, outFeatures: 4)
        setWeights(conv, &rng); setWeights(dense, &rng, scale: 1)
        conv.bias!.value = Tensor(shape: [3], values: [0.3, 0.2, 0.4])   // active hidden units
        let q = QCFS(levels: 8, thresholdCount: perChannel ? 3 : 1)
        q.threshold.value = perChannel ? Tensor(shape: [3], values: [0.4, 0.7, 1.2]) : Tensor(shape: [1], values: [0.9])
        return try Sequential(inputShape: [1, 6, 6], layers: [conv, q, Flatten(), dense], classes: 4)
    }

    /// No calibration image is needed (ReLU nets need them); scales are λ; the output layer has
    /// scale 1 under membrane decoding and is calibrated under spike decoding; the recipe survives
    /// network.json; SNN results do not depend on threads. With constant (analog) input to the QCFS
    /// layer and a membrane read-out, the output membrane at T = L is L × the ANN's logits (the hidden
    /// counts are the QCFS levels), so the SNN predicts the ANN's class on every image.
    func testRecipeNeedsNoCalibrationAndRoundTrips() throws {
        let model = try convQCFS(perChannel: true, seed: 7)
        let (raw, set) = images(24, shape: [1, 6, 6], norm: .unit, seed: 8)
        // centre the classifier's outputs on these images so that every class gets predicted
        let dense = model.layers[3] as! Dense
        dense.bias!.value = Tensor(zeros: [4])
        let logits = model.predict(Tensor(shape: [24, 1, 6, 6], values: set.pixels)).scalars
        dense.bias!.value = Tensor(shape: [4], values: (0..<4).map { k in -(0..<24).map { logits[$0 * 4 + k] }.reduce(0, +) / 24 })
        let none = LabeledImages(sampleShape: [1, 6, 6], pixels: [], labels: [], classCount: 10)
        let snn = try Converter.convert(model, calibration: none, options: ConversionOptions())
        XCTAssertEqual(snn.recipe, .qcfs)
        XCTAssertEqual(snn.layers.map(\.scale), [[0.4, 0.7, 1.2], [1]])
        XCTAssertEqual(snn.options.initialPotential, 0.5)
        XCTAssertTrue(snn.options.resetBySubtraction)
        // the same architecture with ReLU cannot convert without calibration images
        let relu = try Sequential(inputShape: [1, 6, 6], layers: [model.layers[0], ReLU(), Flatten(), model.layers[3]], classes: 4)
        XCTAssertThrowsError(try Converter.convert(relu, calibration: none, options: ConversionOptions())) { XCTAssertTrue("\($0)".contains("calibration"), "\($0)") }
        var spikes = ConversionOptions(); spikes.decoding = .spikes
        XCTAssertThrowsError(try Converter.convert(model, calibration: none, options: spikes)) { XCTAssertTrue("\($0)".contains("calibration"), "\($0)") }
        let withSpikes = try Converter.convert(model, calibration: set, options: spikes)
        XCTAssertEqual(withSpikes.layers[0].scale, [0.4, 0.7, 1.2], "hidden layers keep λ; only the output layer is calibrated")
        XCTAssertNotEqual(withSpikes.layers[1].scale, [1])
        // file round trip keeps the recipe
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-qcfs-snn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try snn.save(to: dir.path)
        let back = try ConvertedNetwork.load(dir.path)
        XCTAssertEqual(back.recipe, .qcfs)
        XCTAssertEqual(back.layers, snn.layers)
        // determinism 1 vs 3 threads, and the SNN approaches the ANN
        let clf = try SpikingClassifier(snn, seed: 2)
        let one = try clf.evaluate(pixels: raw, labels: set.labels, timesteps: [2, 8, 256], threads: 1)
        let three = try clf.evaluate(pixels: raw, labels: set.labels, timesteps: [2, 8, 256], threads: 3)
        XCTAssertEqual(one.results.map(\.predictions), three.results.map(\.predictions))
        XCTAssertEqual(one.results.map(\.spikesPerLayer), three.results.map(\.spikesPerLayer))
        let ann = model.predict(Tensor(shape: [24, 1, 6, 6], values: set.pixels)).scalars
        var annPred: [Int32] = []
        for i in 0..<24 {
            var best = 0
            for k in 1..<4 where ann[i * 4 + k] > ann[i * 4 + best] { best = k }
            annPred.append(Int32(best))
        }
        let agree = one.results.map { r in zip(r.predictions, annPred).filter { $0 == $1 }.count }
        XCTAssertEqual(Set(annPred).count, 4, "a non-trivial test network: every class predicted \(annPred)")
        XCTAssertGreaterThanOrEqual(agree[1], 23, "at T = L = 8 the SNN predicts the QCFS ANN's class (one float tie allowed): \(agree)")
    }

    func testArrangementsThatCannotConvertAreRefused() throws {
        var rng = TestRNG(s: 9)
        let set = images(4, shape: [1, 6, 6], norm: .unit, seed: 1).set
        func refuse(_ layers: [Layer], _ needle: String, line: UInt = #line) throws {
            for l in layers { setWeights(l, &rng) }
            let m = try Sequential(inputShape: [1, 6, 6], layers: layers, classes: 4)
            XCTAssertThrowsError(try Converter.convert(m, calibration: set, options: ConversionOptions()), line: line) {
                XCTAssertTrue("\($0)".contains(needle), "\($0)", line: line)
            }
        }
        // mixed ReLU and QCFS hidden layers
        try refuse([Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3)), QCFS(levels: 4), Flatten(),
                    Dense(inFeatures: 32, outFeatures: 8), ReLU(), Dense(inFeatures: 8, outFeatures: 4)], "layer 3 (dense) is followed by a ReLU while other layers use QCFS")
        // QCFS after the pooling of a ReLU layer (QCFSResidualTests: after the pooling of a QCFS layer)
        try refuse([Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3)), ReLU(), AvgPool2D(kernel: Size2(2)), QCFS(levels: 4), Flatten(),
                    Dense(inFeatures: 8, outFeatures: 4)], "layer 0 (conv2d) is followed by a ReLU while other layers use QCFS")
        // QCFS on the input or after flatten
        try refuse([QCFS(levels: 4), Flatten(), Dense(inFeatures: 36, outFeatures: 4)], "layer 0 (qcfs): a QCFS activation must directly follow")
        // QCFS on the classifier
        try refuse([Flatten(), Dense(inFeatures: 36, outFeatures: 4), QCFS(levels: 4)], "the output layer must be linear")
    }
}
