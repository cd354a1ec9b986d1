import ANN
import CCore
import Datasets
import Foundation
import SNN
import XCTest
@testable import Conversion

/// Conversion on every vector path the CPU supports (nm_isa.h): the conversion tests pass on each, and a
/// converted CNN whose layers use every vector delivery kernel gives bit-identical accuracies,
/// predictions, spikes and SOPs on every path and thread count.
final class VectorPathConversionTests: XCTestCase {
    private func onEveryPath(_ what: String, _ body: (String) throws -> Void) throws {
        let skipped = VectorPath.all.filter { !VectorPath.available.contains($0) }
        if !skipped.isEmpty {
            print("\(what): skipped vector paths \(skipped.joined(separator: ", ")) (this CPU, \(VectorPath.cpuModel), lacks them)")
        }
        for path in VectorPath.available { try VectorPath.with(path) { try body(path) } }
    }

    /// The conversion tests (closed-form rates, ANN approximation per layer, SOP counts, thread
    /// determinism), once per path.
    func testConversionTestsPassOnEveryPath() throws {
        try onEveryPath("conversion tests") { _ in
            let t = ConversionTests(name: "ConversionTests", testClosure: { _ in })   // its failures are recorded on this test
            try t.testHiddenRatesMatchClosedForm()
            try t.testEachLayerConvertsAndApproximatesANN()
            try t.testSOPCountsMatchRecordedSpikesTimesFanout()
            try t.testEvaluationIsDeterministicAcrossThreads()
        }
    }

    /// A CNN with 16-channel conv layers (target-major conv delivery; same-step average pooling from
    /// the IF spike bits on one thread, from the spike list on two), max pooling (gated delivery) and
    /// dense layers (vector row sums), evaluated at T = 12 and 40 with analog and Poisson input: every
    /// path and thread count gives the same accuracies, predictions, spikes and SOPs per layer.
    func testConvertedCNNBitIdenticalAcrossPaths() throws {
        var rng = TestRNG(s: 41)
        let c1 = Conv2D(inChannels: 1, outChannels: 16, kernel: Size2(3), padding: Size2(1))
        let c2 = Conv2D(inChannels: 16, outChannels: 16, kernel: Size2(3), padding: Size2(1))
        let d1 = Dense(inFeatures: 16 * 3 * 3, outFeatures: 37), d2 = Dense(inFeatures: 37, outFeatures: 10)
        for l in [c1, c2, d1, d2] as [Layer] { setWeights(l, &rng, scale: 0.4) }
        let model = try Sequential(inputShape: [1, 12, 12], layers: [c1, ReLU(), AvgPool2D(kernel: Size2(2)), c2, ReLU(),
                                                                     MaxPool2D(kernel: Size2(2)), Flatten(), d1, ReLU(), d2],
                                   normalization: Normalization(mean: 0.5, std: 0.25), classes: 10)
        let (raw, unlabeled) = images(24, shape: [1, 12, 12], norm: model.normalization, seed: 43)
        // labels: the ANN's class for most images, so that accuracy measures agreement
        let logits = model.predict(Tensor(shape: [24, 1, 12, 12], values: unlabeled.pixels)).scalars
        var labels: [Int32] = []
        for i in 0..<24 {
            let row = Array(logits[(i * 10)..<(i * 10 + 10)])
            labels.append(Int32(row.firstIndex(of: row.max()!)!))
        }
        for i in stride(from: 0, to: 24, by: 5) { labels[i] = (labels[i] + 1) % 10 }
        let set = LabeledImages(sampleShape: [1, 12, 12], pixels: unlabeled.pixels, labels: labels, classCount: 10)
        for encoding in [ConversionOptions.InputEncoding.analog, .poisson] {
            var opts = ConversionOptions(); opts.encoding = encoding
            let snn = try Converter.convert(model, calibration: set, options: opts)
            XCTAssertEqual(snn.layers.map(\.kind), [.conv, .avgPool, .conv, .maxPool, .dense, .dense])
            let clf = try SpikingClassifier(snn, seed: 3)
            var reference: SpikingEvaluation?
            try onEveryPath("converted CNN") { path in
                for threads in [1, 2] {
                    let r = try clf.evaluate(pixels: raw, labels: set.labels, timesteps: [12, 40], threads: threads)
                    guard let ref = reference else {
                        reference = r
                        XCTAssertGreaterThan(r.results[1].accuracy, 0.5, "\(encoding): the SNN should mostly agree with the ANN")
                        XCTAssertGreaterThan(r.results[1].spikesPerLayer[1], 0, "\(encoding): pooling layer active")
                        continue
                    }
                    let what = "\(encoding), \(path), \(threads) threads"
                    XCTAssertEqual(r.results.map(\.accuracy), ref.results.map(\.accuracy), what)
                    XCTAssertEqual(r.results.map(\.predictions), ref.results.map(\.predictions), what)
                    XCTAssertEqual(r.results.map(\.spikesPerLayer), ref.results.map(\.spikesPerLayer), what)
                    XCTAssertEqual(r.results.map(\.sopsPerLayer), ref.results.map(\.sopsPerLayer), what)
                    XCTAssertEqual(r.results.map(\.inputSpikes), ref.results.map(\.inputSpikes), what)
                }
                if encoding == .analog {   // the report records the path that ran
                    let c = try Comparison.run(model: model, converted: snn, images: set, rawPixels: raw, timesteps: [12], threads: 1)
                    XCTAssertEqual(c.isa, path)
                    XCTAssertEqual(c.cpu, VectorPath.cpuModel)
                    XCTAssertEqual(c.snn[0].accuracy, reference?.results[0].accuracy)
                }
            }
        }
    }
}
