import Foundation
import XCTest
@testable import SNN

/// A same-step convolution from IF neurons with whole 16-channel blocks is delivered, on one thread,
/// from the source's spike bits (snn_deliver_conv.c, conv_positions_bits), and a source whose spikes
/// nobody reads as a list (no recording, no per-neuron counts, every consumer reading bits) only counts
/// them in its update (P->no_list). Both must give the documented per-target sum (the kernel slices of
/// the window's spikes by window row, window column, channel; even and odd entries summed apart,
/// target += E + O) of every step, accumulated in step order: checked bit for bit in Float against a
/// replay of the recorded spikes, with recording on (list and bits), off (bits only, no list) and on
/// 3 threads (the spike list), on every vector path; spike totals and synaptic events too.
final class ConvFromSpikeBitsTests: XCTestCase {
    func testConvFromSpikeBitsEqualsReplayedSum() throws {
        let shapes: [ConvGeometry] = [
            ConvGeometry(inHeight: 9, inWidth: 10, inChannels: 16, outChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
            ConvGeometry(inHeight: 9, inWidth: 8, inChannels: 16, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1),
            ConvGeometry(inHeight: 6, inWidth: 5, inChannels: 32, outChannels: 64, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
            ConvGeometry(inHeight: 7, inWidth: 5, inChannels: 32, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
            ConvGeometry(inHeight: 8, inWidth: 7, inChannels: 16, outChannels: 32, kernelHeight: 1, kernelWidth: 1, stride: 2, padding: 0),
            ConvGeometry(inHeight: 7, inWidth: 6, inChannels: 48, outChannels: 5, kernelHeight: 3, kernelWidth: 4, stride: 2, padding: 2),
        ]
        var rng: UInt64 = 77
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        let steps = 12
        for (si, g) in shapes.enumerated() {
            let kernel = (0..<g.kernelCount).map { _ in Float(Int(next() % 200001) - 100000) / 997 * (next() % 4 == 0 ? 1e-3 : 1) }
            // firing rates from 2 % to 100 % (dense windows: runs of more than 16 spikes per window row)
            let hi: UInt64 = si == 2 ? 1000 : 400
            let drive = (0..<g.inputSize).map { _ in Float(next() % hi) / 1000 + (si == 2 ? 0 : 0.02) }
            var src = IFParameters(); src.threshold = 1
            var store = IFParameters(); store.threshold = 1e9   // never fires: v sums what arrived
            let net = Network(dt: 1, populations: [
                Population(name: "src", size: g.inputSize, model: .integrateAndFire(src)),
                Population(name: "out", size: g.outputSize, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
            ], projections: [Projection(pre: "src", post: "out", kind: .conv(g, kernel: kernel), delay: .constant(0))])
            try onEveryPath("conv from spike bits") { path in
                let (train, fired) = try recordedSteps(net, drive: drive, steps: steps)
                var want = [Float](repeating: 0, count: g.outputSize)
                var events: Int64 = 0
                for fires in fired {
                    let (sum, ev) = documentedConvSum(g, kernel, fires)
                    for i in 0..<want.count { want[i] = want[i] + sum[i] }
                    events += ev
                }
                XCTAssertGreaterThan(train.count, g.inputSize / 4, "\(g): the source fires")
                for (label, threads, record) in [("recorded", 1, true), ("no list", 1, false), ("3 threads", 3, false), ("3 threads, recorded", 3, true)] {
                    let sim = try drivenSim(net, drive: drive, record: record)
                    sim.countSpikesPerNeuron(population: 0, false)
                    try sim.run(steps: Int64(steps), threads: threads)
                    let v = Array(sim.state(population: 1, variable: 0))
                    let bad = (0..<v.count).filter { v[$0].bitPattern != want[$0].bitPattern }
                    XCTAssertEqual(bad.count, 0, "\(g), \(path), \(label): first mismatch at \(bad.first ?? -1)")
                    XCTAssertEqual(sim.spikeCount(population: 0), Int64(train.count), "\(g), \(path), \(label): spike total")
                    XCTAssertEqual(sim.synapticEvents(projection: 0), events, "\(g), \(path), \(label): events")
                    if record { XCTAssertEqual(sim.spikes("src").ids, train.ids, "\(g), \(path), \(label): recorded spikes") }
                }
            }
        }
    }

    /// Two convolutions by lists from one source in the same step: the second reads the first's step
    /// positions when its padding is at most the first's (pr->pos_from: a residual block's strided 3x3
    /// conv and its 1x1 shortcut), on the first's wider grid; when the first owns no targets on a
    /// thread (3 threads, 45 targets), that thread computes its own. Each target's v must be its own
    /// documented sum bit for bit (replayed spikes), on every path, 1 and 3 threads, also after a reset
    /// (the positions of the run before must not be taken for this run's).
    func testConvsSharingStepPositionsEqualTheirOwnSums() throws {
        func G(_ h: Int, _ w: Int, _ ic: Int, _ oc: Int, _ kh: Int, _ kw: Int, _ st: Int, _ pad: Int) -> ConvGeometry {
            ConvGeometry(inHeight: h, inWidth: w, inChannels: ic, outChannels: oc, kernelHeight: kh, kernelWidth: kw, stride: st, padding: pad)
        }
        let pairs: [(ConvGeometry, ConvGeometry)] = [
            (G(9, 8, 16, 32, 3, 3, 2, 1), G(9, 8, 16, 32, 1, 1, 2, 0)),   // shortcut after its block's conv: shared, 1 pixel in
            (G(9, 8, 16, 32, 1, 1, 2, 0), G(9, 8, 16, 32, 3, 3, 2, 1)),   // the other order: not shared (padding 1 > 0)
            (G(7, 6, 48, 5, 3, 4, 2, 2), G(7, 6, 48, 5, 3, 3, 1, 1)),     // 3x4 kernel, padding 2, then 3x3 stride 1 (lists: 5 outputs)
            (G(9, 8, 16, 5, 3, 3, 3, 1), G(9, 8, 16, 5, 1, 1, 1, 0)),     // the first's 45 targets: thread 0's only
        ]
        var rng: UInt64 = 91
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        let steps = 10
        for (ga, gb) in pairs {
            let ka = (0..<ga.kernelCount).map { _ in Float(Int(next() % 200001) - 100000) / 997 * (next() % 4 == 0 ? 1e-3 : 1) }
            let kb = (0..<gb.kernelCount).map { _ in Float(Int(next() % 200001) - 100000) / 997 * (next() % 4 == 0 ? 1e-3 : 1) }
            let drive = (0..<ga.inputSize).map { _ in Float(next() % 400) / 1000 + 0.02 }
            var src = IFParameters(); src.threshold = 1
            var store = IFParameters(); store.threshold = 1e9
            let net = Network(dt: 1, populations: [
                Population(name: "src", size: ga.inputSize, model: .integrateAndFire(src)),
                Population(name: "a", size: ga.outputSize, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
                Population(name: "b", size: gb.outputSize, model: .integrateAndFire(store), initial: ["v": .constant(0)]),
            ], projections: [
                Projection(pre: "src", post: "a", kind: .conv(ga, kernel: ka), delay: .constant(0)),
                Projection(pre: "src", post: "b", kind: .conv(gb, kernel: kb), delay: .constant(0)),
            ])
            try onEveryPath("convs sharing positions") { path in
                let (train, fired) = try recordedSteps(net, drive: drive, steps: steps)
                var wantA = [Float](repeating: 0, count: ga.outputSize), wantB = [Float](repeating: 0, count: gb.outputSize)
                for fires in fired {
                    let a = documentedConvSum(ga, ka, fires).v, b = documentedConvSum(gb, kb, fires).v
                    for i in 0..<wantA.count { wantA[i] = wantA[i] + a[i] }
                    for i in 0..<wantB.count { wantB[i] = wantB[i] + b[i] }
                }
                XCTAssertGreaterThan(train.count, ga.inputSize / 4, "the source fires")
                for threads in [1, 3] {
                    let sim = try drivenSim(net, drive: drive, record: false)
                    sim.countSpikesPerNeuron(population: 0, false)
                    for round in 0..<2 {
                        if round == 1 {   // a reset: steps start again at 0
                            sim.initializeState()
                            let ext = sim.externalCurrent(population: 0)
                            for q in 0..<drive.count { ext[q] = drive[q] }
                        }
                        try sim.run(steps: Int64(steps), threads: threads)
                        let va = Array(sim.state(population: 1, variable: 0)), vb = Array(sim.state(population: 2, variable: 0))
                        XCTAssertEqual(va.map(\.bitPattern), wantA.map(\.bitPattern), "\(ga) first, \(path), \(threads) threads, round \(round)")
                        XCTAssertEqual(vb.map(\.bitPattern), wantB.map(\.bitPattern), "\(gb) after \(ga), \(path), \(threads) threads, round \(round)")
                    }
                }
            }
        }
    }
}

/// The replay of a recorded run of `net` on one thread, its first population ("src") driven by `drive`:
/// its spike train, and which of its neurons fired in each step 1...steps (every spike replayed).
private func recordedSteps(_ net: Network, drive: [Float], steps: Int) throws -> (train: SpikeTrain, fires: [[Bool]]) {
    let ref = try drivenSim(net, drive: drive)
    try ref.run(steps: Int64(steps), threads: 1)
    let train = ref.spikes("src")
    var fires: [[Bool]] = []
    var q = 0
    for n in 1...steps {
        var f = [Bool](repeating: false, count: net.populations[0].size)
        while q < train.count && train.steps[q] == Int64(n) { f[Int(train.ids[q])] = true; q += 1 }
        fires.append(f)
    }
    XCTAssertEqual(q, train.count, "every spike replayed")
    return (train, fires)
}
