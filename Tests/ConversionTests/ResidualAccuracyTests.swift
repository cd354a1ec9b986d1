import ANN
import Datasets
import Foundation
import SNN
import XCTest
@testable import Conversion

/// Global average pooling folded into the dense output layer (`ConversionOptions.globalPool`) and the
/// potential correction (`ConversionOptions.correctionSteps`): the folded layer's linear map against
/// pooling then the unfolded layer, the output membrane against the sum computed by hand from the ANN's
/// weights and the spike counts, the corrected initial potentials against their closed form, the
/// rate deficit they remove, the saved network, refusals of bad files, and thread-count independence.
final class ResidualAccuracyTests: XCTestCase {
    /// stem conv(1→2, 3×3, pad 1) + ReLU, a residual block (strided 1×1-conv + BN shortcut), ReLU,
    /// global average pooling, flatten, dense(3→3).
    func model(seed: UInt64) throws -> Sequential {
        var rng = TestRNG(s: seed)
        let stem = Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), padding: Size2(1))
        let b1 = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(3), stride: Size2(2), padding: Size2(1))
        let b2 = Conv2D(inChannels: 3, outChannels: 3, kernel: Size2(3), padding: Size2(1))
        let sc = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(1), stride: Size2(2), bias: false)
        let sbn = BatchNorm(features: 3, spatial: true)
        let d = Dense(inFeatures: 3, outFeatures: 3)
        for l in [stem, b1, b2, sc, d] as [Layer] { setWeights(l, &rng, scale: 0.6) }
        stem.bias!.value = Tensor(shape: [2], values: [0.2, 0.1])
        sbn.gamma.value = Tensor(shape: [3], values: rng.fill(3, 0.6, 1.4))
        sbn.beta.value = Tensor(shape: [3], values: rng.fill(3, -0.1, 0.2))
        sbn.runningMean = Tensor(shape: [3], values: rng.fill(3, -0.2, 0.2))
        sbn.runningVar = Tensor(shape: [3], values: rng.fill(3, 0.5, 1.5))
        let block = Residual(body: [b1, ReLU(), b2], shortcut: [sc, sbn])
        return try Sequential(inputShape: [1, 8, 6], layers: [stem, ReLU(), block, ReLU(), GlobalAvgPool2D(), Flatten(), d],
                              normalization: Normalization(mean: 0.3, std: 0.5), classes: 3)
    }

    func options(_ f: (inout ConversionOptions) -> Void) -> ConversionOptions {
        var o = ConversionOptions()
        f(&o)
        return o
    }

    /// Runs `snn` on one image (analog input) for T steps: every layer's spike counts and the output
    /// layer's membrane potentials.
    func run(_ snn: ConvertedNetwork, pixels: [Float], T: Int) throws -> (counts: [[Int32]], output: [Float]) {
        let cls = try SpikingClassifier(snn)
        let sim = try Simulator(cls.compiled)
        for k in snn.layers.indices { sim.countSpikesPerNeuron(population: k, true) }
        try cls.start(sim, image: 0, pixels: pixels, currents: snn.firstLayerCurrents(pixels: pixels, count: 1, threads: 1), offset: 0,
                      biases: snn.layers.indices.map { snn.biasCurrents($0) })
        try sim.run(steps: Int64(T))
        let out = snn.layers.count - 1
        return (snn.layers.indices.map { Array(sim.spikeCounts(population: $0)) }, Array(sim.state(population: out, variable: 0)))
    }

    /// The folded dense layer applied to any map u equals global pooling of u then the unfolded dense
    /// layer; the layer list loses the pooling neurons, the shortcut source is unchanged, the ANN MACs
    /// are the same; `--global-pool neurons` keeps the pooling layer.
    func testGlobalPoolFoldedIntoOutputEqualsPoolingThenDense() throws {
        let m = try model(seed: 41)
        let (_, set) = images(20, shape: [1, 8, 6], norm: m.normalization, seed: 42)
        let plain = try Converter.convert(m, calibration: set, options: options { $0.globalPool = .neurons; $0.correctionSteps = 0 })
        let folded = try Converter.convert(m, calibration: set, options: options { $0.correctionSteps = 0 })
        XCTAssertEqual(ConversionOptions().globalPool, .fold, "folding is the default")
        XCTAssertEqual(plain.layers.map(\.name), ["L0_conv", "L2_body0_conv", "L2_add", "L4_avgPool", "L6_dense"])
        XCTAssertEqual(folded.layers.map(\.name), ["L0_conv", "L2_body0_conv", "L2_add", "L6_dense"])
        XCTAssertEqual(folded.layers[2].skip?.source, 0)
        XCTAssertEqual(folded.layers[3].inputShape, [3 * 4 * 3])
        XCTAssertEqual(folded.layers[3].absorbed, [4, 5])
        XCTAssertEqual(folded.layers.map(\.macs).reduce(0, +), plain.layers.map(\.macs).reduce(0, +))
        XCTAssertEqual(folded.layers[3].bias, plain.layers[4].bias)
        // closed form: out[o] = Σ_c W[c][o] · mean_{y,x} u[y][x][c], on a non-square 4×3 map
        let (C, H, W) = (3, 4, 3)
        var rng = TestRNG(s: 43)
        for _ in 0..<4 {
            let u = rng.fill(H * W * C, 0, 1)
            for o in 0..<3 {
                var direct: Float = 0, reference: Float = 0
                for q in 0..<(H * W * C) { direct += u[q] * folded.layers[3].weights[q * 3 + o] }
                for c in 0..<C {
                    let mean = (0..<(H * W)).map { u[$0 * C + c] }.reduce(0, +) / Float(H * W)
                    reference += mean * plain.layers[4].weights[c * 3 + o]
                }
                XCTAssertEqual(direct, reference, accuracy: 1e-5)
            }
        }
        // a global pooling before a hidden dense layer stays neurons by default
        let hidden = try Sequential(inputShape: [1, 4, 4], layers: [Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), padding: Size2(1)), ReLU(),
                                                                    GlobalAvgPool2D(), Flatten(), Dense(inFeatures: 2, outFeatures: 4), ReLU(),
                                                                    Dense(inFeatures: 4, outFeatures: 2)], classes: 2)
        let (_, hset) = images(10, shape: [1, 4, 4], norm: .unit, seed: 44)
        let h = try Converter.convert(hidden, calibration: hset, options: options { $0.correctionSteps = 0 })
        XCTAssertEqual(h.layers.map(\.kind), [.conv, .avgPool, .dense, .dense])
        let hf = try Converter.convert(hidden, calibration: hset, options: options { $0.correctionSteps = 0; $0.avgPool = .fold })
        XCTAssertEqual(hf.layers.map(\.kind), [.conv, .dense, .dense], "--avgpool fold folds it too")
    }

    /// The non-spiking output layer with the folded pooling integrates exactly
    /// (T·b + Σ_c W_ANN[o][c] λ_c · mean_{y,x} count_c) / λ_out, computed from the ANN's dense weights.
    func testOutputMembraneIsTheExactSumOfTheLastLayersSpikes() throws {
        let m = try model(seed: 45)
        let (raw, set) = images(12, shape: [1, 8, 6], norm: m.normalization, seed: 46)
        let snn = try Converter.convert(m, calibration: set, options: options { $0.correctionSteps = 0 })
        let dense = m.layers[6] as! Dense
        let w = dense.weight.value.scalars, b = dense.bias!.value.scalars
        let join = snn.layers[2], lamOut = snn.layers[3].scale[0]
        let T = 40
        var active = 0
        for img in 0..<3 {
            let r = try run(snn, pixels: Array(raw[(img * 48)..<((img + 1) * 48)]), T: T)
            let counts = r.counts[2]
            for o in 0..<3 {
                var expected = Double(T) * Double(b[o])
                for c in 0..<3 {
                    let mean = (0..<12).map { Double(counts[$0 * 3 + c]) }.reduce(0, +) / 12
                    if mean > 0 { active += 1 }
                    expected += Double(w[o * 3 + c]) * Double(join.scale(channel: c)) * mean
                }
                expected /= Double(lamOut)
                XCTAssertEqual(Double(r.output[o]), expected, accuracy: 1e-4 * max(1, abs(expected)))
            }
        }
        XCTAssertGreaterThan(active, 3, "the join layer must fire for the test to mean something")
    }

    /// The first hidden layer's corrected initial potentials are v0 + T_c (r̄_c − rate_c), with r̄_c the
    /// ANN's mean clipped rate and rate_c the uncorrected SNN's, both computed here independently;
    /// after the correction every hidden layer's total mean-rate deficit at T_c is smaller.
    func testCorrectedInitialPotentialsMatchTheirClosedFormAndShrinkTheDeficit() throws {
        let m = try model(seed: 47)
        let n = 24, Tc = 16
        let (raw, set) = images(n, shape: [1, 8, 6], norm: m.normalization, seed: 48)
        let off = try Converter.convert(m, calibration: set, options: options { $0.correctionSteps = 0 })
        let on = try Converter.convert(m, calibration: set, options: options { $0.correctionSteps = Tc; $0.correctionImages = n })
        XCTAssertEqual(on.layers.map { $0.initialPotential.count }, [2, 3, 3, 0], "hidden conv layers only")
        XCTAssertEqual(off.layers.map { $0.initialPotential.count }, [0, 0, 0, 0])
        // ANN targets (top-level activations: 1 = the stem's ReLU, 3 = the ReLU after the block) and SNN rates
        let acts = m.activations(Tensor(shape: [n, 1, 8, 6], values: set.pixels))
        func snnRates(_ snn: ConvertedNetwork, layer k: Int) throws -> [Double] {
            let l = snn.layers[k]
            var s = [Double](repeating: 0, count: l.channels)
            for img in 0..<n {
                let c = try run(snn, pixels: Array(raw[(img * 48)..<((img + 1) * 48)]), T: Tc).counts[k]
                for q in 0..<l.size { s[l.channel(of: q)] += Double(c[q]) }
            }
            return s.map { $0 / Double(n * (l.size / l.channels) * Tc) }
        }
        func targets(_ a: Tensor, _ l: SpikingLayer) -> [Double] {
            let (C, per) = (a.shape[1], a.shape[2] * a.shape[3])
            var s = [Double](repeating: 0, count: C)
            for i in 0..<n { for c in 0..<C { for q in 0..<per {
                s[c] += Double(min(max(a[flat: (i * C + c) * per + q] / l.scale(channel: c), 0), 1))
            } } }
            return s.map { $0 / Double(n * per) }
        }
        let stemTarget = targets(acts[1], on.layers[0]), stemRate = try snnRates(off, layer: 0)
        for c in 0..<2 {
            let want = min(max(0.5 + Double(Tc) * (stemTarget[c] - stemRate[c]), 0), 1)
            XCTAssertEqual(Double(on.layers[0].initialPotential[c]), want, accuracy: 1e-4)
        }
        XCTAssertTrue(on.layers[0].initialPotential.contains { abs($0 - 0.5) > 1e-3 }, "the stem needed a correction")
        // the join's target: the ReLU after the block
        let joinTarget = targets(acts[3], on.layers[2])
        func deficit(_ snn: ConvertedNetwork) throws -> Double {
            let stem = try snnRates(snn, layer: 0), join = try snnRates(snn, layer: 2)
            return zip(stemTarget, stem).map { abs($0 - $1) }.reduce(0, +) + zip(joinTarget, join).map { abs($0 - $1) }.reduce(0, +)
        }
        let before = try deficit(off), after = try deficit(on)
        XCTAssertLessThan(after, before * 0.7, "mean-rate deficit before \(before), after \(after)")
    }

    /// Residual net + folded pooling + corrected potentials: conversion and evaluation give the same
    /// bits on 1 and 3 threads; the folder round trip keeps the initial potentials and the predictions;
    /// an out-of-range or misplaced initial-potential tensor is refused naming the file and the key; a
    /// network.json written before these options existed reads as neurons / no correction.
    func testCorrectedResidualNetRoundTripAndThreadIndependence() throws {
        let m = try model(seed: 49)
        let (raw, set) = images(16, shape: [1, 8, 6], norm: m.normalization, seed: 50)
        let o = options { $0.correctionSteps = 12; $0.correctionImages = 16 }
        let a = try Converter.convert(m, calibration: set, options: o, threads: 1)
        let b = try Converter.convert(m, calibration: set, options: o, threads: 3)
        XCTAssertEqual(a.layers, b.layers, "conversion does not depend on the thread count")
        let e1 = try SpikingClassifier(a).evaluate(pixels: raw, labels: set.labels, timesteps: [8, 24], threads: 1)
        let e3 = try SpikingClassifier(a).evaluate(pixels: raw, labels: set.labels, timesteps: [8, 24], threads: 3)
        XCTAssertEqual(e1.results.map(\.predictions), e3.results.map(\.predictions))
        XCTAssertEqual(e1.results.map(\.spikesPerLayer), e3.results.map(\.spikesPerLayer))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-resacc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try a.save(to: dir.path)
        let back = try ConvertedNetwork.load(dir.path)
        XCTAssertEqual(back.layers, a.layers)
        XCTAssertEqual(back.options, a.options)
        let e2 = try SpikingClassifier(back).evaluate(pixels: raw, labels: set.labels, timesteps: [8, 24], threads: 2)
        XCTAssertEqual(e2.results.map(\.predictions), e1.results.map(\.predictions))
        XCTAssertEqual(e2.results.map(\.spikesPerLayer), e1.results.map(\.spikesPerLayer))

        let weights = dir.appendingPathComponent(ConvertedNetwork.weightsFile)
        let original = try Data(contentsOf: weights)
        func rewrite(_ edit: (inout [(key: String, value: StateValue)]) -> Void) throws {
            var t = try Safetensors.read(path: weights.path).tensors.map { (key: $0.key, value: $0.value) }.sorted { $0.key < $1.key }
            edit(&t)
            try Safetensors.encode(t, metadata: [:]).write(to: weights)
        }
        try rewrite { t in
            let i = t.firstIndex { $0.key == "layers.1.initial_potential" }!
            t[i].value = .float(Tensor(shape: [3], values: [0.5, 1.5, 0.2]))
        }
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.path)) { e in
            XCTAssertTrue("\(e)".contains("weights.safetensors") && "\(e)".contains("layers.1.initial_potential") && "\(e)".contains("[0, 1)"), "\(e)")
        }
        try original.write(to: weights)
        try rewrite { t in t.append((key: "layers.3.initial_potential", value: .float(Tensor(shape: [3], values: [0.5, 0.5, 0.5])))) }
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.path)) { e in XCTAssertTrue("\(e)".contains("the output layer"), "\(e)") }
        try original.write(to: weights)
        try rewrite { t in
            let i = t.firstIndex { $0.key == "layers.0.initial_potential" }!
            t[i].value = .float(Tensor(shape: [5], values: [0.5, 0.5, 0.5, 0.5, 0.5]))
        }
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.path)) { e in XCTAssertTrue("\(e)".contains("layers.0.initial_potential"), "\(e)") }
        try original.write(to: weights)

        // an older network.json (no globalPool / correction keys) reads as neurons and no correction
        let spec = dir.appendingPathComponent(ConvertedNetwork.specFile)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: spec)) as! [String: Any]
        var opts = json["options"] as! [String: Any]
        for k in ["globalPool", "correctionSteps", "correctionImages"] { XCTAssertNotNil(opts.removeValue(forKey: k), k) }
        json["options"] = opts
        try JSONSerialization.data(withJSONObject: json).write(to: spec)
        let old = try ConvertedNetwork.load(dir.path)
        XCTAssertEqual(old.options.globalPool, .neurons)
        XCTAssertEqual(old.options.correctionSteps, 0)
        // a bad correction option in the file is refused naming the key
        opts["correctionSteps"] = -3
        json["options"] = opts
        try JSONSerialization.data(withJSONObject: json).write(to: spec)
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.path)) { e in XCTAssertTrue("\(e)".contains("correctionSteps"), "\(e)") }
    }

    /// A global pooling followed by a QCFS (trained with that rounding) keeps its neurons under the
    /// default, and a QCFS net gets no potential correction (its thresholds are the trained λ).
    func testGlobalPoolWithQCFSKeepsItsNeuronsAndQCFSNetsAreNotCorrected() throws {
        var rng = TestRNG(s: 53)
        let c = Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), padding: Size2(1)), d = Dense(inFeatures: 2, outFeatures: 3)
        setWeights(c, &rng); setWeights(d, &rng)
        let q1 = QCFS(levels: 4), q2 = QCFS(levels: 4)
        q1.threshold.value = Tensor(shape: [1], values: [0.8]); q2.threshold.value = Tensor(shape: [1], values: [0.5])
        let m = try Sequential(inputShape: [1, 4, 4], layers: [c, q1, GlobalAvgPool2D(), q2, Flatten(), d], classes: 3)
        let (_, set) = images(6, shape: [1, 4, 4], norm: .unit, seed: 54)
        let snn = try Converter.convert(m, calibration: set, options: ConversionOptions())
        XCTAssertEqual(snn.recipe, .qcfs)
        XCTAssertEqual(snn.layers.map(\.kind), [.conv, .avgPool, .dense], "the pooling neurons stay")
        XCTAssertEqual(snn.layers.map { $0.initialPotential.count }, [0, 0, 0], "no potential correction for QCFS")
        // the same net with ReLUs: the pooling is folded into the output layer
        let r = try Sequential(inputShape: [1, 4, 4], layers: [c, ReLU(), GlobalAvgPool2D(), Flatten(), d], classes: 3)
        XCTAssertEqual(try Converter.convert(r, calibration: set, options: ConversionOptions()).layers.map(\.kind), [.conv, .dense])
    }

    /// The correction options are checked before any work.
    func testOutOfRangeCorrectionOptionsAreRefused() throws {
        let m = try model(seed: 51)
        let (_, set) = images(4, shape: [1, 8, 6], norm: m.normalization, seed: 52)
        XCTAssertThrowsError(try Converter.convert(m, calibration: set, options: options { $0.correctionSteps = -1 })) { e in
            XCTAssertTrue("\(e)".contains("correctionSteps must be in 0...100000"), "\(e)")
        }
        XCTAssertThrowsError(try Converter.convert(m, calibration: set, options: options { $0.correctionImages = 0 })) { e in
            XCTAssertTrue("\(e)".contains("correctionImages must be in 1..."), "\(e)")
        }
    }
}
