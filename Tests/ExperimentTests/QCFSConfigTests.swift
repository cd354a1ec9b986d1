import ANN
@testable import Experiment
import Foundation
import XCTest

/// `{qcfs: {levels, per_channel, threshold}}` in training configs: the shipped QCFS config parses to
/// the CNN of fmnist-cnn.yaml with QCFS activations, and bad values are refused with file:line and key.
final class QCFSConfigTests: XCTestCase {
    let base = """
        model:
          input: [1, 8, 8]
          layers:
            - conv2d: {out: 3, kernel: 3}
            - qcfs: {levels: 4, per_channel: true, threshold: 2.5}
            - flatten
            - dense: {out: 10}
        training:
          epochs: 1
          optimizer: {type: adam, lr: 0.001}

        """

    func testParsesPerChannelAndDefaults() throws {
        let c = try TrainingConfig.parse(base, file: "t.yaml")
        XCTAssertEqual(c.model.layers[1], .qcfs(levels: 4, thresholds: 3, initialThreshold: 2.5))
        let d = try TrainingConfig.parse(base.replacingOccurrences(of: "{levels: 4, per_channel: true, threshold: 2.5}", with: "{levels: 8}"), file: "t.yaml")
        XCTAssertEqual(d.model.layers[1], .qcfs(levels: 8, thresholds: 1, initialThreshold: QCFS.defaultThreshold))
        let shipped = try TrainingConfig.load(path: "\(TrainingConfigTests.configsDir)/fmnist-cnn-qcfs.yaml")
        let relu = try TrainingConfig.load(path: "\(TrainingConfigTests.configsDir)/fmnist-cnn.yaml")
        XCTAssertEqual(shipped.model.layers.map { $0 == .relu ? .qcfs(levels: 4, thresholds: 1, initialThreshold: 2) : $0 },
                       shipped.model.layers)
        let q: LayerSpec = .qcfs(levels: 4, thresholds: 1, initialThreshold: 2)
        XCTAssertEqual(relu.model.layers.flatMap { l -> [LayerSpec] in
            if l == .relu { return [q] }
            if case .avgPool2d = l { return [l, q] }
            return [l]
        }, shipped.model.layers, "the same CNN with every ReLU replaced by QCFS and a QCFS after each average pooling")
        // the residual CNN: every ReLU replaced by QCFS (body and after the additions), one more after each pooling
        let res = try TrainingConfig.load(path: "\(TrainingConfigTests.configsDir)/fmnist-resnet.yaml")
        let resQ = try TrainingConfig.load(path: "\(TrainingConfigTests.configsDir)/fmnist-resnet-qcfs.yaml")
        func swap(_ ls: [LayerSpec]) -> [LayerSpec] {
            ls.flatMap { l -> [LayerSpec] in
                if l == .relu { return [q] }
                if l == .globalAvgPool { return [l, q] }
                if case .avgPool2d = l { return [l, q] }
                if case let .residual(b, s) = l { return [.residual(body: swap(b), shortcut: swap(s))] }
                return [l]
            }
        }
        XCTAssertEqual(swap(res.model.layers), resQ.model.layers)
        XCTAssertTrue(resQ.model.layers.contains { if case let .residual(b, _) = $0 { return b.contains(q) }; return false })
        XCTAssertEqual(relu.options, shipped.options)
    }

    func testBadValuesNameTheLine() {
        func expect(_ text: String, line: Int, _ parts: [String], testLine: UInt = #line) {
            do {
                _ = try TrainingConfig.parse(text, file: "t.yaml")
                XCTFail("accepted a bad config", line: testLine)
            } catch let e as ConfigError {
                XCTAssertEqual(e.line, line, "\(e)", line: testLine)
                for p in parts { XCTAssertTrue(e.description.contains(p), "'\(e)' lacks '\(p)'", line: testLine) }
            } catch { XCTFail("not a ConfigError: \(error)", line: testLine) }
        }
        let l = "{levels: 4, per_channel: true, threshold: 2.5}"
        expect(base.replacingOccurrences(of: l, with: "{levels: 0}"), line: 5, ["must be in 1...65536"])
        expect(base.replacingOccurrences(of: l, with: "{per_channel: true}"), line: 5, ["qcfs needs 'levels'"])
        expect(base.replacingOccurrences(of: l, with: "{levels: 4, threshold: 0}"), line: 5, ["must be a number > 0"])
        expect(base.replacingOccurrences(of: l, with: "{levels: 4, treshold: 1}"), line: 5, ["unknown key", "treshold"])
        expect(base.replacingOccurrences(of: l, with: "{levels: 4.5}"), line: 5, ["levels"])
        expect(base.replacingOccurrences(of: "- qcfs: \(l)", with: "- qcfs"), line: 5, ["qcfs needs 'levels'"])
    }
}
