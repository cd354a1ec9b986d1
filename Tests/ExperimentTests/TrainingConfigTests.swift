import ANN
@testable import Experiment
import Foundation
import Testing
import XCTest

/// The training-config schema: the shipped configs parse to the intended networks, and bad configs
/// are rejected with file:line and the key.
final class TrainingConfigTests: XCTestCase {
    static let configsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("configs").path

    func testShippedConfigs() throws {
        let mlp = try TrainingConfig.load(path: "\(Self.configsDir)/fmnist-mlp.yaml")
        XCTAssertEqual(mlp.model.layers, [.flatten, .dense(inFeatures: 784, outFeatures: 512, bias: true), .relu,
                                          .dense(inFeatures: 512, outFeatures: 256, bias: true), .relu,
                                          .dense(inFeatures: 256, outFeatures: 10, bias: true)])
        XCTAssertEqual(mlp.options.batchSize, 64)
        XCTAssertEqual(mlp.options.optimizer, .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0))
        XCTAssertEqual(mlp.data.normalization.mean, 0.2860)
        let cnn = try TrainingConfig.load(path: "\(Self.configsDir)/fmnist-cnn.yaml")
        XCTAssertEqual(try cnn.model.shapes(), [[16, 24, 24], [16, 24, 24], [16, 12, 12], [32, 8, 8], [32, 8, 8], [32, 4, 4], [512], [128], [128], [10]])
        XCTAssertEqual(cnn.model.layers[0], .conv2d(inChannels: 1, outChannels: 16, kernel: Size2(5), stride: Size2(1), padding: Size2(0), bias: true))
        let bn = try TrainingConfig.load(path: "\(Self.configsDir)/fmnist-cnn-bn.yaml")
        XCTAssertEqual(bn.model.layers[1], .batchNorm(features: 16, spatial: true, eps: 1e-5, momentum: 0.1))
        XCTAssertEqual(bn.model.layers[10], .batchNorm(features: 128, spatial: false, eps: 1e-5, momentum: 0.1))
        XCTAssertEqual(bn.options.schedule, .cosine(epochs: 10, minimum: 1e-5))
    }

    let base = """
        model:
          input: [1, 28, 28]
          layers:
            - flatten
            - dense: {out: 10}
        training:
          epochs: 2
          optimizer: {type: sgd, lr: 0.1, momentum: 0.9}

        """

    func error(_ text: String) -> ConfigError? {
        do {
            _ = try TrainingConfig.parse(text, file: "t.yaml")
            return nil
        } catch let e as ConfigError {
            return e
        } catch {
            XCTFail("not a ConfigError: \(error)")
            return nil
        }
    }

    func expect(_ text: String, line: Int, _ parts: [String], file: StaticString = #filePath, testLine: UInt = #line) {
        guard let e = error(text) else { return XCTFail("accepted a bad config", file: file, line: testLine) }
        XCTAssertEqual(e.file, "t.yaml", file: file, line: testLine)
        XCTAssertEqual(e.line.map { $0 }, line, "\(e)", file: file, line: testLine)
        for p in parts { XCTAssertTrue(e.description.contains(p), "'\(e)' lacks '\(p)'", file: file, line: testLine) }
        XCTAssertTrue(e.description.hasPrefix("t.yaml:\(line):"), "\(e)", file: file, line: testLine)
    }

    func testBaseParses() throws {
        let c = try TrainingConfig.parse(base, file: "t.yaml")
        XCTAssertEqual(c.options.optimizer, .sgd(learningRate: 0.1, momentum: 0.9, weightDecay: 0, nesterov: false))
        XCTAssertEqual(c.options.epochs, 2)
    }

    func testUnknownKeys() {
        expect(base + "  epochz: 3\n", line: 9, ["training.epochz", "unknown key", "did you mean 'epochs'"])
        expect(base.replacingOccurrences(of: "{out: 10}", with: "{out: 10, outs: 3}"), line: 5, ["unknown key 'outs'"])
        expect(base + "extra: 1\n", line: 9, ["unknown key 'extra'"])
        expect(base.replacingOccurrences(of: "- flatten", with: "- flaten"), line: 4, ["unknown value 'flaten'", "did you mean 'flatten'"])
        expect(base.replacingOccurrences(of: "- dense: {out: 10}", with: "- dens: {out: 10}"), line: 5, ["unknown layer type 'dens'"])
    }

    func testWrongTypes() {
        expect(base.replacingOccurrences(of: "epochs: 2", with: "epochs: two"), line: 7, ["training.epochs", "expected a whole number"])
        expect(base.replacingOccurrences(of: "lr: 0.1", with: "lr: fast"), line: 8, ["optimizer.lr", "expected a number"])
        expect(base.replacingOccurrences(of: "input: [1, 28, 28]", with: "input: 784"), line: 2, ["model.input", "expected a list"])
    }

    func testImpossibleValues() {
        expect(base.replacingOccurrences(of: "lr: 0.1", with: "lr: -0.1"), line: 8, ["learning rate must be > 0"])
        expect(base.replacingOccurrences(of: "epochs: 2", with: "epochs: 0"), line: 7, ["must be > 0"])
        expect(base.replacingOccurrences(of: "momentum: 0.9", with: "momentum: 1.5"), line: 8, ["must be < 1"])
        expect(base.replacingOccurrences(of: "- flatten\n", with: "- flatten\n    - dropout: {p: 1.0}\n"), line: 5, ["must be in [0, 1)"])
        expect(base.replacingOccurrences(of: "{out: 10}", with: "{out: 7}"), line: 5, ["outputs [7]", "expected [10]"])
        expect(base.replacingOccurrences(of: "optimizer: {type: sgd,", with: "optimizer: {type: adagrad,"), line: 8, ["unknown value 'adagrad'"])
        // Shape errors name the layer's line.
        let conv = base.replacingOccurrences(of: "- flatten\n", with: "- conv2d: {out: 4, kernel: 30}\n    - flatten\n")
        expect(conv, line: 4, ["layer 0 (conv2d)", "larger than its padded input"])
        let noFlatten = base.replacingOccurrences(of: "- flatten\n", with: "")
        expect(noFlatten, line: 4, ["add a flatten layer"])
        expect(base.replacingOccurrences(of: "training:", with: "data:\n  limit_train: -5\ntraining:"), line: 7, ["data.limit_train", "must be > 0"])
    }

    func testMissingSections() {
        expect("model:\n  input: [4]\n  layers: [{dense: {out: 10}}]\n", line: 1, ["missing required key 'training'"])
        expect(base.replacingOccurrences(of: "  optimizer: {type: sgd, lr: 0.1, momentum: 0.9}\n", with: ""), line: 7, ["missing required key 'optimizer'"])
    }
}

@Test func trainingConfigAcceptsAllLayerKinds() throws {
    let text = """
        data: {normalize: unit, limit_train: 100}
        model:
          input: [3, 16, 16]
          classes: 5
          init: glorot_uniform
          layers:
            - conv2d: {out: 8, kernel: [3, 3], stride: 1, padding: 1}
            - batchnorm
            - relu
            - maxpool2d: {kernel: 2}
            - avgpool2d: {kernel: 2, stride: 2}
            - flatten
            - dropout: {p: 0.25}
            - dense: {out: 5, bias: false}
        training:
          optimizer: {type: rmsprop, lr: 0.01, alpha: 0.9}
          schedule: {type: step, step_size: 2, gamma: 0.5}
          loss: mse
        """
    let c = try TrainingConfig.parse(text, file: "x.yaml")
    #expect(c.model.layers.count == 8)
    #expect(c.model.layers.last == .dense(inFeatures: 128, outFeatures: 5, bias: false))
    #expect(c.options.initializer == .glorotUniform)
    #expect(c.options.loss == .mse)
    #expect(c.options.schedule == .step(stepSize: 2, gamma: 0.5))
    #expect(c.data.limitTrain == 100)
}
