@testable import ANN
import Common
import Datasets
import Foundation
import XCTest

/// NaN and infinity in training and inference: training stops naming epoch, batch and layer; a loss
/// that explodes is warned about once; evaluation refuses non-finite weights and outputs; the JSON
/// writers (metrics, checkpoint metadata) encode NaN instead of failing.
final class NonFiniteTests: XCTestCase {
    /// dense(4 -> 3) on 4-feature samples: small enough that every number can be reasoned about.
    func tinyModel(seed: UInt64 = 1) throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [4], layers: [.dense(inFeatures: 4, outFeatures: 3, bias: true)], classes: 3), seed: seed)
    }

    func tinyData(count: Int = 32, scale: Float = 1, seed: UInt64 = 3) -> LabeledImages {
        var rng = TestRNG(seed)
        let px = (0..<count * 4).map { _ in Float(rng.uniform()) * scale }
        let labels = (0..<count).map { _ in Int32(rng.next() % 3) }
        return LabeledImages(sampleShape: [4], pixels: px, labels: labels, classCount: 3, source: "tiny")
    }

    func trainer(_ model: Sequential, _ opt: OptimizerSpec, loss: LossKind = .crossEntropy, batch: Int = 8) -> Trainer {
        Trainer(model: model, options: TrainingOptions(epochs: 1, batchSize: batch, seed: 2, optimizer: opt, loss: loss, shuffle: false), threads: 1)
    }

    func expectNonFinite(_ body: () throws -> Void, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected training to stop", file: file, line: line)
        } catch let e as ANNError {
            guard case .nonFinite(let m) = e else { return XCTFail("expected nonFinite, got \(e)", file: file, line: line) }
            for p in parts { XCTAssertTrue(m.contains(p), "'\(m)' lacks '\(p)'", file: file, line: line) }
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    /// MSE on inputs of 1e30: outputs ~1e30 (finite in float32), the loss ~1e60 (finite in double),
    /// but dL/dW = dy · x ~ 1e60 overflows float32: the gradient check names the layer and tensor.
    func testInfiniteGradientStopsNamingEpochBatchLayer() throws {
        let model = try tinyModel()
        let t = trainer(model, .sgd(learningRate: 1e-3, momentum: 0, weightDecay: 0, nesterov: false), loss: .mse)
        let before = model.stateDict()
        expectNonFinite({ _ = try t.trainEpoch(0, data: self.tinyData(scale: 1e30)) },
                        ["epoch 1, batch 1 of 4", "the gradient of '0.weight' (layer 0, dense)", "inf", "training stopped", "learning rate"])
        XCTAssertTrue(model.stateDict().elementsEqual(before) { $0.key == $1.key && $0.value == $1.value }, "no update from a bad gradient")
    }

    /// MSE on inputs of 1e15: the gradient (~1e30) is finite, but Adam's average of its square (~1e60)
    /// overflows float32. The weights stay finite (the step is m / sqrt(inf) = 0), so only a check of the
    /// optimiser's state stops the run before a checkpoint holds +inf (fuzz seed 13 model-0215, after bit
    /// flips in a checkpoint's weights).
    func testOptimizerStateOverflowStopsNamingTheBufferAndLayer() throws {
        let t = trainer(try tinyModel(), .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0), loss: .mse)
        expectNonFinite({ _ = try t.trainEpoch(0, data: self.tinyData(scale: 1e15)) },
                        ["epoch 1, batch 1 of 4: the optimizer's exp_avg_sq of '0.weight' (layer 0, dense) became +inf at index", "training stopped"])
        XCTAssertNotNil(t.optimizer.firstNonFiniteState())
        // the same data at 1e6 (squared gradients ~1e24) trains on
        let ok = trainer(try tinyModel(), .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0), loss: .mse)
        _ = try ok.trainEpoch(0, data: tinyData(scale: 1e6))
        XCTAssertNil(ok.optimizer.firstNonFiniteState())
    }

    /// A learning rate of 1e300 is +inf in float32: the first update makes the weights infinite.
    func testNonFiniteUpdateStopsAtTheFirstBatch() throws {
        let t = trainer(try tinyModel(), .sgd(learningRate: 1e300, momentum: 0, weightDecay: 0, nesterov: false))
        expectNonFinite({ _ = try t.trainEpoch(0, data: self.tinyData()) },
                        ["epoch 1, batch 1 of 4", "the update made '0.weight' (layer 0, dense)", "learning rate 1e+300: try a lower one"])
    }

    /// An infinite input makes the first layer's output non-finite: the loss is NaN and the message
    /// names that layer; an infinite weight is named as the tensor.
    func testNaNLossNamesTheLayerOrTheWeight() throws {
        var data = tinyData()
        var px = data.pixels
        px[4 * 9 + 2] = .infinity   // sample 9, in batch 2 (no shuffling)
        data = LabeledImages(sampleShape: [4], pixels: px, labels: data.labels, classCount: 3, source: "tiny")
        let t = trainer(try tinyModel(), .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        expectNonFinite({ _ = try t.trainEpoch(0, data: data) },
                        ["epoch 1, batch 2 of 4", "the loss is NaN", "the output of layer 0 (dense) is the first to overflow"])

        let m = try tinyModel()
        m.namedParameters[1].parameter.value[flat: 2] = .infinity   // 0.bias
        let t2 = trainer(m, .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        expectNonFinite({ _ = try t2.trainEpoch(0, data: self.tinyData()) }, ["epoch 1, batch 1 of 4", "'0.bias' (layer 0, dense) holds +inf at index 2"])
    }

    /// The cases on a small CNN: SGD at lr 1e6 stops with a named layer (no encoding error),
    /// Adam at lr 1e6 trains to a huge but finite loss and is warned about exactly once; a sane
    /// learning rate gives no warning. (No ReLU after the conv: dead units would stop the growth.)
    func testHugeLearningRatesOnASmallCNN() throws {
        let spec = ModelSpec(inputShape: [1, 12, 12], layers: [
            .conv2d(inChannels: 1, outChannels: 3, kernel: Size2(3), stride: Size2(1), padding: Size2(0), bias: true),
            .avgPool2d(kernel: Size2(2), stride: Size2(2)), .flatten, .dense(inFeatures: 75, outFeatures: 10, bias: true),
        ])
        let data = syntheticImages(count: 256, seed: 5, shape: [1, 12, 12])
        func run(_ opt: OptimizerSpec) throws -> (Trainer, [String]) {
            let t = Trainer(model: try Sequential(spec: spec, seed: 1), options: TrainingOptions(epochs: 2, batchSize: 16, seed: 1, optimizer: opt), threads: 1)
            var warnings: [String] = []
            t.warn = { warnings.append($0) }
            for e in 0..<2 { _ = try t.trainEpoch(e, data: data) }
            return (t, warnings)
        }
        do {
            _ = try run(.sgd(learningRate: 1e6, momentum: 0, weightDecay: 0, nesterov: false))
            XCTFail("SGD at lr 1e6 must stop")
        } catch let e as ANNError {
            let m = e.description
            XCTAssertTrue(m.contains("epoch 1, batch ") && m.contains("layer ") && m.contains("learning rate 1e+06"), m)
        }
        let (_, adamWarnings) = try run(.adam(learningRate: 1e6, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        XCTAssertEqual(adamWarnings.count, 1, "\(adamWarnings)")
        XCTAssertTrue(adamWarnings.first?.contains("the training loss exploded") == true && adamWarnings.first?.contains("learning rate 1e+06") == true,
                      "\(adamWarnings)")
        let (sane, saneWarnings) = try run(.adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        XCTAssertEqual(saneWarnings, [])
        XCTAssertEqual(sane.firstLoss ?? 0, log(10), accuracy: 1.0, "the first loss of a fresh 10-class model is near ln 10")
    }

    /// Data that does not fit the model is refused by training and evaluation, not trapped on.
    func testDataThatDoesNotFitIsRefused() throws {
        let model = try tinyModel()
        let t = trainer(model, .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        let wrongShape = LabeledImages(sampleShape: [5], pixels: [Float](repeating: 0, count: 10), labels: [0, 1], classCount: 3, source: "five.idx")
        XCTAssertThrowsError(try t.trainEpoch(0, data: wrongShape)) { XCTAssertTrue("\($0)".contains("five.idx: images have shape [5], the model expects [4]"), "\($0)") }
        XCTAssertThrowsError(try Evaluation.run(model, on: wrongShape)) { XCTAssertTrue("\($0)".contains("[5]"), "\($0)") }
        let badLabel = LabeledImages(sampleShape: [4], pixels: [Float](repeating: 0, count: 12), labels: [0, 2, 7], classCount: 8,
                                     source: "img.idx", labelsSource: "labels.idx")
        for body in [{ _ = try t.trainEpoch(0, data: badLabel) }, { _ = try Evaluation.run(model, on: badLabel) }] as [() throws -> Void] {
            XCTAssertThrowsError(try body()) { e in
                XCTAssertEqual("\(e)", "labels.idx: label 7 at index 2 is not a class of the model, which has 3 classes (labels 0...2)")
            }
        }
        XCTAssertThrowsError(try t.step(Tensor(zeros: [2, 4]), [0, 3])) { XCTAssertTrue("\($0)".contains("label 3 of sample 1"), "\($0)") }
    }

    /// eval on NaN weights: an error naming the weight, not "accuracy 12%".
    func testEvaluationRefusesNonFiniteWeightsAndOutputs() throws {
        let model = try tinyModel()
        let data = tinyData()
        let ok = try Evaluation.run(model, on: data)
        XCTAssertTrue(ok.loss.isFinite)
        model.namedParameters[0].parameter.value[flat: 5] = .nan
        XCTAssertThrowsError(try Evaluation.run(model, on: data)) { e in
            XCTAssertTrue("\(e)".contains("image 0 of tiny") && "\(e)".contains("weight '0.weight' holds NaN at index 5"), "\(e)")
        }
    }

    /// Metrics with NaN go through the one JSON encoder: the checkpoint metadata (which used a bare
    /// JSONEncoder) and metrics.json are written, and read back as NaN.
    func testCheckpointMetadataAndMetricsEncodeNaN() throws {
        let dir = NSTemporaryDirectory() + "nm-nanjson-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let run = try TrainingRun(spec: try tinyModel().spec, options: TrainingOptions(epochs: 1, batchSize: 8), train: tinyData(),
                                  test: tinyData(), outDir: dir, threads: 1)
        let m = EpochMetrics(epoch: 1, learning_rate: 1e6, train_loss: .nan, train_accuracy: 0.1, test_loss: .infinity, test_accuracy: 0.1,
                             samples_per_second: 1, inference_images_per_second: 1, train_seconds: 1)
        let path = dir + "/checkpoint.safetensors"
        try run.saveCheckpoint(path, epochsDone: 1, metrics: [m])
        let meta = try Safetensors.read(path: path).metadata
        let back = try JSONOutput.decoder.decode([EpochMetrics].self, from: Data(meta["metrics"]!.utf8))
        XCTAssertTrue(back[0].train_loss.isNaN)
        XCTAssertEqual(back[0].test_loss, .infinity)
        XCTAssertEqual(back[0].learning_rate, 1e6)
        try JSONOutput.write(TrainingMetrics(seed: 1, threads: 1, batch_size: 8, train_samples: 1, test_samples: 1, optimizer: "x",
                                             epochs: [m], final_test_accuracy: .nan), to: URL(fileURLWithPath: dir + "/metrics.json"))
        let text = try String(contentsOfFile: dir + "/metrics.json", encoding: .utf8)
        XCTAssertTrue(text.contains("\"train_loss\" : \"nan\"") && text.contains("\"test_loss\" : \"inf\""), text)
    }

    /// The finiteness scan finds the first non-finite element wherever it is (the 4-lane fast path
    /// and the tail), and none in a finite buffer with huge values.
    func testFiniteCheckFindsFirstNonFinite() {
        for n in [1, 3, 4, 5, 17, 64] {
            for at in 0..<n {
                for bad in [Float.nan, .infinity, -.infinity] {
                    var v = [Float](repeating: 3e38, count: n)
                    v[at] = bad
                    if at + 1 < n { v[n - 1] = .nan }
                    XCTAssertEqual(FiniteCheck.firstNonFinite(v), at, "n \(n) at \(at) \(bad)")
                }
            }
            XCTAssertNil(FiniteCheck.firstNonFinite([Float](repeating: -3.4e38, count: n)))
        }
        XCTAssertNil(FiniteCheck.firstNonFinite([Float]()))
    }
}
