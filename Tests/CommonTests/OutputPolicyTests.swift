import Foundation
import XCTest
@testable import Common

/// The output policy at library level (Common's OutputClaim/AtomicDirectory/OutputFile over
/// nm_output.c): every refused destination leaves every file in place and names the path; --force
/// replaces only an output of the same kind holding nothing else; locks; sweeping of stale leftovers.
final class OutputPolicyTests: XCTestCase {
    var base: URL!
    let fm = FileManager.default

    override func setUpWithError() throws {
        base = fm.temporaryDirectory.appendingPathComponent("nm-policy-\(UUID().uuidString)")
        try fm.createDirectory(at: base, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let base { try? fm.removeItem(at: base) } }

    func path(_ rel: String) -> String { base.appendingPathComponent(rel).path }

    @discardableResult
    func put(_ rel: String, _ text: String = "sentinel") throws -> String {
        let u = base.appendingPathComponent(rel)
        try fm.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: u)
        return u.path
    }

    /// Every entry below `root` (hidden ones included) with its bytes ("<dir>" for folders).
    func snapshot(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let e = fm.enumerator(atPath: root) else { return out }
        for case let rel as String in e {
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: root + "/" + rel, isDirectory: &isDir)
            out[rel] = isDir.boolValue ? Data("<dir>".utf8) : (fm.contents(atPath: root + "/" + rel) ?? Data())
        }
        return out
    }

    /// Writes a complete output of `kind` into `rel` (files a.txt, b.txt) through the policy.
    func writeOutput(_ rel: String, kind: OutputKind = .simulate, force: Bool = false, text: String = "out") throws {
        let d = try AtomicDirectory(path(rel), policy: OutputPolicy(kind: kind, force: force))
        try d.write(text, "a.txt")
        try d.write(text, "b.txt")
        try d.commit()
    }

    func assertRefused(_ dest: String, _ policy: OutputPolicy, mentions needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        let before = snapshot(base.path)
        XCTAssertThrowsError(try AtomicDirectory(dest, policy: policy), file: file, line: line) { e in
            XCTAssertTrue(e is OutputError, "\(e)", file: file, line: line)
            for n in needles { XCTAssertTrue("\(e)".contains(n), "'\(n)' not in: \(e)", file: file, line: line) }
            XCTAssertFalse("\(e)".contains("\n"), "one line: \(e)", file: file, line: line)
        }
        XCTAssertEqual(snapshot(base.path), before, "a refused destination changed files (\(dest))", file: file, line: line)
    }

    /// Each kind of refused destination: nothing changes and the message names the path.
    func testRefusedDestinationsLeaveEverythingInPlace() throws {
        let cfg = try put("proj/config.yaml")
        try put("proj/data/train.idx")
        try put("user/a.txt")
        try put("user/b/c.txt")
        try put("afile")
        try writeOutput("conv", kind: .convert)
        try writeOutput("sim")
        let sim = OutputPolicy(kind: .simulate, inputs: [cfg, path("proj/data")])
        let cwd = fm.currentDirectoryPath
        assertRefused("", sim, mentions: ["--out", "empty"])
        assertRefused("/", sim, mentions: ["'/'", "root"])
        assertRefused(cwd, sim, mentions: [cwd, "current folder"])
        assertRefused((cwd as NSString).deletingLastPathComponent, sim, mentions: ["contains the current folder"])
        assertRefused(cwd + "/sub/..", sim, mentions: [cwd + "/sub/..", "current folder"])
        assertRefused(cfg, sim, mentions: [cfg, "is an input"])
        assertRefused(path("proj/data"), sim, mentions: [path("proj/data"), "is an input"])
        assertRefused(path("proj"), sim, mentions: [path("proj"), "contains", "config.yaml"])
        assertRefused(path("proj/x/../data"), sim, mentions: ["is an input"])
        assertRefused(path("user"), sim, mentions: [path("user"), "not written by neuromorph simulate", "2 entries", "a.txt, b/"])
        assertRefused(path("afile"), sim, mentions: [path("afile"), "is a file"])
        assertRefused(path("conv"), sim, mentions: [path("conv"), "output of neuromorph convert, not neuromorph simulate"])
        assertRefused(path("conv"), OutputPolicy(kind: .simulate, force: true), mentions: ["neuromorph convert"])
        assertRefused(path("sim"), OutputPolicy(kind: .simulate), mentions: [path("sim"), "--force"])
        // a symlink is followed before comparing: a link to the data folder is the data folder
        try fm.createSymbolicLink(atPath: path("link"), withDestinationPath: path("proj/data"))
        assertRefused(path("link"), sim, mentions: ["is an input"])
        assertRefused(path("link/.."), sim, mentions: ["contains", "config.yaml"])   // physical .., i.e. proj
        if let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty, !cwd.hasPrefix(home + "/"), cwd != home {
            assertRefused(home, sim, mentions: ["home folder"])
        }
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: base.path).filter { $0.hasPrefix(".") }, [], "no lock or staging left")
    }

    /// --force replaces an output of the same kind, and only one holding nothing but its files.
    func testForceReplacesOnlyWhatNeuromorphWrote() throws {
        try writeOutput("run", text: "first")
        let marker = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run/\(OutputPolicy.markerFile)")))) as! [String: Any]
        XCTAssertEqual(marker["kind"] as? String, "simulate")
        XCTAssertEqual(marker["version"] as? String, OutputPolicy.version)
        XCTAssertEqual(marker["files"] as? [String], ["a.txt", "b.txt"])
        XCTAssertEqual(OutputPolicy.markerKind(of: path("run")), "simulate")
        try writeOutput("run", force: true, text: "second")
        XCTAssertEqual(try String(contentsOfFile: path("run/a.txt"), encoding: .utf8), "second")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: base.path), ["run"], "old output, staging and lock are gone")
        try put("run/notes.txt", "mine")
        assertRefused(path("run"), OutputPolicy(kind: .simulate, force: true), mentions: [path("run"), "notes.txt", "did not write"])
        // an empty folder is filled; resume keeps an output of the same kind in place
        try fm.createDirectory(atPath: path("empty"), withIntermediateDirectories: false)
        try writeOutput("empty")
        XCTAssertEqual(try String(contentsOfFile: path("empty/b.txt"), encoding: .utf8), "out")
        let claim = try OutputClaim(path("run"), policy: OutputPolicy(kind: .simulate, resume: true))
        XCTAssertEqual(claim.state, .sameKind)
        XCTAssertEqual(claim.destination.path, path("run"))
    }

    /// A second claim on a locked destination fails naming the holder; after release it succeeds, and
    /// a lock file left by a killed writer (nobody holds it) does not block.
    func testLockStopsASecondWriter() throws {
        do {
            let first = try AtomicDirectory(path("x"), policy: OutputPolicy(kind: .compare))
            XCTAssertTrue(fm.fileExists(atPath: path(".x.lock")))
            XCTAssertThrowsError(try AtomicDirectory(path("x"), policy: OutputPolicy(kind: .compare))) { e in
                XCTAssertTrue("\(e)".contains("\(path("x")) is being written by another neuromorph process (pid \(getpid()), neuromorph compare)"), "\(e)")
            }
            try first.write("1", "r.md")
            try first.commit()
            XCTAssertThrowsError(try OutputClaim(path("x"), policy: OutputPolicy(kind: .compare, force: true)), "still locked after commit")
        }
        XCTAssertNoThrow(try OutputClaim(path("x"), policy: OutputPolicy(kind: .compare, force: true)), "released with its writer")
        try put(".y.lock", "pid 1, neuromorph simulate")   // stale: nobody holds it
        try writeOutput("y")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: base.path).sorted(), ["x", "y"])
    }

    /// Leftovers of writers that are gone are swept by the next claim in the same folder; anything that
    /// is not provably a stale neuromorph leftover stays.
    func testStaleLeftoversAreSwept() throws {
        let dead = try deadPid()
        let busy = try AtomicDirectory(path("d"), policy: OutputPolicy(kind: .train))   // a live writer (claims sweep too)
        let busyStaging = busy.staging.lastPathComponent
        // a staging folder of a killed writer (marker inside, its lock free)
        try put(".a.partial-\(dead)-1f2e3d4c/\(OutputPolicy.markerFile)", #"{"kind": "simulate", "files": []}"#)
        try put(".a.partial-\(dead)-1f2e3d4c/spikes.npy")
        // a replaced output whose replacement never landed: put back
        try put(".b.old-\(dead)-00000001/\(OutputPolicy.markerFile)", #"{"kind": "simulate", "files": ["a.txt"]}"#)
        try put(".b.old-\(dead)-00000001/a.txt", "previous")
        // a staging folder of a writer killed while it wrote the marker (only the marker's temporary file)
        try put(".e.partial-\(dead)-0badcafe/\(OutputPolicy.markerFile).tmp", #"{"kind": "sim"#)
        // a temporary file of a dead process, one of this process
        try put(".f.npy.tmp-\(dead)-12345")
        try put(".g.npy.tmp-\(getpid())-12345")
        // look-alikes that must stay: a user folder without marker, a staging folder whose writer is alive
        try put(".c.partial-\(dead)-abcdef01/mine.txt")
        try writeOutput("z")   // the claim that sweeps
        let left = Set(try fm.contentsOfDirectory(atPath: base.path))
        XCTAssertEqual(left, ["z", "b", ".g.npy.tmp-\(getpid())-12345", ".c.partial-\(dead)-abcdef01", busyStaging, ".d.lock"])
        XCTAssertEqual(try String(contentsOfFile: path("b/a.txt"), encoding: .utf8), "previous")
        XCTAssertEqual(OutputPolicy.markerKind(of: path("b")), "simulate")
        withExtendedLifetime(busy) {}
    }

    /// Single-file outputs: never an input or a folder; an existing file only with --force and only if
    /// it has the format the option writes.
    func testOutputFilePolicy() throws {
        let cfg = try put("cfg.yaml", "run: {}")
        let npy = path("p.npy")
        try Data([0x93] + Array("NUMPY....".utf8)).write(to: URL(fileURLWithPath: npy))
        try fm.createDirectory(atPath: path("dir"), withIntermediateDirectories: false)
        let before = snapshot(base.path)
        func refuse(_ p: String, _ format: OutputFile.Format, force: Bool, _ needle: String) {
            XCTAssertThrowsError(try OutputFile(p, option: "--x", format: format, force: force, inputs: [cfg])) { e in
                XCTAssertTrue("\(e)".contains(needle) && ("\(e)".contains(p) || p.isEmpty), "\(e)")
            }
        }
        refuse(cfg, .json, force: true, "is an input")
        refuse(path("dir"), .npy, force: true, "is a folder")
        refuse(cfg, .npy, force: true, "is an input")
        refuse(path("./cfg.yaml"), .savedNetwork, force: true, "is an input")
        refuse(npy, .npy, force: false, "--force")
        refuse(npy, .savedNetwork, force: true, "is not a neuromorph saved network")
        refuse("", .npy, force: true, "empty")
        XCTAssertEqual(snapshot(base.path), before)
        try OutputFile(npy, option: "--x", format: .npy, force: true, inputs: [cfg]).write(Data([0x93] + Array("NUMPY new".utf8)))
        XCTAssertEqual(fm.contents(atPath: npy), Data([0x93] + Array("NUMPY new".utf8)))
        try OutputFile(path("new/q.npy"), option: "--x", format: .npy, force: false, inputs: [cfg]).write(Data("x".utf8))
        XCTAssertTrue(fm.fileExists(atPath: path("new/q.npy")))
    }

    /// Paths resolve physically: symlinks first, then `..`; missing tails lexically.
    func testPathResolution() throws {
        try fm.createDirectory(atPath: path("real/deep"), withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: path("ln"), withDestinationPath: path("real/deep"))
        let real = try XCTUnwrap(OutputPolicy.resolve(path("real")))
        XCTAssertEqual(OutputPolicy.resolve(path("ln/..")), real)
        XCTAssertEqual(OutputPolicy.resolve(path("ln/new/../x")), real + "/deep/x")
        XCTAssertEqual(OutputPolicy.resolve(path("a/./b/../c")), try XCTUnwrap(OutputPolicy.resolve(base.path)) + "/a/c")
        XCTAssertNil(OutputPolicy.resolve(""))
    }

    /// A pid that belonged to a process that has exited.
    func deadPid() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }
}
