import ANN
@testable import Experiment
import Foundation
import XCTest

/// `maxpool2d: {kernel, stride, padding}` in training configs; padding beyond half the kernel and a
/// padded average pooling are refused with the config's line.
final class PaddedPoolConfigTests: XCTestCase {
    func config(_ pool: String) -> String {
        """
        model:
          input: [1, 8, 8]
          layers:
            - conv2d: {out: 3, kernel: 3, padding: 1}
            - relu
            - \(pool)
            - flatten
            - dense: {out: 10}
        training:
          epochs: 1
          optimizer: {type: adam, lr: 0.001}

        """
    }

    func testParsesPadding() throws {
        let c = try TrainingConfig.parse(config("maxpool2d: {kernel: 3, stride: 2, padding: 1}"), file: "t.yaml")
        XCTAssertEqual(c.model.layers[2], .maxPool2d(kernel: Size2(3), stride: Size2(2), padding: Size2(1)))
        XCTAssertEqual(c.model.layers[4], .dense(inFeatures: 3 * 4 * 4, outFeatures: 10, bias: true))
    }

    func testRefusals() {
        for (pool, part) in [("maxpool2d: {kernel: 3, stride: 2, padding: 2}", "half the kernel"),
                             ("avgpool2d: {kernel: 2, padding: 1}", "padded average pooling")] {
            do {
                _ = try TrainingConfig.parse(config(pool), file: "t.yaml")
                XCTFail("accepted \(pool)")
            } catch let e as ConfigError {
                XCTAssertEqual(e.line, 6, "\(e)")
                XCTAssertTrue(e.description.contains(part) && e.description.contains("t.yaml"), "\(e)")
            } catch { XCTFail("not a ConfigError: \(error)") }
        }
    }
}
