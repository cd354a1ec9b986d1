import ANN
import Datasets
@testable import Experiment
import Foundation
import XCTest

/// Every count, size and rate of a training config is finite and in range, refused with
/// file:line:col and the key; a model too large for this machine is refused with its estimate; data
/// that does not fit the model (image shape, labels beyond the classes) is refused at model.input /
/// model.classes, naming the data file.
final class TrainingConfigValidationTests: XCTestCase {
    let base = """
        model:
          input: [1, 8, 8]
          layers:
            - conv2d: {out: 2, kernel: 3, stride: 1, padding: 0}
            - relu
            - flatten
            - dense: {out: 10}
        training:
          epochs: 2
          batch_size: 16
          optimizer: {type: sgd, lr: 0.1, momentum: 0.9}

        """

    func expect(_ text: String, line: Int, _ parts: [String], file: StaticString = #filePath, testLine: UInt = #line) {
        do {
            _ = try TrainingConfig.parse(text, file: "t.yaml")
            XCTFail("accepted a bad config", file: file, line: testLine)
        } catch let e as ConfigError {
            XCTAssertTrue(e.description.hasPrefix("t.yaml:\(line):"), "\(e)", file: file, line: testLine)
            XCTAssertNotNil(e.column, "\(e)", file: file, line: testLine)
            for p in parts { XCTAssertTrue(e.description.contains(p), "'\(e)' lacks '\(p)'", file: file, line: testLine) }
        } catch {
            XCTFail("not a ConfigError: \(error)", file: file, line: testLine)
        }
    }

    func replacing(_ a: String, _ b: String) -> String {
        XCTAssertTrue(base.contains(a), a)
        return base.replacingOccurrences(of: a, with: b)
    }

    func testBaseParses() throws {
        let c = try TrainingConfig.parse(base, file: "t.yaml")
        XCTAssertEqual(try c.model.shapes().last, [10])
        XCTAssertEqual(c.inputLocation.line, 2)
        XCTAssertEqual(c.inputLocation.key, "model.input")
    }

    func testCountsAndSizesAreBounded() {
        let max = LayerSpec.maxSize
        expect(replacing("epochs: 2", "epochs: 1000000000"), line: 9, ["training.epochs", "must be at most 1000000"])
        expect(replacing("batch_size: 16", "batch_size: 1e12"), line: 10, ["training.batch_size", "must be at most"])
        expect(replacing("batch_size: 16", "batch_size: 1.5"), line: 10, ["expected a whole number"])
        expect(replacing("{out: 10}", "{out: 100000000000}"), line: 7, ["must be at most \(max)"])
        expect(replacing("kernel: 3,", "kernel: 99999999999,"), line: 4, ["must be at most \(max)"])
        expect(replacing("kernel: 3,", "kernel: [3, 99999999999],"), line: 4, ["must be at most \(max)"])
        expect(replacing("stride: 1,", "stride: 0,"), line: 4, ["must be > 0, found 0"])
        expect(replacing("padding: 0}", "padding: 4611686018427387904}"), line: 4, ["must be at most \(max)"])
        expect(replacing("input: [1, 8, 8]", "input: [1, 8]"), line: 2, ["model.input", "[channels, height, width] or [features]"])
        expect(replacing("input: [1, 8, 8]", "input: [1, 99999999999, 8]"), line: 2, ["model.input", "at most \(max)"])
        expect(replacing("input: [1, 8, 8]", "input: [1, 8, 8]\n  classes: 1"), line: 3, ["model.classes", "classes must be in 2..."])
        expect(replacing("input: [1, 8, 8]", "input: [1, 8, 8]\n  classes: 100000000"), line: 3, ["classes must be in 2..."])
        expect(base.replacingOccurrences(of: "model:", with: "data:\n  limit_train: 99999999999999\nmodel:"), line: 2, ["data.limit_train", "must be at most"])
        expect(base.replacingOccurrences(of: "model:", with: "data:\n  normalize: {mean: 0.5, std: .inf}\nmodel:"), line: 2, ["expected a number"])
        expect(base.replacingOccurrences(of: "model:", with: "data:\n  normalize: {mean: .nan, std: 1}\nmodel:"), line: 2, ["expected a number"])
    }

    func testRatesAreFiniteAndInRange() {
        expect(replacing("lr: 0.1", "lr: .inf"), line: 11, ["optimizer.lr", "expected a number"])
        expect(replacing("lr: 0.1", "lr: 1e999"), line: 11, ["optimizer.lr", "expected a number"])
        expect(replacing("lr: 0.1", "lr: 0"), line: 11, ["learning rate must be > 0"])
        expect(replacing("momentum: 0.9", "momentum: -0.1"), line: 11, ["optimizer.momentum", "must be >= 0"])
        expect(replacing("momentum: 0.9", "momentum: 0.9, weight_decay: -1"), line: 11, ["optimizer.weight_decay", "must be >= 0"])
        expect(replacing("{type: sgd, lr: 0.1, momentum: 0.9}", "{type: adam, lr: 0.1, betas: [0.9, 1.0]}"), line: 11, ["must be in [0, 1)"])
        expect(replacing("{type: sgd, lr: 0.1, momentum: 0.9}", "{type: adam, lr: 0.1, eps: 0}"), line: 11, ["optimizer.eps", "must be > 0"])
        expect(replacing("{type: sgd, lr: 0.1, momentum: 0.9}", "{type: rmsprop, lr: 0.1, alpha: 1}"), line: 11, ["optimizer.alpha", "must be < 1"])
        expect(base + "  schedule: {type: step, step_size: 0}\n", line: 12, ["step_size", "must be > 0"])
        expect(base + "  schedule: {type: step, step_size: 2, gamma: 0}\n", line: 12, ["gamma must be in (0, 1]"])
        expect(base + "  schedule: {type: cosine, min_lr: -1}\n", line: 12, ["min_lr", "must be >= 0"])
        expect(replacing("- relu", "- batchnorm: {eps: 0}"), line: 5, ["must be > 0"])
        expect(replacing("- relu", "- batchnorm: {momentum: 2}"), line: 5, ["must be in [0, 1]"])
    }

    /// A model whose training would need more than the machine's memory is refused at the layers, with
    /// the estimate; one that only fails with a huge batch is refused at batch_size.
    func testModelTooLargeForThisMachine() {
        // flatten 1x4096x4096 = 2^24 features -> dense 2^24 outputs: 2^48 weights
        let huge = replacing("input: [1, 8, 8]", "input: [1, 4096, 4096]")
            .replacingOccurrences(of: "    - conv2d: {out: 2, kernel: 3, stride: 1, padding: 0}\n    - relu\n", with: "")
            .replacingOccurrences(of: "{out: 10}", with: "{out: 16777216}\n    - relu\n    - dense: {out: 10}")
        expect(huge, line: 4, ["model.layers", "281475161260042 parameters", "one sample at a time", "needs about", "GB, more than this machine's"])
        // 64 MB per sample of activations: fine with a small batch, not with 10^6
        let wide = replacing("input: [1, 8, 8]", "input: [1, 2048, 2048]").replacingOccurrences(of: "flatten\n", with: "avgpool2d: {kernel: 512}\n    - flatten\n")
        XCTAssertNoThrow(try TrainingConfig.parse(wide.replacingOccurrences(of: "batch_size: 16", with: "batch_size: 16\n  eval_batch_size: 16"), file: "t.yaml"))
        expect(wide.replacingOccurrences(of: "batch_size: 16", with: "batch_size: 1000000\n  eval_batch_size: 16"), line: 11,
               ["training.batch_size", "batches of 1000000 (batch_size)"])
        expect(wide.replacingOccurrences(of: "batch_size: 16", with: "batch_size: 16\n  eval_batch_size: 100000"), line: 12,
               ["training.eval_batch_size", "test batches of 100000"])
    }

    /// 32x32 images into a 28x28 model and labels up to 9 with `classes: 5`: refused at the config's
    /// model.input / model.classes, naming the data file, the index and both shapes.
    func testDataMustFitTheModel() throws {
        let c = try TrainingConfig.parse(base, file: "t.yaml")
        let ok = LabeledImages(sampleShape: [1, 8, 8], pixels: [Float](repeating: 0, count: 128), labels: [3, 9], classCount: 10,
                               source: "train-images", labelsSource: "train-labels")
        XCTAssertNoThrow(try c.checkData(ok, ok))
        let big = LabeledImages(sampleShape: [1, 9, 9], pixels: [Float](repeating: 0, count: 81), labels: [0], classCount: 10, source: "t10k-images")
        XCTAssertThrowsError(try c.checkData(ok, big)) { e in
            XCTAssertTrue("\(e)".hasPrefix("t.yaml:2:10: model.input: the model input is [1, 8, 8], but t10k-images holds images of shape [1, 9, 9]"), "\(e)")
        }
        let five = try TrainingConfig.parse(replacing("input: [1, 8, 8]", "input: [1, 8, 8]\n  classes: 5").replacingOccurrences(of: "{out: 10}", with: "{out: 5}"), file: "t.yaml")
        XCTAssertThrowsError(try five.checkData(ok)) { e in
            XCTAssertTrue("\(e)".hasPrefix("t.yaml:3:12: model.classes: the model has 5 classes (labels 0...4), but train-labels has label 9 at index 1; set model.classes to at least 10"), "\(e)")
        }
        // without a classes key the error points at the model section (its mapping)
        let lab = LabeledImages(sampleShape: [1, 8, 8], pixels: [Float](repeating: 0, count: 64), labels: [12], classCount: 13, source: "i", labelsSource: "l")
        XCTAssertThrowsError(try c.checkData(lab)) { XCTAssertTrue("\($0)".hasPrefix("t.yaml:2:3: model: the model has 10 classes"), "\($0)") }
    }
}
