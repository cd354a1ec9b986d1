import ANN
@testable import Experiment
import Foundation
import XCTest

/// Train-config syntax for residual networks: `residual: {body: [...], shortcut: [...]}` (identity
/// shortcut when omitted), `globalavgpool`, `clip: {min, max}`; errors name file:line and the key.
final class ResidualConfigTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testShippedResNetConfigParses() throws {
        let cfg = try TrainingConfig.load(path: Self.repo.appendingPathComponent("configs/fmnist-resnet.yaml").path)
        let layers = cfg.model.layers
        XCTAssertEqual(layers.map(\.typeName), ["conv2d", "batchnorm2d", "relu", "avgpool2d", "residual", "relu", "residual", "relu", "globalavgpool", "flatten", "dense"])
        guard case let .residual(body, shortcut) = layers[6] else { return XCTFail() }
        XCTAssertEqual(body.count, 5)
        XCTAssertEqual(shortcut, [.conv2d(inChannels: 16, outChannels: 32, kernel: Size2(1), stride: Size2(2), padding: Size2(0), bias: false),
                                  .batchNorm(features: 32, spatial: true, eps: 1e-5, momentum: 0.1)])
        guard case let .residual(_, identity) = layers[4] else { return XCTFail() }
        XCTAssertEqual(identity, [])
        XCTAssertEqual(try cfg.model.validate().last, [10])
    }

    func config(_ block: String) -> String {
        """
        model:
          input: [1, 8, 8]
          classes: 2
          layers:
            - conv2d: {out: 4, kernel: 3, padding: 1}
            - clip: {min: 0, max: 6}
        \(block)
            - relu
            - globalavgpool
            - flatten
            - dense: {out: 2}
        training:
          epochs: 1
          batch_size: 4
          optimizer: {type: sgd, lr: 0.1}

        """
    }

    func expect(_ text: String, line: Int, _ parts: [String], file: StaticString = #filePath, testLine: UInt = #line) {
        do {
            _ = try TrainingConfig.parse(text, file: "t.yaml")
            XCTFail("accepted a bad config", file: file, line: testLine)
        } catch let e as ConfigError {
            XCTAssertTrue(e.description.hasPrefix("t.yaml:\(line):"), "\(e)", file: file, line: testLine)
            for p in parts { XCTAssertTrue(e.description.contains(p), "'\(e)' lacks '\(p)'", file: file, line: testLine) }
        } catch {
            XCTFail("not a ConfigError: \(error)", file: file, line: testLine)
        }
    }

    func testResidualSyntaxAndErrors() throws {
        let ok = try TrainingConfig.parse(config("""
                - residual:
                    body:
                      - conv2d: {out: 4, kernel: 3, padding: 1}
                      - batchnorm
            """), file: "t.yaml")
        XCTAssertEqual(ok.model.layers[1], .clip(min: 0, max: 6))
        XCTAssertEqual(ok.model.layers[2], .residual(body: [.conv2d(inChannels: 4, outChannels: 4, kernel: Size2(3), stride: Size2(1), padding: Size2(1), bias: true),
                                                        .batchNorm(features: 4, spatial: true, eps: 1e-5, momentum: 0.1)], shortcut: []))
        // the body changes the shape, the identity shortcut does not
        expect(config("""
                - residual:
                    body:
                      - conv2d: {out: 8, kernel: 3, padding: 1}
            """), line: 8, ["model.layers[2].residual", "the body outputs [8, 8, 8] but the shortcut outputs [4, 8, 8]"])
        expect(config("""
                - residual: {shortcut: []}
            """), line: 7, ["residual needs 'body'"])
        expect(config("""
                - residual:
                    body: []
            """), line: 8, ["needs at least one layer"])
        expect(config("""
                - residual:
                    body:
                      - conv2d: {out: 4, kernel: 3, padding: 1}
                      - dense: {out: 3}
            """), line: 10, ["model.layers[2].residual.body[1]", "dense needs a flat input"])
        expect(config("""
                - clip: {min: 3, max: 1}
            """), line: 7, ["min < max"])
    }
}
