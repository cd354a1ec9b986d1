import CEngine
import Foundation
import XCTest
@testable import SNN

/// `all_to_all` connectivity is generated in C next to the other rules (it was a Swift loop: 4.3 s for
/// 4e8 synapses in a debug build, ~1 s now, in parallel): every source to every target in ascending
/// order, without i == j when autapses are off, as a naive double loop gives it.
final class AllToAllTests: XCTestCase {
    /// The CSR arrays of `nm_connect_all_to_all` against the double loop, for square and rectangular
    /// shapes, with and without autapses, and empty populations.
    func testGenerationMatchesTheDoubleLoop() {
        for (npre, npost) in [(5, 3), (3, 5), (4, 4), (1, 1), (0, 3), (3, 0), (300, 257)] {
            for autapses in [0, 1] {
                var expRow: [Int64] = [0], expCol: [Int32] = []
                for i in 0..<npre {
                    for k in 0..<npost where !(autapses == 0 && k == i) { expCol.append(Int32(k)) }
                    expRow.append(Int64(expCol.count))
                }
                var rp: UnsafeMutablePointer<Int64>?, col: UnsafeMutablePointer<Int32>?, nnz: Int64 = -1
                XCTAssertEqual(nm_connect_all_to_all(Int32(npre), Int32(npost), Int32(autapses), &rp, &col, &nnz), 0)
                let what = "\(npre) x \(npost), autapses \(autapses)"
                XCTAssertEqual(nnz, Int64(expCol.count), what)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: rp, count: npre + 1)), expRow, what)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: col, count: expCol.count)), expCol, what)
                nm_free(rp); nm_free(col)
            }
        }
        var rp: UnsafeMutablePointer<Int64>?, col: UnsafeMutablePointer<Int32>?, nnz: Int64 = 0
        XCTAssertEqual(nm_connect_all_to_all(-1, 3, 1, &rp, &col, &nnz), -1)
    }

    /// Through the network: a population onto itself has n(n - 1) synapses without autapses (the
    /// default), n^2 with; onto another population n_pre * n_post whatever the flag; the synapse count
    /// and the delivered events do not depend on the thread count.
    func testProjectionsThroughTheSimulator() throws {
        let cue = Population(name: "cue", size: 6, model: .spikeSource(times: [[0.1], [0.2], [], [0.1], [], [0.3]]))
        let a = Population(name: "a", size: 6, model: .lifExp(LIFExpParameters()))
        let b = Population(name: "b", size: 4, model: .lifExp(LIFExpParameters()))
        func sim(_ threads: Int) throws -> Simulator {
            let n = Network(dt: 0.1, populations: [cue, a, b], projections: [
                Projection(pre: "a", post: "a", kind: .sparse(.allToAll()), weight: .constant(0.1), delay: .constant(0.1)),
                Projection(pre: "a", post: "a", kind: .sparse(.allToAll(autapses: true)), weight: .constant(0.1), delay: .constant(0.1)),
                Projection(pre: "cue", post: "b", kind: .sparse(.allToAll()), weight: .constant(0.1), delay: .constant(0.1)),
            ])
            let s = try Simulator(CompiledNetwork(n, seed: 2))
            try s.run(milliseconds: 1, threads: threads)
            return s
        }
        let one = try sim(1), two = try sim(2)
        XCTAssertEqual((0..<3).map { one.synapses(projection: $0) }, [30, 36, 24])
        XCTAssertEqual(one.synapticEvents(projection: 2), 4 * 4, "4 cue spikes reach the 4 neurons of b")
        XCTAssertEqual((0..<3).map { two.synapticEvents(projection: $0) }, (0..<3).map { one.synapticEvents(projection: $0) })
    }
}
