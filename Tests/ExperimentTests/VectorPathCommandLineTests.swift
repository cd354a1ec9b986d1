import Foundation
import SNN
import XCTest

/// `NM_ISA` as users meet it: `neuromorph simulate` and `neuromorph-run` record the vector path and
/// CPU in summary.json, give the same spikes on every path, and stop with a clear error (and no output)
/// for a value that is no path.
final class VectorPathCommandLineTests: XCTestCase {
    static var binDir: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent() }
    var tmp: URL!

    override func setUpWithError() throws {
        for tool in ["neuromorph", "neuromorph-run"] {
            try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.binDir.appendingPathComponent(tool).path), "\(tool) not built")
        }
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-isa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let tmp { try? FileManager.default.removeItem(at: tmp) } }

    func run(_ tool: String, _ args: [String], isa: String?) throws -> ToolResult {
        try runProcess(Self.binDir.appendingPathComponent(tool), args, environment: ["NM_ISA": isa])
    }

    func summary(_ dir: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: tmp.appendingPathComponent(dir + "/summary.json"))) as? [String: Any])
    }

    func testPathIsRecordedAndSpikesAgreeOnEveryPath() throws {
        let cfg = tmp.appendingPathComponent("net.yaml")
        try (minimalConfig + "\nmonitors:\n  spikes: all\n").write(to: cfg, atomically: true, encoding: .utf8)
        let net = tmp.appendingPathComponent("net.nmnet").path
        XCTAssertEqual(try run("neuromorph", ["simulate", cfg.path, "--save-network", net], isa: nil).status, 0)
        var spikes: Data?
        for isa in [nil] + VectorPath.available + ["scalar"] {
            let name = isa ?? "default", want = isa.map { $0 == "scalar" ? "baseline" : $0 } ?? VectorPath.available[0]
            let s = try run("neuromorph", ["simulate", cfg.path, "--duration", "0.4", "--threads", "1", "--out", tmp.appendingPathComponent("sim-\(name)").path], isa: isa)
            XCTAssertEqual(s.status, 0, s.err)
            let r = try run("neuromorph-run", [net, "--duration", "0.4", "--threads", "2", "--out", tmp.appendingPathComponent("run-\(name)").path], isa: isa)
            XCTAssertEqual(r.status, 0, r.err)
            for dir in ["sim-\(name)", "run-\(name)"] {
                let j = try summary(dir)
                XCTAssertEqual(j["isa"] as? String, want, dir)
                XCTAssertEqual(j["cpu"] as? String, VectorPath.cpuModel, dir)
                let d = try Data(contentsOf: tmp.appendingPathComponent(dir + "/spikes_exc_i.npy"))
                if let spikes { XCTAssertEqual(d, spikes, "\(dir): same spikes on every path") } else { spikes = d }
            }
        }
        XCTAssertGreaterThan(spikes?.count ?? 0, 128 + 4 * 20, "the network spikes (more than 20 spikes after the .npy header)")
    }

    func testBadValueStopsBothProgramsWithAClearError() throws {
        let cfg = tmp.appendingPathComponent("net.yaml")
        try minimalConfig.write(to: cfg, atomically: true, encoding: .utf8)
        let net = tmp.appendingPathComponent("net.nmnet").path
        XCTAssertEqual(try run("neuromorph", ["simulate", cfg.path, "--save-network", net], isa: nil).status, 0)
        let want = "NM_ISA=avx9 is not a vector path: expected avx512, avx2, baseline (or scalar, the same) or auto"
        let s = try run("neuromorph", ["simulate", cfg.path, "--out", tmp.appendingPathComponent("s").path], isa: "avx9")
        XCTAssertEqual(s.status, 2, "a usage error")
        XCTAssertTrue(s.err.contains(want), s.err)
        let r = try run("neuromorph-run", [net, "--duration", "0.05", "--out", tmp.appendingPathComponent("r").path], isa: "avx9")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.contains("neuromorph-run: " + want), r.err)
        for d in ["s", "r"] { XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent(d).path), d) }
        // a path this CPU lacks (only where there is one)
        if let missing = VectorPath.all.first(where: { !VectorPath.available.contains($0) }) {
            let m = try run("neuromorph-run", [net, "--duration", "0.05"], isa: missing)
            XCTAssertEqual(m.status, 2)
            XCTAssertTrue(m.err.contains("cannot run the \(missing) path"), m.err)
        } else {
            print("NM_ISA with a path this CPU lacks: not testable here (the CPU has \(VectorPath.available.joined(separator: ", ")))")
        }
        // --version names the path and the CPU
        let v = try run("neuromorph", ["--version"], isa: "baseline")
        XCTAssertTrue(v.out.contains("vector path baseline"), v.out)
    }
}
