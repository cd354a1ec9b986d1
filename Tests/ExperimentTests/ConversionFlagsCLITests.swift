import Foundation
import XCTest

/// The flags of the global-pooling fold and the potential correction: a bad value stops `convert` and
/// `compare` with exit 2 and one error line naming the flag and the accepted values, before any file is
/// read or written.
final class ConversionFlagsCLITests: XCTestCase {
    func testBadGlobalPoolAndCorrectionFlagsAreRefused() throws {
        let nm = CommandLineTests.binary
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: nm.path), "neuromorph binary not built (run swift build --build-tests)")
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-convflags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        for (args, needle) in [
            (["convert", "m", "--out", "c", "--global-pool", "average"], "--global-pool must be fold or neurons, got 'average'"),
            (["compare", "m", "--out", "c", "--global-pool", ""], "--global-pool must be fold or neurons, got ''"),
            (["convert", "m", "--out", "c", "--correction-steps", "-1"], "--correction-steps must be in 0...100000 (0 = off), got -1"),
            (["compare", "m", "--out", "c", "--correction-steps", "100001"], "--correction-steps must be in 0...100000 (0 = off), got 100001"),
            (["convert", "m", "--out", "c", "--correction-images", "0"], "--correction-images must be in 1...100000000, got 0"),
        ] {
            let r = try runProcess(nm, args, cwd: tmp)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            let lines = r.err.split(separator: "\n").filter { $0.contains("Error:") }
            XCTAssertEqual(lines.count, 1, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains("Error: " + needle), "\(args): \(r.err)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "nothing written")
    }
}
