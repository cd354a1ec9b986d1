import CCore
@testable import Datasets
import Foundation
import XCTest

/// IDX files corrupted one way at a time (raw and gzip): a refusal names the file and what was
/// expected; sizes from the header are overflow-checked and compared with the file before anything is
/// allocated; labels outside the model's classes name the file and the index.
final class IDXValidationTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nm-idxval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// An IDX file of unsigned bytes written by hand: magic, the given (claimed) dimensions, payload.
    func idx(_ dims: [UInt32], payload: Int, fill: UInt8 = 7) -> Data {
        var d = Data([0, 0, 8, UInt8(dims.count)])
        for v in dims { d.append(contentsOf: be32(v)) }
        d.append(contentsOf: [UInt8](repeating: fill, count: payload))
        return d
    }

    func write(_ d: Data, _ name: String, gzip: Bool) throws -> String {
        let p = "\(dir!)/\(name)"
        if gzip { try IDXFile.writeGzip(d, to: p) } else { try d.write(to: URL(fileURLWithPath: p)) }
        return p
    }

    func expectCorrupt(_ path: String, _ parts: [String], expect: (IDXFile.ElementType, Int)? = (.uint8, 3),
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try IDXFile.read(path: path, expect: expect), file: file, line: line) { e in
            let text = "\(e)"
            XCTAssertTrue(text.hasPrefix(path + ": "), "names the file: \(text)", file: file, line: line)
            for p in parts { XCTAssertTrue(text.contains(p), "'\(text)' lacks '\(p)'", file: file, line: line) }
        }
    }

    func testValidFileRoundTrips() throws {
        for gz in [false, true] {
            let p = try write(idx([3, 2, 5], payload: 30), "ok\(gz)", gzip: gz)
            let f = try IDXFile.read(path: p, expect: (.uint8, 3))
            XCTAssertEqual(f.shape, [3, 2, 5])
            XCTAssertEqual(f.payload, Data(repeating: 7, count: 30))
        }
    }

    /// Dimensions 0xFFFFFFFF overflow the element count: refused, not trapped, raw or gzip.
    func testHugeDimensionsAreRefused() throws {
        for gz in [false, true] {
            expectCorrupt(try write(idx([0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: 100), "ffff\(gz)", gzip: gz),
                          ["shape [4294967295, 4294967295, 4294967295]", "more elements than any file can hold"])
            // no overflow, but far more than the file holds: refused before the payload is read
            expectCorrupt(try write(idx([60000, 0xFFFF, 0xFFFF], payload: 100), "big\(gz)", gzip: gz),
                          ["shape [60000, 65535, 65535]", "needs 257690173500000 data bytes, more than a"])
        }
        // the same through the float path (8-byte elements): 2^61 elements of 8 bytes overflow
        var d = Data([0, 0, 0x0E, 1])
        d.append(contentsOf: be32(0xFFFF_FFFF))
        expectCorrupt(try write(d, "f64", gzip: false), ["64-bit floats"], expect: nil)
    }

    func testClaimedSizeMustMatchTheFile() throws {
        for gz in [false, true] {
            expectCorrupt(try write(idx([2, 3, 3], payload: 17), "short\(gz)", gzip: gz), ["needs 18 data bytes, found 17", "truncated"])
            expectCorrupt(try write(idx([2, 3, 3], payload: 19), "long\(gz)", gzip: gz), ["needs 18 data bytes, but the file holds more"])
            expectCorrupt(try write(Data([0, 0, 8, 3, 0, 0]), "head\(gz)", gzip: gz), ["header is truncated: 3 dimensions need 16 bytes"])
            expectCorrupt(try write(Data([0, 0, 0x42, 3]), "type\(gz)", gzip: gz), ["not an IDX file"])
        }
        XCTAssertThrowsError(try IDXFile.read(path: dir)) { XCTAssertTrue("\($0)".contains("is a folder"), "\($0)") }
    }

    /// The bounded reader: reads at most the limit and says whether more follows (raw and gzip).
    func testBoundedReaderStopsAtTheLimit() throws {
        let bytes = Data((0..<5000).map { UInt8($0 % 251) })
        for gz in [false, true] {
            let p = try write(bytes, "r\(gz)", gzip: gz)
            for (limit, more) in [(0, true), (10, true), (4999, true), (5000, false), (6000, false)] {
                let (d, m) = try IDXFile.readPrefix(p, maxLength: limit)
                XCTAssertEqual(d, bytes.prefix(limit), "gz \(gz) limit \(limit)")
                XCTAssertEqual(m, more, "gz \(gz) limit \(limit)")
            }
        }
    }

    func testEmptySetsAndZeroDimensionsAreRefused() throws {
        let labels = idx([0], payload: 0)
        let noImages = try IDXFile.parse(idx([0, 28, 28], payload: 0), path: "img0")
        XCTAssertThrowsError(try LabeledImages(images: noImages, labels: try IDXFile.parse(labels, path: "lab0"), normalization: .unit,
                                               imagesPath: "img0", labelsPath: "lab0")) {
            XCTAssertEqual("\($0)", "img0: holds no images (shape [0, 28, 28])")
        }
        let flat = try IDXFile.parse(idx([2, 0, 28], payload: 0), path: "imgz")
        XCTAssertThrowsError(try LabeledImages(images: flat, labels: try IDXFile.parse(idx([2], payload: 2), path: "lab"), normalization: .unit,
                                               imagesPath: "imgz", labelsPath: "lab")) {
            XCTAssertTrue("\($0)".hasPrefix("imgz: image dimensions must be > 0"), "\($0)")
        }
        let one = try IDXFile.parse(idx([1, 2, 2], payload: 4), path: "i")
        XCTAssertThrowsError(try LabeledImages(images: one, labels: try IDXFile.parse(idx([1], payload: 1), path: "l"),
                                               normalization: Normalization(mean: 0, std: .infinity))) {
            XCTAssertTrue("\($0)".contains("std must be a finite number > 0, found inf"), "\($0)")
        }
    }

    /// A label byte >= the model's class count is refused with the labels file and the index.
    func testLabelsBeyondTheClassCountNameFileAndIndex() throws {
        _ = try write(idx([4, 2, 2], payload: 16), "train-images-idx3-ubyte.gz", gzip: true)
        var lab = idx([4], payload: 0)
        lab.append(contentsOf: [1, 0, 12, 9])
        let labPath = try write(lab, "train-labels-idx1-ubyte.gz", gzip: true)
        let set = try IDXDataset(folder: dir).load(.train, normalization: .unit)
        XCTAssertEqual(set.labels, [1, 0, 12, 9])
        XCTAssertEqual(set.labelsSource, labPath)
        XCTAssertNoThrow(try set.checkLabels(classes: 13, model: "m"))
        XCTAssertThrowsError(try set.checkLabels(classes: 10, model: "model.json")) {
            XCTAssertEqual("\($0)", "\(labPath): label 12 at index 2 is not a class of model.json, which has 10 classes (labels 0...9)")
        }
        XCTAssertTrue(set.firstLabel(notBelow: 5)! == (2, 12))
        XCTAssertTrue(set.firstLabel(notBelow: 2)! == (2, 12))
        XCTAssertTrue(set.prefix(2).firstLabel(notBelow: 1)! == (0, 1), "prefix keeps the labels file")
        XCTAssertEqual(set.prefix(2).labelsSource, labPath)
    }

    /// A normalization whose normalized pixels leave float32 (std 1e-300: fuzz seeds 41/47/61, which then
    /// failed inside the conversion without naming the model) is refused by `problem`, so model.json and
    /// data loading refuse it; small but representable ones stay accepted.
    func testNormalizationMustKeepPixelsFinite() {
        XCTAssertNil(Normalization.fashionMNIST.problem)
        XCTAssertNil(Normalization(mean: 0.25, std: 1e-30).problem, "1e30 is a float32")
        let p = Normalization(mean: 0.25, std: 1e-300).problem ?? ""
        XCTAssertTrue(p.contains("std 1e-300 normalize a pixel to 7.5e+299, beyond float32"), p)
        XCTAssertNotNil(Normalization(scale: 1e300, mean: 0, std: 1).problem)
        XCTAssertNotNil(Normalization(mean: -1e39, std: 1).problem)
    }
}
