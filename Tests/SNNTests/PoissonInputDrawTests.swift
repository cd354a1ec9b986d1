import CEngine
import Foundation
import XCTest
@testable import SNN

/// The count draw of `poisson_input` in 16-bit lanes (snn_poisson_input.c): one xoshiro128+ output per
/// neuron pair, a 16-bit half per neuron, counted by a relabeled bucket table with a tie path. Exactness
/// is proven by enumeration against the 32-bit inversion (every probability a multiple of 2^-32); the
/// draws themselves are checked against the laws, for the tie path's rate, the pair's independence, and
/// identity across vector paths and range splits.
final class PoissonInputDrawTests: XCTestCase {
    static func desc(_ sources: Int32, _ p: Double, binomial: Bool = false) -> nm_poisson_input_desc {
        nm_poisson_input_desc(pop: 0, port: 0, sources: sources, binomial: binomial ? 1 : 0, p: p, weight: 1, mask: nil)
    }

    /// The kernel's table and count rule for one law: (T, the enumerated histogram, kmin, ties, wide).
    func tableLaw(_ d: nm_poisson_input_desc, file: StaticString = #filePath, line: UInt = #line)
        -> (T: [UInt32], hist: [UInt64], kmin: Int, ties: Int, wide: Bool)? {
        var d = d
        var T = [UInt32](repeating: 0, count: 4096), hist = [UInt64](repeating: 0, count: 4096)
        var info = [Int32](repeating: 0, count: 4)
        let rc = nm_pinput_table_law(&d, &T, &hist, 4096, &info)
        XCTAssertEqual(rc, 0, "nm_pinput_table_law", file: file, line: line)
        guard rc == 0 else { return nil }
        let len = Int(info[1])
        return (Array(T[0..<len]), Array(hist[0...len]), Int(info[0]), Int(info[2]), info[3] != 0)
    }

    /// Exactness as a test: over every 16-bit r (each weighing 2^16) and, for r naming a tie bucket, every
    /// further 16 bits lo, the kernel's counts (its vector rule and rare path, on every vector path; on the
    /// baseline path the SSE2 form's, with its vector continuation past the prefix) fall
    /// exactly as today's 32-bit inversion count(u) = kmin + #{j : u >= T[j]} over all 2^32 u, whose
    /// count kmin + j has T[j] - T[j-1] values (T[-1] = 0, T[len] = 2^32). Small means, means past the
    /// branch-free prefix, binomial laws, and thresholds on bucket bounds (Binomial(4, 1/2): every T[j] a
    /// multiple of 2^28, no tie bucket at all; Binomial(1, 1/2)). And T is the law to 2^-31.
    func testRelabeledTableReproducesThe32BitInversionExactly() throws {
        let cases: [(nm_poisson_input_desc, [Double], String)] = [
            (Self.desc(1000, 0.01 / 1000), CountLaw.poisson(0.01, upTo: 12), "Poisson(0.01)"),
            (Self.desc(1000, 0.5 / 1000), CountLaw.poisson(0.5, upTo: 20), "Poisson(0.5)"),
            (Self.desc(1000, 2.0 / 1000), CountLaw.poisson(2, upTo: 40), "Poisson(2)"),
            (Self.desc(1, 7.3), CountLaw.poisson(7.3, upTo: 60), "Poisson(7.3)"),
            (Self.desc(40, 0.05, binomial: true), CountLaw.binomial(40, 0.05), "Binomial(40, 0.05)"),
            (Self.desc(3, 0.9, binomial: true), CountLaw.binomial(3, 0.9), "Binomial(3, 0.9)"),
            (Self.desc(4, 0.5, binomial: true), CountLaw.binomial(4, 0.5), "Binomial(4, 1/2)"),
            (Self.desc(1, 0.5, binomial: true), CountLaw.binomial(1, 0.5), "Binomial(1, 1/2)"),
        ]
        var sawTies = false
        try onEveryPath("relabeled table") { path in
            for (d, pmf, what) in cases {
                guard let t = tableLaw(d) else { continue }
                XCTAssertFalse(t.wide, "\(what): drawn in 16-bit lanes")
                var reference: [UInt64] = []
                var previous: UInt64 = 0
                for x in t.T.map(UInt64.init) + [1 << 32] { reference.append(x - previous); previous = x }
                XCTAssertEqual(t.hist, reference, "\(path), \(what): counts over the 16-bit enumeration vs the 32-bit inversion")
                XCTAssertEqual(t.hist.reduce(0, +), 1 << 32, "\(path), \(what): the enumeration covers 2^32 outcomes")
                for (j, r) in reference.enumerated() {
                    let k = t.kmin + j
                    XCTAssertEqual(Double(r) / 4_294_967_296, k < pmf.count ? pmf[k] : 0, accuracy: 0x1p-31, "\(what): P(\(k))")
                }
                sawTies = sawTies || t.ties > 0
                if what == "Binomial(4, 1/2)" {
                    XCTAssertEqual(t.T, [1 << 28, 5 << 28, 11 << 28, 15 << 28], "\(what): thresholds on bucket bounds")
                    XCTAssertEqual(t.ties, 0, "\(what): no tie bucket")
                }
            }
        }
        XCTAssertTrue(sawTies, "some case has tie buckets")
        // a mean past the linear table is drawn from 32-bit uniforms (guided)
        XCTAssertEqual(tableLaw(Self.desc(1000, 0.05))?.wide, true)
        var bad = Self.desc(0, 0.5)
        var T = [UInt32](repeating: 0, count: 4), hist = [UInt64](repeating: 0, count: 4), info = [Int32](repeating: 0, count: 4)
        XCTAssertLessThan(nm_pinput_table_law(&bad, &T, &hist, 4, &info), 0, "0 sources refused")
        var long = Self.desc(1000, 0.002)
        XCTAssertLessThan(nm_pinput_table_law(&long, &T, &hist, 4, &info), 0, "a table longer than cap refused")
    }

    /// Counts drawn by the kernel: `steps` × n, and the lanes that took the tie path.
    func draw(_ d: nm_poisson_input_desc, seed: UInt64 = 5, n: Int, chunk: Int, steps: Int,
              file: StaticString = #filePath, line: UInt = #line) -> (counts: [Int32], ties: Int64) {
        var d = d
        var counts = [Int32](repeating: -1, count: n * steps)
        var ties: Int64 = 0
        XCTAssertEqual(nm_pinput_draw(&d, seed, Int32(n), Int32(chunk), Int32(steps), &counts, &ties), 0, file: file, line: line)
        return (counts, ties)
    }

    /// Poisson(2) over 640,000 draws: the counts follow the law (mean, variance, χ²); the tie path is
    /// taken at its rate (ties/65536 per draw: within 5 standard errors of the binomial count) and the
    /// lanes that share one 32-bit draw (neurons 2m and 2m + 1) are uncorrelated (within 5/√N of 0), as
    /// are successive steps of one neuron.
    func testDrawsFollowTheLawTakeTheTiePathAtItsRateAndPairsAreIndependent() throws {
        let d = Self.desc(1000, 0.002)
        let t = try XCTUnwrap(tableLaw(d))
        XCTAssertGreaterThan(t.ties, 0)
        let n = 1000, steps = 640
        let (c, ties) = draw(d, n: n, chunk: 64, steps: steps)
        CountLaw.check(c.map(Int.init), pmf: CountLaw.poisson(2, upTo: 40), "Poisson(2)")
        let draws = Double(n * steps), p = Double(t.ties) / 65536
        XCTAssertEqual(Double(ties), draws * p, accuracy: 5 * (draws * p * (1 - p)).squareRoot(), "tie lanes (\(t.ties) tie buckets)")
        func correlation(_ pairs: [(Double, Double)]) -> Double {
            let m = Double(pairs.count)
            let ma = pairs.reduce(0) { $0 + $1.0 } / m, mb = pairs.reduce(0) { $0 + $1.1 } / m
            let cov = pairs.reduce(0) { $0 + ($1.0 - ma) * ($1.1 - mb) } / m
            let va = pairs.reduce(0) { $0 + ($1.0 - ma) * ($1.0 - ma) } / m, vb = pairs.reduce(0) { $0 + ($1.1 - mb) * ($1.1 - mb) } / m
            return cov / (va * vb).squareRoot()
        }
        var partners: [(Double, Double)] = [], successive: [(Double, Double)] = []
        for s in 0..<steps {
            for i in stride(from: 0, to: n, by: 2) { partners.append((Double(c[s * n + i]), Double(c[s * n + i + 1]))) }
            if s > 0 { for i in 0..<n { successive.append((Double(c[(s - 1) * n + i]), Double(c[s * n + i]))) } }
        }
        XCTAssertEqual(correlation(partners), 0, accuracy: 5 / Double(partners.count).squareRoot(), "pair partners")
        XCTAssertEqual(correlation(successive), 0, accuracy: 5 / Double(successive.count).squareRoot(), "successive steps")
    }

    /// The same seed gives the same counts (and tie lanes) on every vector path, whether the neurons are
    /// drawn in one range or in ranges of 64 or 96 (as threads split them); an odd population leaves a
    /// partial block and a pair with one neuron. The same for the wide path (a guided table, and a
    /// constant count past 65535), whose constant equals its law. Another seed changes the counts.
    func testCountsAreIdenticalOnEveryPathAndRangeSplit() throws {
        let cases: [(nm_poisson_input_desc, String)] = [
            (Self.desc(1000, 0.002), "Poisson(2)"),
            (Self.desc(40, 0.05, binomial: true), "Binomial(40, 0.05)"),
            (Self.desc(1000, 0.05), "Poisson(50), guided"),
            (Self.desc(100_000, 1, binomial: true), "Binomial(100000, 1)"),
        ]
        for (d, what) in cases {
            var reference: (counts: [Int32], ties: Int64)?
            try onEveryPath(what) { path in
                for chunk in [302, 64, 96] {
                    let r = draw(d, n: 301, chunk: chunk, steps: 300)
                    XCTAssertFalse(r.counts.contains(-1), "\(what): every count written")
                    if let ref = reference {
                        XCTAssertEqual(r.counts, ref.counts, "\(what), \(path), ranges of \(chunk): counts")
                        XCTAssertEqual(r.ties, ref.ties, "\(what), \(path), ranges of \(chunk): tie lanes")
                    } else { reference = r }
                }
            }
            let ref = try XCTUnwrap(reference)
            if what.hasPrefix("Binomial(100000") {
                XCTAssertTrue(ref.counts.allSatisfy { $0 == 100_000 }, what)
            } else {
                XCTAssertNotEqual(draw(d, seed: 6, n: 301, chunk: 64, steps: 300).counts, ref.counts, "\(what): another seed")
            }
        }
        if let t = tableLaw(Self.desc(1000, 0.002)) { XCTAssertGreaterThan(t.ties, 0) }
        XCTAssertGreaterThan(draw(Self.desc(1000, 0.002), n: 301, chunk: 64, steps: 300).ties, 0, "the tie path ran in this comparison")
        var d = Self.desc(1000, 0.002), c = [Int32](repeating: 0, count: 4)
        var ties: Int64 = 0
        XCTAssertLessThan(nm_pinput_draw(&d, 1, 4, 3, 1, &c, &ties), 0, "an odd range length is refused")
    }
}
