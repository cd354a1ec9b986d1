import CCore
import Foundation
import XCTest
@testable import Common

final class CommonTests: XCTestCase {
    /// NPY: what we write decodes to the same values and header; the header length is a multiple of 64
    /// as the format requires.
    func testNPYRoundTrip() throws {
        let v: [Double] = [0, 1.5, -2.25, 1e-9, 3e12]
        let d = NPY.encode(v)
        XCTAssertEqual(d.count % 64, (v.count * 8) % 64)
        let a = try NPY.decode(d)
        XCTAssertEqual(a.shape, [5]); XCTAssertEqual(a.dtype, .float64); XCTAssertEqual(a.doubles, v)
        let f: [Float] = (0..<6).map { Float($0) / 3 }
        let b = try NPY.decode(NPY.encode(f, shape: [2, 3]))
        XCTAssertEqual(b.shape, [2, 3]); XCTAssertEqual(b.doubles, f.map(Double.init))
        let i: [Int32] = [-1, 7, 1 << 30]
        XCTAssertEqual(try NPY.decode(NPY.encode(i)).doubles, i.map(Double.init))
        // a truncated file is rejected with the path
        XCTAssertThrowsError(try NPY.decode(d.prefix(d.count - 3), path: "x.npy")) { XCTAssertTrue("\($0)".contains("x.npy")) }
        XCTAssertThrowsError(try NPY.decode(Data("hello world".utf8), path: "y.npy"))
    }

    /// Atomic writes replace the file entirely and leave no temporary files behind.
    func testAtomicFileReplacesWholeFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("a.txt")
        try AtomicFile.write("first version, long text", to: f)
        try AtomicFile.write("second", to: f)
        XCTAssertEqual(try String(contentsOf: f, encoding: .utf8), "second")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["a.txt"])
        XCTAssertThrowsError(try AtomicFile.write("x", to: URL(fileURLWithPath: "/proc/nm-cannot-write/a.txt")))
    }

    /// An output folder appears only on commit; an abandoned one leaves the old folder untouched; a
    /// later output of the same kind replaces it with --force (policy details: OutputPolicyTests).
    func testAtomicDirectory() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("nm-dir-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let out = base.appendingPathComponent("run")
        let policy = OutputPolicy(kind: .simulate), force = OutputPolicy(kind: .simulate, force: true)
        do {
            let d = try AtomicDirectory(out, policy: policy)
            try d.write("1", "a.txt")
            try d.commit()
        }
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("a.txt"), encoding: .utf8), "1")
        do {
            let d = try AtomicDirectory(out, policy: force)
            try d.write("2", "a.txt")
            try d.write("2", "b.txt")
            // abandoned without commit (e.g. an error): the previous output stays whole
        }
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("a.txt"), encoding: .utf8), "1")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: base.path), ["run"], "no staging folder or lock left")
        do {
            let d = try AtomicDirectory(out, policy: force)
            try d.write("3", "b.txt")
            try d.commit()
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(), [OutputPolicy.markerFile, "b.txt"])
    }

    /// GSL's mt19937 reference value (seed 5489 -> 3499211612) and distinct streams per (seed, stream).
    func testGSLReferenceAndStreams() {
        XCTAssertEqual(nm_gsl_mt19937_first(5489), 3499211612)
        let a = nm_rng_new(1, 0), b = nm_rng_new(1, 1), c = nm_rng_new(1, 0)
        defer { nm_rng_free(a); nm_rng_free(b); nm_rng_free(c) }
        let xa = (0..<5).map { _ in nm_rng_uniform(a) }, xb = (0..<5).map { _ in nm_rng_uniform(b) }, xc = (0..<5).map { _ in nm_rng_uniform(c) }
        XCTAssertEqual(xa, xc)
        XCTAssertNotEqual(xa, xb)
    }

    /// The C target really runs OpenMP threads.
    func testOpenMPIsEnabled() {
        XCTAssertEqual(nm_openmp_enabled(), 1)
        XCTAssertGreaterThanOrEqual(nm_max_threads(), 1)
        nm_set_blocktime(7)
        XCTAssertEqual(nm_get_blocktime(), 7)
    }

    func testClockFormatting() {
        XCTAssertEqual(ProgressReporter.clock(59.6), "01:00")
        XCTAssertEqual(ProgressReporter.clock(3725), "1:02:05")
    }
}
