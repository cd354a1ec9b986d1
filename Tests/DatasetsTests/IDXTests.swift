import CCore
@testable import Datasets
import Foundation
import Testing
import XCTest

/// IDX reading on files the tests write (raw and gzip), corrupt and missing files, folder discovery.
final class IDXTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nm-idx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// IDX bytes written by hand from the format description (big-endian header).
    func imagesBytes(n: Int, h: Int, w: Int) -> Data {
        var d = Data([0, 0, 8, 3])
        for v in [n, h, w] { d.append(contentsOf: [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]) }
        d.append(contentsOf: (0..<(n * h * w)).map { UInt8($0 % 256) })
        return d
    }

    func labelsBytes(_ labels: [UInt8]) -> Data {
        let n = labels.count
        var d = Data([0, 0, 8, 1, UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)])
        d.append(contentsOf: labels)
        return d
    }

    func write(_ d: Data, _ name: String, gzip: Bool) throws -> String {
        let p = "\(dir!)/\(name)"
        if gzip { try IDXFile.writeGzip(d, to: p) } else { try d.write(to: URL(fileURLWithPath: p)) }
        return p
    }

    func testReadsRawAndGzip() throws {
        let bytes = imagesBytes(n: 3, h: 4, w: 5)
        for gz in [false, true] {
            let p = try write(bytes, "img\(gz ? ".gz" : "")", gzip: gz)
            if gz { XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: p)).prefix(2), Data([0x1f, 0x8b]), "really gzip") }
            let f = try IDXFile.read(path: p, expect: (.uint8, 3))
            XCTAssertEqual(f.type, .uint8)
            XCTAssertEqual(f.shape, [3, 4, 5])
            XCTAssertEqual(Array(f.payload), (0..<60).map { UInt8($0) })
        }
    }

    func testWrongMagicTruncationAndMissingFile() throws {
        let labels = try write(labelsBytes([1, 2, 3]), "labels", gzip: false)
        XCTAssertThrowsError(try IDXFile.read(path: labels, expect: (.uint8, 3))) { e in
            XCTAssertTrue("\(e)".contains("expected IDX magic 0x00000803"), "\(e)")
            XCTAssertTrue("\(e)".contains("0x00000801"), "\(e)")
            XCTAssertTrue("\(e)".contains(labels), "\(e)")
        }
        let good = imagesBytes(n: 2, h: 3, w: 3)
        let trunc = try write(good.prefix(good.count - 4), "trunc", gzip: false)
        XCTAssertThrowsError(try IDXFile.read(path: trunc)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        let notIDX = try write(Data("hello world".utf8), "text", gzip: false)
        XCTAssertThrowsError(try IDXFile.read(path: notIDX)) { XCTAssertTrue("\($0)".contains("not an IDX file"), "\($0)") }
        // A gzip stream cut short is reported, not read as a short file.
        let gzPath = try write(imagesBytes(n: 50, h: 28, w: 28), "big.gz", gzip: true)
        let gz = try Data(contentsOf: URL(fileURLWithPath: gzPath))
        try gz.prefix(gz.count / 2).write(to: URL(fileURLWithPath: gzPath))
        XCTAssertThrowsError(try IDXFile.read(path: gzPath)) { XCTAssertTrue("\($0)".contains("gzip"), "\($0)") }
        XCTAssertThrowsError(try IDXFile.read(path: "\(dir!)/nope.gz")) { e in
            XCTAssertEqual(e as? DatasetError, .missing(path: "\(dir!)/nope.gz", hint: "Give a folder of IDX files (e.g. train-images-idx3-ubyte.gz), or for Fashion-MNIST install dataset-fashion-mnist: bash scripts/setup.sh"))
        }
    }

    func testFolderLoadNormalizesAndLimits() throws {
        _ = try write(imagesBytes(n: 4, h: 2, w: 2), "train-images-idx3-ubyte.gz", gzip: true)
        _ = try write(labelsBytes([3, 1, 4, 1]), "train-labels-idx1-ubyte.gz", gzip: true)
        _ = try write(imagesBytes(n: 2, h: 2, w: 2), "t10k-images-idx3-ubyte", gzip: false)
        _ = try write(labelsBytes([5, 9]), "t10k-labels-idx1-ubyte", gzip: false)
        let ds = IDXDataset(folder: dir)
        let train = try ds.load(.train, normalization: Normalization(mean: 0.5, std: 0.25), limit: 3)
        XCTAssertEqual(train.count, 3)
        XCTAssertEqual(train.sampleShape, [1, 2, 2])
        XCTAssertEqual(train.labels, [3, 1, 4])
        // pixel k has byte value k: x = (k/255 - 0.5)/0.25
        for k in 0..<12 { XCTAssertEqual(Double(train.pixels[k]), (Double(k) / 255 - 0.5) / 0.25, accuracy: 1e-5) }
        let test = try ds.load(.test, normalization: .unit)
        XCTAssertEqual(test.labels, [5, 9])
        XCTAssertEqual(test.pixels[7], 7 / 255, accuracy: 1e-7)
        XCTAssertEqual(train.prefix(2).labels, [3, 1])
        // Mismatched counts are reported with both files.
        _ = try write(labelsBytes([1, 2, 3]), "t10k-labels-idx1-ubyte", gzip: false)
        XCTAssertThrowsError(try ds.load(.test, normalization: .unit)) { XCTAssertTrue("\($0)".contains("2 images but"), "\($0)") }
    }

    func testMissingFolderAndFilesSayHowToFix() {
        XCTAssertThrowsError(try IDXDataset(folder: "\(dir!)/none").load(.train, normalization: .unit)) {
            XCTAssertTrue("\($0)".contains("Expected a folder of IDX files"), "\($0)")
        }
        XCTAssertThrowsError(try IDXDataset(folder: dir).load(.train, normalization: .unit)) {
            XCTAssertTrue("\($0)".contains("train-images-idx3-ubyte"), "\($0)")
        }
    }

    func testEMNISTStyleNamesAndAmbiguity() throws {
        for fam in ["emnist-digits-", "emnist-letters-"] {
            _ = try write(imagesBytes(n: 1, h: 2, w: 2), "\(fam)test-images-idx3-ubyte.gz", gzip: true)
            _ = try write(labelsBytes([1]), "\(fam)test-labels-idx1-ubyte.gz", gzip: true)
        }
        XCTAssertThrowsError(try IDXDataset(folder: dir).path(.test, labels: false)) { XCTAssertTrue("\($0)".contains("several"), "\($0)") }
        XCTAssertEqual(try IDXDataset(folder: dir, prefix: "emnist-digits-").path(.test, labels: true), "\(dir!)/emnist-digits-test-labels-idx1-ubyte.gz")
    }
}

/// Shuffling: a permutation, fixed by (seed, epoch), different across epochs.
@Test func batchScheduleIsSeededPermutation() {
    let a = BatchSchedule(count: 1000, batchSize: 64, shuffle: true, seed: 3, epoch: 0)
    let b = BatchSchedule(count: 1000, batchSize: 64, shuffle: true, seed: 3, epoch: 0)
    let c = BatchSchedule(count: 1000, batchSize: 64, shuffle: true, seed: 3, epoch: 1)
    #expect(a.order == b.order)
    #expect(a.order != c.order)
    #expect(Set(a.order).count == 1000 && a.order.min() == 0 && a.order.max() == 999)
    #expect(a.batchCount == 16)
    #expect(a.batch(15).count == 1000 - 15 * 64)
    #expect(BatchSchedule(count: 10, batchSize: 4, shuffle: false, seed: 0, epoch: 0).order == (0..<10).map { Int64($0) })
    #expect(BatchSchedule(count: 10, batchSize: 4, shuffle: false, seed: 0, epoch: 0, dropLast: true).batchCount == 2)
}
