import Foundation
import XCTest

/// What users see for refused configs on the command line: one `Error:` line naming the file, exit 1.
final class ConfigLimitsCLITests: XCTestCase {
    var tmp: URL!
    var binary: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("neuromorph") }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "neuromorph binary not built (run swift build --build-tests)")
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-limits-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let tmp { try? FileManager.default.removeItem(at: tmp) } }

    func simulate(_ text: String, _ args: [String] = []) throws -> (status: Int32, err: String, path: String) {
        let path = tmp.appendingPathComponent("c.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runProcess(binary, ["simulate", path] + args)
        return (r.status, r.err, path)
    }

    func testMaxMemoryFlag() throws {
        let r = try simulate(ConfigLimitsTests.base, ["--max-memory", "1K"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.hasPrefix("Error: \(r.path): the simulation needs ~"), r.err)
        XCTAssertTrue(r.err.contains("but --max-memory allows 1.00 KiB"), r.err)
        let bad = try simulate(ConfigLimitsTests.base, ["--max-memory", "lots"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--max-memory must be a size"), bad.err)
        XCTAssertEqual(try simulate(ConfigLimitsTests.base, ["--max-memory", "1G"]).status, 0)
    }

    /// Under an address-space limit (`ulimit -v`, as the fuzz harness runs every command) the estimate
    /// counts the room left under it: a state monitor of 99,999,999 neurons is refused with the estimate
    /// (exit 1, one Error: line) instead of failing an allocation.
    func testAddressSpaceLimitIsPartOfTheMemoryAvailable() throws {
        let path = tmp.appendingPathComponent("mon.yaml").path
        try """
        run: {duration: 1 ms, dt: 0.1 ms}
        populations:
          a: {size: 99999999, model: if}
        monitors:
          spikes: none
          state: [{population: a, variables: [v], neurons: all}]

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -v 1000000 && exec \"$0\" simulate \"$1\" --json", binary.path, path]
        let e = Pipe()
        p.standardError = e
        p.standardOutput = Pipe()
        try p.run()
        let err = String(decoding: e.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1, err)
        XCTAssertTrue(err.hasPrefix("Error: \(path): the simulation needs ~"), err)
        XCTAssertTrue(err.contains("state monitors") && err.contains("are available"), err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
    }

    func testBombAndDuplicateKeyGiveOneLine() throws {
        let (defs, last) = ConfigLimitsTests.bomb()
        let r = try simulate(defs + "\npopulations: *\(last)\n")
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.hasPrefix("Error: \(r.path):7:"), r.err)
        let d = try simulate(ConfigLimitsTests.base + "run: {duration: 1 s}\n")
        XCTAssertEqual(d.status, 1, d.err)
        XCTAssertEqual(d.err.trimmingCharacters(in: .newlines), "Error: \(d.path):7:1: duplicate key 'run' (first at line 1)")
    }
}
