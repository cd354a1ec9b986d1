import CCore
import Foundation
import XCTest

/// Single files written by C (`simulate --save-network` through nm_engine_save) follow the output
/// policy like AtomicFile: a temporary `.NAME.tmp-PID-RAND` beside the file, renamed when complete,
/// removed on failure and on SIGINT/SIGTERM/SIGHUP, swept by a later run once its writer is gone; messages
/// name the file, not the temporary (it used to be `FILE.tmpPID`, left behind by any signal, and named
/// in the error).
final class SingleFileOutputTests: XCTestCase {
    var dir: String!
    let fm = FileManager.default

    override func setUpWithError() throws {
        dir = fm.temporaryDirectory.appendingPathComponent("nm-file-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let dir { try? fm.removeItem(atPath: dir) } }

    func entries() throws -> [String] { try fm.contentsOfDirectory(atPath: dir).sorted() }
    func message(_ err: [CChar]) -> String { String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }

    func testTemporaryBesideTheFileThenRenamed() throws {
        let path = dir + "/net.nmnet"
        var err = [CChar](repeating: 0, count: 512)
        let w = try XCTUnwrap(nm_file_create(path, &err, err.count), message(err))
        let names = try entries()
        XCTAssertEqual(names.count, 1)
        let re = try NSRegularExpression(pattern: #"^\.net\.nmnet\.tmp-(\d+)-[0-9a-f]{8}$"#)
        let m = try XCTUnwrap(re.firstMatch(in: names[0], range: NSRange(names[0].startIndex..., in: names[0])), names[0])
        XCTAssertEqual(Int32((names[0] as NSString).substring(with: m.range(at: 1))), getpid())
        XCTAssertEqual(nm_out_sweep(dir), 0, "a live writer's temporary is not swept")
        fputs("payload", nm_file_stream(w))
        XCTAssertFalse(fm.fileExists(atPath: path), "nothing at the path before the rename")
        XCTAssertEqual(nm_file_finish(w, 1, &err, err.count), 0, message(err))
        XCTAssertEqual(try entries(), ["net.nmnet"])
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "payload")
    }

    func testFailureRemovesTheTemporaryAndNamesTheFile() throws {
        let path = dir + "/net.nmnet"
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        var err = [CChar](repeating: 0, count: 512)
        let w = try XCTUnwrap(nm_file_create(path, &err, err.count))
        fputs("half", nm_file_stream(w))
        XCTAssertEqual(nm_file_finish(w, 0, &err, err.count), -1)
        XCTAssertEqual(message(err), "cannot write \(path)")
        XCTAssertEqual(try entries(), ["net.nmnet"])
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old", "the old file is untouched")
        // a parent that is a file: refused naming the file asked for, nothing created
        let below = path + "/x.nmnet"
        XCTAssertNil(nm_file_create(below, &err, err.count))
        XCTAssertEqual(message(err), "cannot write \(below): Not a directory")
        XCTAssertEqual(try entries(), ["net.nmnet"])
    }

    /// A temporary of a process that is gone (killed by SIGKILL, no handler ran) is swept; one of a live
    /// process and files of other names are not.
    func testSweepRemovesTemporariesOfDeadWriters() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let dead = p.processIdentifier
        for name in [".net.nmnet.tmp-\(dead)-0badc0de", ".net.nmnet.tmp-\(getppid())-0badc0de", "net.nmnet.tmp-\(dead)-0badc0de", "keep.txt"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        XCTAssertEqual(nm_out_sweep(dir), 1)
        XCTAssertEqual(try entries(), [".net.nmnet.tmp-\(getppid())-0badc0de", "keep.txt", "net.nmnet.tmp-\(dead)-0badc0de"])
    }

    /// SIGTERM while the file is being written removes the temporary before the process dies of the
    /// signal: a small C program (nm_output.c as the engine links it) stops itself in the middle.
    func testSignalRemovesTheTemporary() throws {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let clang = dirs.map({ "\($0)/clang" }).first(where: { fm.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no clang on PATH to build the helper")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let src = dir + "/helper.c", exe = dir + "/helper"
        try """
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include "nm_output.h"
        int main(int argc, char **argv) {
            char err[512];
            nm_file *w = nm_file_create(argv[1], err, sizeof err);
            if (!w) { fprintf(stderr, "%s\\n", err); return 3; }
            fputs("half a network", nm_file_stream(w));
            fflush(nm_file_stream(w));
            raise(atoi(argv[2]));   /* killed mid-write */
            return 4;
        }
        """.write(toFile: src, atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: clang)
        cc.arguments = ["-O0", "-w", "-I", root.appendingPathComponent("Sources/CCore/include").path, src,
                        root.appendingPathComponent("Sources/CCore/nm_output.c").path, "-o", exe]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { return XCTFail("building the helper from nm_output.c failed") }
        let out = dir + "/out"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = [out + "/net.nmnet", "\(sig)"]
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "signal \(sig)")
            XCTAssertEqual(p.terminationStatus, sig)
            XCTAssertEqual(try fm.contentsOfDirectory(atPath: out), [], "signal \(sig) left the temporary")
        }
    }
}
