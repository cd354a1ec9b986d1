import Foundation
import XCTest

/// The output policy as users meet it, through the built binaries: refused destinations leave every
/// file in place and name the path; --force replaces an output of the same kind; signals leave no
/// staging folder; a second writer fails naming the first; flags are checked with their ranges.
final class OutputPolicyCLITests: XCTestCase {
    typealias Result = ToolResult

    static var nm: URL { CommandLineTests.binary }
    static var runner: URL { nm.deletingLastPathComponent().appendingPathComponent("neuromorph-run") }
    /// The repository (for configs/).
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    var tmp: URL!
    let fm = FileManager.default

    override func setUpWithError() throws {
        try XCTSkipUnless(fm.isExecutableFile(atPath: Self.nm.path), "neuromorph binary not built (run swift build --build-tests)")
        tmp = fm.temporaryDirectory.appendingPathComponent("nm-outcli-\(UUID().uuidString)")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let tmp { try? fm.removeItem(at: tmp) } }

    func path(_ rel: String) -> String { tmp.appendingPathComponent(rel).path }

    @discardableResult
    func put(_ rel: String, _ text: String = "sentinel") throws -> String {
        let u = tmp.appendingPathComponent(rel)
        try fm.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: u)
        return u.path
    }

    func copyConfig(_ name: String, to rel: String) throws -> String {
        try put(rel, String(contentsOf: Self.repo.appendingPathComponent("configs/\(name)"), encoding: .utf8))
    }

    func run(_ args: [String], tool: URL = OutputPolicyCLITests.nm, cwd: String? = nil) throws -> Result {
        try runProcess(tool, args, cwd: URL(fileURLWithPath: cwd ?? tmp.path))
    }

    /// Starts a command in the background (output discarded).
    func start(_ args: [String], tool: URL = OutputPolicyCLITests.nm) throws -> Process {
        let p = Process()
        p.executableURL = tool
        p.arguments = args
        p.currentDirectoryURL = tmp
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Waits until `folder` holds an entry starting with `prefix` (a staging folder appears when the
    /// writer has claimed its destination).
    func waitFor(_ prefix: String, in folder: String, while p: Process, timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).contains(where: { $0.hasPrefix(prefix) }) { return }
            guard p.isRunning else { throw XCTSkip("the writer ended before its staging folder was seen") }
            usleep(20_000)
        }
        p.terminate()
        XCTFail("no \(prefix)* in \(folder) after \(timeout) s")
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

    func assertOneErrorLine(_ r: Result, code: Int32, _ needles: [String], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, code, "\(what): \(r.err)", file: file, line: line)
        let errors = r.err.split(separator: "\n").filter { $0.contains("Error:") || $0.hasPrefix("neuromorph-run:") }
        XCTAssertEqual(errors.count, 1, "\(what): one error line: \(r.err)", file: file, line: line)
        for n in needles { XCTAssertTrue(r.err.contains(n), "\(what): '\(n)' not in: \(r.err)", file: file, line: line) }
        XCTAssertFalse(r.err.contains("Fatal error") || r.err.contains("NSCocoaErrorDomain"), "\(what): \(r.err)", file: file, line: line)
    }

    /// `simulate --out` refuses `.`, `""`, `..`, an input, a folder holding one, a folder it did not
    /// write, another command's output, a file and (without --force) its own earlier output: exit 1
    /// (2 for the empty flag), the path in the message, and not one byte changed anywhere.
    func testSimulateRefusalsLeaveEverythingInPlace() throws {
        let cfg = try put("proj/cfg.yaml", minimalConfig)
        try put("proj/work/keep.txt")
        try put("user/a.txt")
        try put("user/b/c.txt")
        try put("afile")
        let net = path("proj/net.nmnet")
        XCTAssertEqual(try run(["simulate", cfg, "--save-network", net]).status, 0)
        XCTAssertEqual(try run([net, "--duration", "0.01", "--out", "runout"], tool: Self.runner).status, 0)
        XCTAssertEqual(try run(["simulate", cfg, "--out", "sim", "--seed", "1"]).status, 0)
        let before = snapshot(tmp.path)
        let work = path("proj/work")
        for (args, cwd, code, needles) in [
            (["--out", "."], work, Int32(1), ["--out '.' is the current folder"]),
            (["--out", ""], work, 2, ["--out is empty"]),
            (["--out", ".."], work, 1, ["--out '..'", "contains the current folder"]),
            (["--out", "../.."], work, 1, ["contains the current folder"]),
            (["--out", "proj/cfg.yaml"], tmp.path, 1, ["'proj/cfg.yaml' is an input"]),
            (["--out", "proj"], tmp.path, 1, ["'proj'", "contains", "cfg.yaml, an input"]),
            (["--out", "proj/work/../../proj"], tmp.path, 1, ["contains", "cfg.yaml, an input"]),
            (["--out", "user"], tmp.path, 1, ["user exists and was not written by neuromorph simulate (it holds 2 entries, e.g. a.txt, b/)"]),
            (["--out", "runout"], tmp.path, 1, ["runout holds the output of neuromorph-run, not neuromorph simulate"]),
            (["--out", "runout", "--force"], tmp.path, 1, ["neuromorph-run, not neuromorph simulate"]),
            (["--out", "afile", "--force"], tmp.path, 1, ["afile exists and is a file"]),
            (["--out", "sim"], tmp.path, 1, ["sim holds an earlier neuromorph simulate output; pass --force"]),
        ] {
            let r = try run(["simulate", cfg] + args, cwd: cwd)
            assertOneErrorLine(r, code: code, needles, "\(args) in \(cwd)")
        }
        XCTAssertEqual(snapshot(tmp.path), before, "a refused --out changed files")
        // --force replaces an earlier simulate output: the new seed is in its summary
        let f = try run(["simulate", cfg, "--out", "sim", "--seed", "2", "--force"])
        XCTAssertEqual(f.status, 0, f.err)
        let s = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("sim/summary.json")))) as! [String: Any]
        XCTAssertEqual(s["seed"] as? Int, 2)
        let marker = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("sim/.neuromorph-output")))) as! [String: Any]
        XCTAssertEqual(marker["kind"] as? String, "simulate")
        XCTAssertEqual(Set(marker["files"] as! [String]), Set(try fm.contentsOfDirectory(atPath: path("sim"))).subtracting([".neuromorph-output"]))
        XCTAssertTrue((marker["command"] as? String ?? "").contains("--seed 2 --force"))
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".") }, [], "no staging folder or lock left")
    }

    /// SIGINT or SIGTERM during a run: the process dies of the signal and leaves neither the
    /// destination nor its staging folder or lock. After SIGKILL (no handler can run) the next run into
    /// the same folder sweeps what was left.
    func testKilledSimulateLeavesNoOutput() throws {
        let cuba = try copyConfig("cuba.yaml", to: "cuba.yaml")
        let runs = path("runs")
        for sig in [SIGINT, SIGTERM] {
            let p = try start(["simulate", cuba, "--duration", "1000", "--out", "runs/k\(sig)"])
            try waitFor(".k\(sig).partial-", in: runs, while: p)
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "signal \(sig)")
            XCTAssertEqual(p.terminationStatus, sig)
            XCTAssertEqual(try fm.contentsOfDirectory(atPath: runs), [], "signal \(sig) left files")
        }
        let p = try start(["simulate", cuba, "--duration", "1000", "--out", "runs/k9"])
        try waitFor(".k9.partial-", in: runs, while: p)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(Set(try fm.contentsOfDirectory(atPath: runs).map { $0.prefix(11) }), [".k9.partial", ".k9.lock"])
        let cfg = try put("small.yaml", minimalConfig)
        XCTAssertEqual(try run(["simulate", cfg, "--out", "runs/next"]).status, 0)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: runs), ["next"], "the stale staging folder and lock were swept")
    }

    /// Two writers into one folder: the second fails at once naming the first (its pid); the first
    /// finishes and its output is complete.
    func testSecondWriterFailsAndFirstCompletes() throws {
        let cuba = try copyConfig("cuba.yaml", to: "cuba.yaml")
        let cfg = try put("small.yaml", minimalConfig)
        let a = try start(["simulate", cuba, "--duration", "20", "--seed", "5", "--out", "runs/c"])
        try waitFor(".c.partial-", in: path("runs"), while: a)
        let b = try run(["simulate", cfg, "--out", "runs/c", "--force"])
        assertOneErrorLine(b, code: 1, ["runs/c is being written by another neuromorph process (pid \(a.processIdentifier), neuromorph simulate)"], "second writer")
        a.waitUntilExit()
        XCTAssertEqual(a.terminationStatus, 0)
        let s = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("runs/c/summary.json")))) as! [String: Any]
        XCTAssertEqual(s["simulated_seconds"] as? Double, 20)
        XCTAssertEqual(s["seed"] as? Int, 5)
        let files = Set(s["files"] as! [String])
        XCTAssertEqual(files, Set(try fm.contentsOfDirectory(atPath: path("runs/c"))).subtracting([".neuromorph-output"]))
        XCTAssertTrue(files.isSuperset(of: ["spikes_exc_t.npy", "spikes_inh_i.npy", "rates_exc.npy", "raster.svg"]), "\(files)")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: path("runs")), ["c"])
    }

    /// train: killed in its first epoch it leaves no folder; an existing file as --out is one sentence
    /// naming it (was a Foundation dump).
    func testTrainKilledInFirstEpochLeavesNothing() throws {
        let mlp = try copyConfig("fmnist-mlp.yaml", to: "mlp.yaml")
        let file = try put("afile")
        let r = try run(["train", mlp, "--out", "afile", "--epochs", "1"])
        assertOneErrorLine(r, code: 1, ["afile exists and is a file, not a folder written by neuromorph train"], "train --out FILE")
        XCTAssertEqual(fm.contents(atPath: file), Data("sentinel".utf8))
        try XCTSkipUnless(fm.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"), "Fashion-MNIST is not installed")
        let p = try start(["train", mlp, "--out", "runs/t", "--epochs", "1", "--limit-test", "100", "--threads", "1"])
        try waitFor(".t.partial-", in: path("runs"), while: p)
        usleep(200_000)   // inside the epoch (60,000 images take seconds)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: path("runs")), [], "a train killed in epoch 1 left files")
    }

    /// `simulate --save-network` writes through the output policy's single-file temporary
    /// (`.NAME.tmp-PID-RAND`, nm_file_create): one a killed writer left is swept by the next save into
    /// that folder, and a failed write names the file, not the temporary (it named `FILE.tmpPID`).
    func testSaveNetworkTemporaryIsSweptAndNeverNamed() throws {
        let cfg = try put("small.yaml", minimalConfig)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let stale = ".net.nmnet.tmp-\(p.processIdentifier)-0badc0de"
        try put("nets/" + stale, "half a network")
        let r = try run(["simulate", cfg, "--save-network", "nets/net.nmnet"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: path("nets")), ["net.nmnet"], "the stale temporary was swept")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("nets/net.nmnet"))).prefix(5), Data("NMNET".utf8))

        try put("plain.txt")
        let bad = try run(["simulate", cfg, "--save-network", "plain.txt/net.nmnet"])
        assertOneErrorLine(bad, code: 1, ["cannot write \(path("plain.txt/net.nmnet")): Not a directory"], "parent is a file")
        XCTAssertFalse(bad.err.contains(".tmp"), bad.err)
    }

    /// libomp registers every process in /dev/shm/__KMP_REGISTERED_LIB_<pid>_<uid>. A process killed while
    /// registering leaves an empty or zeroed file, and the next process with that pid died at its first
    /// OpenMP call (SIGBUS on an empty file; "OMP: Error #15 ... unknown library already initialized" on a
    /// zeroed one: fuzz seed 73 model-0161, after the harness's kill cases). Both executables remove a
    /// leftover for their own pid before OpenMP starts (`exec` below keeps the shell's pid), and a
    /// SIGTERM'd run removes its own registration, as libomp's exit handler would.
    func testOpenMPRegistrationLeftoversNeitherKillNorAccumulate() throws {
        try XCTSkipUnless(fm.fileExists(atPath: "/dev/shm"), "no /dev/shm")
        let cfg = try put("small.yaml", minimalConfig)
        let net = path("small.nmnet")
        XCTAssertEqual(try run(["simulate", cfg, "--save-network", net]).status, 0)
        for (tool, args) in [(Self.nm, ["simulate", cfg, "--json"]), (Self.runner, [net, "--duration", "0.01"])] {
            for leftover in [": >", "head -c 1024 /dev/zero >"] {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = ["-c", "\(leftover) /dev/shm/__KMP_REGISTERED_LIB_$$_$(id -u) && exec \"$0\" \"$@\"", tool.path] + args
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                p.waitUntilExit()
                XCTAssertEqual(p.terminationReason, .exit, "\(tool.lastPathComponent) after '\(leftover)': killed by signal \(p.terminationStatus)")
                XCTAssertEqual(p.terminationStatus, 0, "\(tool.lastPathComponent) after '\(leftover)'")
                XCTAssertFalse(fm.fileExists(atPath: "/dev/shm/__KMP_REGISTERED_LIB_\(p.processIdentifier)_\(getuid())"))
            }
        }
        let cuba = try copyConfig("cuba.yaml", to: "cuba.yaml")
        let p = try start(["simulate", cuba, "--duration", "1000", "--out", "runs/k"])
        try waitFor(".k.partial-", in: path("runs"), while: p)
        let registration = "/dev/shm/__KMP_REGISTERED_LIB_\(p.processIdentifier)_\(getuid())"
        XCTAssertTrue(fm.fileExists(atPath: registration), "OpenMP registered the running simulation")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertFalse(fm.fileExists(atPath: registration), "the registration went with the process")
    }

    /// neuromorph-run's --out follows the same policy, marker (kind "run") and atomic writes.
    func testRunnerOutputPolicy() throws {
        try XCTSkipUnless(fm.isExecutableFile(atPath: Self.runner.path), "neuromorph-run not built")
        let cfg = try put("nets/small.yaml", minimalConfig)
        let net = path("nets/small.nmnet")
        XCTAssertEqual(try run(["simulate", cfg, "--save-network", net]).status, 0)
        try put("user/a.txt")
        XCTAssertEqual(try run(["simulate", cfg, "--out", "sim"]).status, 0)
        let before = snapshot(tmp.path)
        for (out, needles) in [(".", ["--out '.' is the current folder"]), ("nets/small.nmnet", ["is an input"]),
                               ("nets", ["--out 'nets' contains", "nets/small.nmnet, an input"]), ("user", ["user exists and was not written by neuromorph-run"]),
                               ("sim", ["sim holds the output of neuromorph simulate, not neuromorph-run"]), ("", ["is empty"])] {
            let r = try run([net, "--duration", "0.01", "--out", out, "--force"], tool: Self.runner)
            assertOneErrorLine(r, code: 1, needles, "neuromorph-run --out '\(out)'")
        }
        XCTAssertEqual(snapshot(tmp.path), before)
        XCTAssertEqual(try run([net, "--duration", "0.02", "--out", "r"], tool: Self.runner).status, 0)
        let marker = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("r/.neuromorph-output")))) as! [String: Any]
        XCTAssertEqual(marker["kind"] as? String, "run")
        XCTAssertEqual(Set(marker["files"] as! [String]), ["summary.json", "spikes_exc_t.npy", "spikes_exc_i.npy", "spikes_ext_t.npy", "spikes_ext_i.npy"])
        assertOneErrorLine(try run([net, "--duration", "0.01", "--out", "r"], tool: Self.runner), code: 1, ["r holds an earlier neuromorph-run output; pass --force"], "no --force")
        XCTAssertEqual(try run([net, "--duration", "0.01", "--out", "r", "--force"], tool: Self.runner).status, 0)
        let s = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("r/summary.json")))) as! [String: Any]
        XCTAssertEqual(s["simulated_seconds"] as? Double, 0.01)
        // killed while it runs: nothing left
        let cuba = try copyConfig("cuba.yaml", to: "nets/cuba.yaml")
        XCTAssertEqual(try run(["simulate", cuba, "--save-network", path("nets/cuba.nmnet")]).status, 0)
        let p = try start([path("nets/cuba.nmnet"), "--duration", "1000", "--out", "runs/long"], tool: Self.runner)
        try waitFor(".long.partial-", in: path("runs"), while: p)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: path("runs")), [])
    }

    /// Numeric flags: negative values reach the checks (no "Missing value"), every range is stated,
    /// --threads is bounded on every command; usage errors exit 2 with one `Error:` line.
    func testNumericFlagsAreCheckedWithTheirRanges() throws {
        let cfg = try put("small.yaml", minimalConfig)
        let weights = try put("m/model.safetensors", "not npy")
        let seedMsg = "--seed must be a whole number from 0 to 9223372036854775807, got -1"
        let threadsMsg = "--threads must be a whole number between 1 and 1024"
        for (args, needle) in [
            (["simulate", cfg, "--seed", "-1"], seedMsg),
            (["train", cfg, "--out", "t", "--seed", "-1"], seedMsg),
            (["compare", "m", "--out", "c", "--seed", "-1"], seedMsg),
            (["simulate", cfg, "--threads", "0"], "--threads must be 'auto' or a whole number between 1 and 1024, got '0'"),
            (["simulate", cfg, "--threads", "-2"], "--threads must be 'auto' or a whole number between 1 and 1024, got '-2'"),
            (["train", cfg, "--out", "t", "--threads", "100000"], threadsMsg + ", got 100000"),
            (["eval", "m", "--threads", "100000"], threadsMsg + ", got 100000"),
            (["eval", "m", "--threads", "-1"], threadsMsg + ", got -1"),
            (["convert", "m", "--out", "c", "--threads", "100000"], threadsMsg),
            (["compare", "m", "--out", "c", "--threads", "0"], threadsMsg),
            (["compare", "m", "--out", "c", "--mac-pj", "inf"], "--mac-pj must be a finite energy in (0, 1000000] pJ, got inf"),
            (["compare", "m", "--out", "c", "--add-pj", "-1"], "--add-pj must be a finite energy in (0, 1000000] pJ, got -1"),
            (["compare", "m", "--out", "c", "--limit", "-5"], "--limit must be a whole number between 1 and"),
            (["compare", "m", "--out", "c", "--timesteps", "-8"], "--timesteps must be a comma-separated list of positive whole numbers"),
            (["simulate", cfg, "--duration", "1e300"], "--duration must be positive and at most 1e9 s"),
            (["simulate", cfg, "--duration", "-1"], "--duration must be positive"),
            (["simulate", cfg, "--timesteps", "0"], "--timesteps must be a whole number between 1 and 10000000"),
            (["simulate", cfg, "--image", "-1"], "--image must be a whole number between 0 and"),
            (["eval", "m", "--batch-size", "1000000"], "--batch-size must be a whole number between 1 and 65536, got 1000000"),
            (["eval", "m", "--limit", "0"], "--limit must be"),
            (["train", cfg, "--out", "t", "--epochs", "0"], "--epochs must be a whole number between 1 and 100000"),
            (["train", cfg, "--out", "t", "--batch-size", "-3"], "--batch-size must be"),
            (["train", cfg, "--out", "t", "--resume", "--force"], "--resume and --force exclude each other"),
            (["convert", "m", "--out", "c", "--calibration", "-1"], "--calibration must be in 1...100000000, got -1"),
            (["convert", "m", "--out", "c", "--percentile", "-5"], "--percentile must be in (0, 100]"),
        ] {
            assertOneErrorLine(try run(args), code: 2, ["Error: " + needle], args.joined(separator: " "))
        }
        // output files are checked before any work: eval never overwrites a model's weights
        assertOneErrorLine(try run(["eval", "m", "--predictions", weights, "--force"]), code: 1,
                           ["\(weights) exists and is not a NumPy .npy file"], "eval --predictions WEIGHTS")
        XCTAssertEqual(fm.contents(atPath: weights), Data("not npy".utf8))
        for cmd in ["simulate", "train", "compare"] {
            let h = try run([cmd, "--help"])
            let text = h.out.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")   // help wraps lines
            XCTAssertTrue(text.contains("0 to 9223372036854775807"), "\(cmd) --help states the seed range: \(h.out)")
        }
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: tmp.path).sorted(), ["m", "small.yaml"], "nothing written")
    }
}
