import Foundation
import XCTest
@testable import Common

final class MemorySizeTests: XCTestCase {
    func testParseSizes() {
        XCTAssertEqual(MemorySize.parse("1000"), 1000)
        XCTAssertEqual(MemorySize.parse("16G"), 16 << 30)
        XCTAssertEqual(MemorySize.parse("16 GB"), 16 << 30)
        XCTAssertEqual(MemorySize.parse("1.5GiB"), 3 << 29)
        XCTAssertEqual(MemorySize.parse("512m"), 512 << 20)
        XCTAssertEqual(MemorySize.parse("2k"), 2048)
        for bad in ["", "G", "-1G", "0", "1Q", "inf", "nan", "1e30T", "12 GBs"] {
            XCTAssertNil(MemorySize.parse(bad), bad)
        }
    }

    func testFormat() {
        XCTAssertEqual(MemorySize.format(Int64(100)), "100 B")
        XCTAssertEqual(MemorySize.format(Int64(1536)), "1.50 KiB")
        XCTAssertEqual(MemorySize.format(Double(38) * 1024 * 1024 * 1024), "38.0 GiB")
        XCTAssertEqual(MemorySize.format(Double(728) * 1024 * 1024 * 1024 * 1024), "728 TiB")
    }

    /// Available memory is positive and at most what /proc/meminfo reports as MemTotal.
    func testAvailableMemoryIsPlausible() throws {
        let avail = MemorySize.available()
        XCTAssertGreaterThan(avail, 0)
        guard let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return }
        let total = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }.flatMap { Int64($0.split(separator: " ")[1]) }
        XCTAssertLessThanOrEqual(avail, try XCTUnwrap(total) * 1024)
    }
}
