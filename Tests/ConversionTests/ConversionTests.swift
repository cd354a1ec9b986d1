import ANN
import Datasets
import Foundation
import SNN
import XCTest
@testable import Conversion

/// Deterministic pseudo-random floats for building test networks and inputs.
struct TestRNG {
    var s: UInt64
    mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(s >> 40) / Float(1 << 24)
    }
    mutating func fill(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] { (0..<n).map { _ in lo + (hi - lo) * next() } }
}

func setWeights(_ layer: Layer, _ rng: inout TestRNG, scale: Float = 0.5) {
    for p in layer.parameters {
        p.value = Tensor(shape: p.value.shape, values: rng.fill(p.value.count, -scale, scale))
    }
}

/// Random images in [0, 1] (u) and their model-normalized form x = (u - mean)/std.
func images(_ n: Int, shape: [Int], norm: Normalization, seed: UInt64) -> (raw: [Float], set: LabeledImages) {
    var rng = TestRNG(s: seed)
    let size = shape.reduce(1, *)
    let raw = rng.fill(n * size, 0, 1)
    let x = raw.map { Float((Double($0) - norm.mean) / norm.std) }
    return (raw, LabeledImages(sampleShape: shape, pixels: x, labels: [Int32](repeating: 0, count: n), classCount: 10))
}

/// Spike counts of every neuron of every layer after T steps (analog input) for one image.
func spikeCounts(_ snn: ConvertedNetwork, pixels: [Float], T: Int) throws -> [[Int32]] {
    let sim = try Simulator(CompiledNetwork(snn.makeNetwork(), seed: 1))
    for k in snn.layers.indices { sim.countSpikesPerNeuron(population: k, true) }
    sim.initializeState()
    let cur = snn.firstLayerCurrents(pixels: pixels, count: 1, threads: 1)
    for k in snn.layers.indices {
        let ext = sim.externalCurrent(population: k)
        let b = k == 0 ? cur : snn.biasCurrents(k)
        for q in 0..<b.count { ext[q] = b[q] }
    }
    try sim.run(steps: Int64(T))
    return snn.layers.indices.map { Array(sim.spikeCounts(population: $0)) }
}

final class ConversionTests: XCTestCase {
    /// IF rates in closed form: a hidden IF neuron with constant input r = a/λ per step (reset by
    /// subtraction, v0 = θ/2) fires floor(T r + 1/2) times in T steps — rate = clipped activation/threshold.
    func testHiddenRatesMatchClosedForm() throws {
        var rng = TestRNG(s: 1)
        let d1 = Dense(inFeatures: 6, outFeatures: 5), d2 = Dense(inFeatures: 5, outFeatures: 3)
        setWeights(d1, &rng); setWeights(d2, &rng)
        let model = try Sequential(inputShape: [1, 2, 3], layers: [Flatten(), d1, ReLU(), d2], normalization: Normalization(mean: 0.2, std: 0.5), classes: 3)
        let (raw, set) = images(40, shape: [1, 2, 3], norm: model.normalization, seed: 2)
        var opts = ConversionOptions()
        opts.percentile = 90   // some activations exceed λ: rates must clip at 1 spike per step
        opts.normalization = .layer
        let snn = try Converter.convert(model, calibration: set, options: opts)
        let lambda = Double(snn.layers[0].scale[0])
        let acts = model.activations(Tensor(shape: [40, 1, 2, 3], values: set.pixels))[2].scalars   // after ReLU
        let T = 200
        let sim = try Simulator(CompiledNetwork(snn.makeNetwork(), seed: 1))
        var clipped = 0
        for img in 0..<40 {
            sim.initializeState()
            let cur = snn.firstLayerCurrents(pixels: Array(raw[(img * 6)..<(img * 6 + 6)]), count: 1, threads: 1)
            let ext = sim.externalCurrent(population: 0)
            for q in 0..<5 { ext[q] = cur[q] }
            try sim.run(steps: Int64(T))
            let counts = sim.spikeCounts(population: 0)
            for q in 0..<5 {
                let r = min(max(Double(acts[img * 5 + q]) / lambda, 0), 1)
                if r == 1 { clipped += 1 }
                XCTAssertEqual(Double(counts[q]), (Double(T) * r + 0.5).rounded(.down), accuracy: 1, "image \(img) neuron \(q) r \(r)")
            }
        }
        XCTAssertGreaterThan(clipped, 0, "the test should exercise clipping")
    }

    /// BatchNorm folding: the folded conv/dense layers reproduce conv+BN / dense+BN outputs.
    func testBatchNormFoldingPreservesOutputs() throws {
        var rng = TestRNG(s: 3)
        let conv = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(3), stride: Size2(1), padding: Size2(1))
        let bn = BatchNorm(features: 3, spatial: true)
        let dense = Dense(inFeatures: 3 * 4 * 4, outFeatures: 4)
        let bn1 = BatchNorm(features: 4, spatial: false)
        for l in [conv, dense] as [Layer] { setWeights(l, &rng) }
        for b in [bn, bn1] {
            b.gamma.value = Tensor(shape: b.gamma.value.shape, values: rng.fill(b.features, 0.5, 1.5))
            b.beta.value = Tensor(shape: b.beta.value.shape, values: rng.fill(b.features, -0.3, 0.3))
            b.runningMean = Tensor(shape: [b.features], values: rng.fill(b.features, -0.5, 0.5))
            b.runningVar = Tensor(shape: [b.features], values: rng.fill(b.features, 0.2, 2))
        }
        let model = try Sequential(inputShape: [2, 4, 4], layers: [conv, bn, ReLU(), Flatten(), dense, bn1], classes: 4)
        let groups = try Converter.plan(model, options: ConversionOptions())
        let (wc, bc) = try Converter.foldedParameters(model, groups[0])
        let (wd, bd) = try Converter.foldedParameters(model, groups[1])
        let conv2 = Conv2D(inChannels: 2, outChannels: 3, kernel: Size2(3), stride: Size2(1), padding: Size2(1))
        conv2.weight.value = Tensor(shape: [3, 2, 3, 3], values: wc); conv2.bias!.value = Tensor(shape: [3], values: bc)
        let dense2 = Dense(inFeatures: 48, outFeatures: 4)
        dense2.weight.value = Tensor(shape: [4, 48], values: wd); dense2.bias!.value = Tensor(shape: [4], values: bd)
        let folded = try Sequential(inputShape: [2, 4, 4], layers: [conv2, ReLU(), Flatten(), dense2], classes: 4)
        let x = Tensor(shape: [5, 2, 4, 4], values: rng.fill(160, -1, 1))
        let a = model.predict(x).scalars, b = folded.predict(x).scalars
        for (p, q) in zip(a, b) { XCTAssertEqual(p, q, accuracy: 1e-5) }
    }

    /// conv3x3x3-ReLU-flatten-dense4 on 1x5x5 inputs with random weights, and 30 calibration images.
    func smallConvDense(seed: UInt64) throws -> (Sequential, LabeledImages) {
        var rng = TestRNG(s: seed)
        let conv = Conv2D(inChannels: 1, outChannels: 3, kernel: Size2(3))
        let dense = Dense(inFeatures: 3 * 3 * 3, outFeatures: 4)
        setWeights(conv, &rng); setWeights(dense, &rng)
        let model = try Sequential(inputShape: [1, 5, 5], layers: [conv, ReLU(), Flatten(), dense], classes: 4)
        let (_, set) = images(30, shape: [1, 5, 5], norm: .unit, seed: seed + 1)
        return (model, set)
    }

    /// Scales are the requested percentile of positive activations (direct computation by sorting),
    /// per channel for hidden conv layers and one value for the output layer.
    func testNormalizationScalesMatchDirectPercentiles() throws {
        let (model, set) = try smallConvDense(seed: 4)
        var opts = ConversionOptions()
        opts.percentile = 95
        let snn = try Converter.convert(model, calibration: set, options: opts)
        let acts = model.activations(Tensor(shape: [30, 1, 5, 5], values: set.pixels))
        func pct(_ v: [Float]) -> Float {
            let s = v.sorted()
            let pos = 0.95 * Double(s.count - 1)
            let lo = Int(pos), f = Float(pos - Double(lo))
            return s[lo] + (s[min(lo + 1, s.count - 1)] - s[lo]) * f
        }
        let a1 = acts[1].scalars   // [30, 3, 3, 3]
        for c in 0..<3 {
            var v: [Float] = []
            for s in 0..<30 { for q in 0..<9 { let x = a1[(s * 3 + c) * 9 + q]; if x > 0 { v.append(x) } } }
            XCTAssertEqual(snn.layers[0].scale[c], pct(v), accuracy: 1e-6, "channel \(c)")
        }
        let out = acts[3].scalars.filter { $0 > 0 }
        XCTAssertEqual(snn.layers[1].scale.count, 1)
        XCTAssertEqual(snn.layers[1].scale[0], pct(out), accuracy: 1e-6)
    }

    /// `percentileOf = .all` ranks every activation, the ReLU's zeros included (SpikingJelly's
    /// convention): scales equal the percentile of max(0, a) over all elements, computed by sorting.
    func testNormalizationOverAllActivationsCountsZeros() throws {
        let (model, set) = try smallConvDense(seed: 14)
        var opts = ConversionOptions()
        opts.percentile = 90
        opts.percentileOf = .all
        let snn = try Converter.convert(model, calibration: set, options: opts)
        var pos = opts
        pos.percentileOf = .positive
        let snnPos = try Converter.convert(model, calibration: set, options: pos)
        let acts = model.activations(Tensor(shape: [30, 1, 5, 5], values: set.pixels))
        func pct(_ v: [Float]) -> Float {
            let s = v.map { max(0, $0) }.sorted()
            let pos = 0.90 * Double(s.count - 1)
            let lo = Int(pos), f = Float(pos - Double(lo))
            return s[lo] + (s[min(lo + 1, s.count - 1)] - s[lo]) * f
        }
        let a1 = acts[1].scalars   // [30, 3, 3, 3]
        var zeros = 0
        var want: [Float] = []
        for c in 0..<3 {
            var v: [Float] = []
            for s in 0..<30 { for q in 0..<9 { v.append(a1[(s * 3 + c) * 9 + q]) } }
            zeros += v.filter { $0 <= 0 }.count
            want.append(pct(v))
        }
        // a channel whose percentile is 0 (zero at more than 90 % of the calibration positions) keeps the largest scale
        let fallback = want.filter { $0 > 0 }.max() ?? 1
        XCTAssertTrue(want.contains { $0 > 0 }, "the test needs a channel with a positive scale")
        for c in 0..<3 {
            XCTAssertEqual(snn.layers[0].scale[c], want[c] > 0 ? want[c] : fallback, accuracy: 1e-6, "channel \(c)")
            if want[c] > 0 { XCTAssertLessThanOrEqual(snn.layers[0].scale[c], snnPos.layers[0].scale[c]) }
        }
        XCTAssertGreaterThan(zeros, 0, "the test needs some zero activations")
        XCTAssertEqual(snn.layers[1].scale[0], pct(acts[3].scalars), accuracy: 1e-6)
    }

    /// The quickselect percentile with implicit zeros equals NumPy-style interpolation on the sorted
    /// list with the zeros written out, including positions that fall between zeros and values.
    func testPercentileWithImplicitZerosMatchesSorting() {
        var rng = TestRNG(s: 21)
        for trial in 0..<200 {
            let n = 1 + trial % 17, z = trial % 7
            let v = rng.fill(n, 0.01, 2)
            let full = (Array(repeating: Float(0), count: z) + v).sorted()
            for p in [0.0, 10, 33.3, 50, 75, 90, 99.9, 100] {
                let pos = p / 100 * Double(full.count - 1)
                let lo = Int(pos), f = Float(pos - Double(lo))
                let want = full[lo] + (full[min(lo + 1, full.count - 1)] - full[lo]) * f
                XCTAssertEqual(Converter.percentile(v, p, zeros: z), want, accuracy: 1e-6, "n \(n) zeros \(z) p \(p)")
            }
        }
    }

    /// Every supported layer converts, and with max-normalization on the calibration images the SNN's
    /// output potential / T approaches the ANN's logits / λ_out (membrane decoding).
    func testEachLayerConvertsAndApproximatesANN() throws {
        var rng = TestRNG(s: 6)
        let c1 = Conv2D(inChannels: 1, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1))
        let bn = BatchNorm(features: 4, spatial: true)
        let c2 = Conv2D(inChannels: 4, outChannels: 6, kernel: Size2(3), stride: Size2(2), padding: Size2(1))
        let d1 = Dense(inFeatures: 6 * 2 * 2, outFeatures: 8), bn1 = BatchNorm(features: 8, spatial: false)
        let d2 = Dense(inFeatures: 8, outFeatures: 3)
        for l in [c1, c2, d1, d2] as [Layer] { setWeights(l, &rng, scale: 0.6) }
        bn.runningVar = Tensor(shape: [4], values: rng.fill(4, 0.5, 1.5))
        bn1.runningMean = Tensor(shape: [8], values: rng.fill(8, -0.2, 0.2))
        let layers: [Layer] = [c1, bn, ReLU(), AvgPool2D(kernel: Size2(2)), c2, ReLU(), MaxPool2D(kernel: Size2(2)), Dropout(p: 0.3),
                               Flatten(), d1, bn1, ReLU(), Dropout(p: 0.1), d2]
        let model = try Sequential(inputShape: [1, 16, 16], layers: layers, normalization: Normalization(mean: 0.5, std: 0.25), classes: 3)
        let n = 20, size = 256
        let (raw, set) = images(n, shape: [1, 16, 16], norm: model.normalization, seed: 7)
        for encoding in [ConversionOptions.InputEncoding.analog, .poisson] {
            var opts = ConversionOptions()
            opts.percentile = 100
            opts.encoding = encoding
            let snn = try Converter.convert(model, calibration: set, options: opts)
            XCTAssertEqual(snn.layers.map(\.kind), [.conv, .avgPool, .conv, .maxPool, .dense, .dense])
            let T = encoding == .analog ? 400 : 1500
            let clf = try SpikingClassifier(snn)
            let logits = model.predict(Tensor(shape: [n, 1, 16, 16], values: set.pixels)).scalars
            // run each image and read the output potential
            let sim = try Simulator(clf.compiled)
            var err = 0.0, norm = 0.0
            for img in 0..<n {
                sim.initializeState()
                if encoding == .analog {
                    let cur = snn.firstLayerCurrents(pixels: Array(raw[(img * size)..<(img * size + size)]), count: 1, threads: 1)
                    let ext = sim.externalCurrent(population: 0)
                    for q in 0..<cur.count { ext[q] = cur[q] }
                } else {
                    let ext = sim.externalCurrent(population: 1)
                    for q in 0..<snn.firstLayerOffset.count { ext[q] = snn.firstLayerOffset[q] }
                    sim.reseed(UInt64(img + 1))
                    try sim.setPoissonRates(population: 0, hz: Array(raw[(img * size)..<(img * size + size)]).map { $0 * 1000 })
                }
                let off = encoding == .analog ? 0 : 1
                for k in 1..<snn.layers.count where !snn.layers[k].bias.isEmpty {
                    let ext = sim.externalCurrent(population: k + off)
                    let b = snn.biasCurrents(k)
                    for q in 0..<b.count { ext[q] = b[q] }
                }
                try sim.run(steps: Int64(T))
                let v = sim.state(population: snn.layers.count - 1 + off, variable: 0)
                let lam = Double(snn.layers.last!.scale[0])
                for q in 0..<3 {
                    let snnLogit = Double(v[q]) / Double(T) * lam
                    err += abs(snnLogit - Double(logits[img * 3 + q]))
                    norm += abs(Double(logits[img * 3 + q]))
                }
            }
            XCTAssertLessThan(err / norm, encoding == .analog ? 0.05 : 0.12, "\(encoding): mean relative logit error")
        }
    }

    /// Unsupported arrangements are refused with the layer index, type and reason.
    func testUnsupportedLayersAreRefused() throws {
        func refuse(_ layers: [Layer], shape: [Int] = [1, 4, 4], opts: ConversionOptions = ConversionOptions(), _ needle: String) throws {
            let model = try Sequential(inputShape: shape, layers: layers, classes: 2)
            let (_, set) = images(4, shape: shape, norm: .unit, seed: 9)
            XCTAssertThrowsError(try Converter.convert(model, calibration: set, options: opts)) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(e) lacks '\(needle)'")
            }
        }
        let conv = { Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), padding: Size2(1)) }
        try refuse([conv(), ReLU(), BatchNorm(features: 2, spatial: true), Flatten(), Dense(inFeatures: 32, outFeatures: 2)], "layer 2 (batchnorm2d)")
        try refuse([AvgPool2D(kernel: Size2(2)), Flatten(), Dense(inFeatures: 4, outFeatures: 2)], "layer 0 (avgpool2d): pooling on the input")
        try refuse([conv(), Flatten(), Dense(inFeatures: 32, outFeatures: 2)], "layer 0 (conv2d) is not followed by a ReLU")
        var refuseMax = ConversionOptions(); refuseMax.maxPool = .refuse
        try refuse([conv(), ReLU(), MaxPool2D(kernel: Size2(2)), Flatten(), Dense(inFeatures: 8, outFeatures: 2)], opts: refuseMax, "layer 2 (maxpool2d): max pooling is refused")
        try refuse([Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3), stride: Size2(2, 1)), ReLU(), Flatten(), Dense(inFeatures: 4, outFeatures: 2)], "stride 2x1")
        try refuse([Flatten(), Dense(inFeatures: 16, outFeatures: 4), ReLU(), BatchNorm(features: 4, spatial: false), Dense(inFeatures: 4, outFeatures: 2)], "layer 3 (batchnorm1d)")
    }

    /// SOPs counted by the engine equal, per projection, the sum over recorded presynaptic spikes of
    /// each spike's fan-out computed independently from the layer geometry.
    func testSOPCountsMatchRecordedSpikesTimesFanout() throws {
        var rng = TestRNG(s: 10)
        let c1 = Conv2D(inChannels: 1, outChannels: 3, kernel: Size2(3), padding: Size2(1))
        let c2 = Conv2D(inChannels: 3, outChannels: 4, kernel: Size2(3), stride: Size2(2), padding: Size2(1))
        let d = Dense(inFeatures: 4 * 2 * 2, outFeatures: 5)
        for l in [c1, c2, d] as [Layer] { setWeights(l, &rng, scale: 0.8) }
        let model = try Sequential(inputShape: [1, 8, 8], layers: [c1, ReLU(), AvgPool2D(kernel: Size2(2)), c2, ReLU(), Flatten(), d], classes: 5)
        let (raw, set) = images(6, shape: [1, 8, 8], norm: .unit, seed: 11)
        var opts = ConversionOptions(); opts.encoding = .poisson; opts.decoding = .spikes
        let snn = try Converter.convert(model, calibration: set, options: opts)
        let net = snn.makeNetwork()
        let sim = try Simulator(CompiledNetwork(net, seed: 3))
        for p in net.populations { try sim.recordSpikes(p.name) }
        sim.initializeState()
        try sim.setPoissonRates(population: 0, hz: Array(raw[0..<64]).map { $0 * 1000 })
        for k in 0..<snn.layers.count {
            let ext = sim.externalCurrent(population: k + 1)
            let b = snn.biasCurrents(k)
            for q in 0..<b.count { ext[q] = b[q] }
        }
        try sim.run(steps: 50)
        func convFanout(_ i: Int, inH: Int, inW: Int, inC: Int, outH: Int, outW: Int, outC: Int, k: Int, s: Int, p: Int, depthwise: Bool) -> Int {
            let c = i % inC, pix = i / inC, x = pix % inW, y = pix / inW
            _ = c
            var n = 0
            for oy in 0..<outH { for ox in 0..<outW {
                let ky = y + p - oy * s, kx = x + p - ox * s
                if ky >= 0 && ky < k && kx >= 0 && kx < k { n += depthwise ? 1 : outC }
            } }
            return n
        }
        var checked = 0
        for (j, pr) in net.projections.enumerated() {
            let spikes = sim.spikes(pr.pre)
            var expected = 0
            for i in spikes.ids {
                switch pr.kind {
                case .conv(let g, _):
                    expected += convFanout(Int(i), inH: g.inHeight, inW: g.inWidth, inC: g.inChannels, outH: g.outHeight, outW: g.outWidth,
                                           outC: g.outChannels, k: g.kernelHeight, s: g.stride, p: g.padding, depthwise: g.depthwise)
                case .dense: expected += net.populations[net.populationIndex(pr.post)!].size
                default: XCTFail("unexpected projection kind")
                }
            }
            XCTAssertGreaterThan(spikes.count, 0, pr.name)
            XCTAssertEqual(sim.synapticEvents(projection: j), Int64(expected), pr.name)
            checked += 1
        }
        XCTAssertEqual(checked, 4)   // input->conv, conv->pool, pool->conv, conv->dense
    }

    /// network.json + weights.safetensors round trip: same layers, same predictions; corrupt files are
    /// rejected with the file and the problem.
    func testConvertedNetworkFileRoundTrip() throws {
        var rng = TestRNG(s: 12)
        let c1 = Conv2D(inChannels: 1, outChannels: 2, kernel: Size2(3)), d = Dense(inFeatures: 2 * 2 * 2, outFeatures: 3)
        setWeights(c1, &rng); setWeights(d, &rng)
        let model = try Sequential(inputShape: [1, 6, 6], layers: [c1, ReLU(), AvgPool2D(kernel: Size2(2)), Flatten(), d], classes: 3)
        let (raw, set) = images(10, shape: [1, 6, 6], norm: .unit, seed: 13)
        let snn = try Converter.convert(model, calibration: set, options: ConversionOptions())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-snn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try snn.save(to: dir.path)
        let back = try ConvertedNetwork.load(dir.path)
        XCTAssertEqual(back.layers, snn.layers)
        XCTAssertEqual(back.firstLayerOffset, snn.firstLayerOffset)
        let a = try SpikingClassifier(snn).evaluate(pixels: raw, labels: set.labels, timesteps: [10, 30], threads: 1)
        let b = try SpikingClassifier(back).evaluate(pixels: raw, labels: set.labels, timesteps: [10, 30], threads: 1)
        XCTAssertEqual(a.results.map(\.predictions), b.results.map(\.predictions))
        XCTAssertEqual(a.results.map(\.spikesPerLayer), b.results.map(\.spikesPerLayer))
        // corruption
        let w = dir.appendingPathComponent(ConvertedNetwork.weightsFile)
        let data = try Data(contentsOf: w)
        try data.prefix(data.count - 10).write(to: w)
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.path)) { XCTAssertTrue("\($0)".contains("weights.safetensors"), "\($0)") }
        try Data("{\"format\": \"something else\"}".utf8).write(to: dir.appendingPathComponent(ConvertedNetwork.specFile))
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.path)) { XCTAssertTrue("\($0)".contains("network.json"), "\($0)") }
        XCTAssertThrowsError(try ConvertedNetwork.load(dir.appendingPathComponent("missing").path)) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
    }

    /// Evaluation results do not depend on the thread count (Poisson input included).
    func testEvaluationIsDeterministicAcrossThreads() throws {
        var rng = TestRNG(s: 14)
        let c1 = Conv2D(inChannels: 1, outChannels: 3, kernel: Size2(3)), d = Dense(inFeatures: 3 * 2 * 2, outFeatures: 4)
        setWeights(c1, &rng); setWeights(d, &rng)
        let model = try Sequential(inputShape: [1, 6, 6], layers: [c1, ReLU(), MaxPool2D(kernel: Size2(2)), Flatten(), d], classes: 4)
        let (raw, set) = images(13, shape: [1, 6, 6], norm: .unit, seed: 15)
        for enc in [ConversionOptions.InputEncoding.analog, .poisson] {
            var opts = ConversionOptions(); opts.encoding = enc
            let snn = try Converter.convert(model, calibration: set, options: opts)
            let clf = try SpikingClassifier(snn, seed: 5)
            let one = try clf.evaluate(pixels: raw, labels: set.labels, timesteps: [8, 20], threads: 1)
            let three = try clf.evaluate(pixels: raw, labels: set.labels, timesteps: [8, 20], threads: 3)
            XCTAssertEqual(one.results.map(\.predictions), three.results.map(\.predictions), "\(enc)")
            XCTAssertEqual(one.results.map(\.spikesPerLayer), three.results.map(\.spikesPerLayer), "\(enc)")
            XCTAssertEqual(one.results.map(\.sopsPerLayer), three.results.map(\.sopsPerLayer), "\(enc)")
        }
    }
}
