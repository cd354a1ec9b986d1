import CEngine
import Common
import Foundation

/// A network with its connectivity generated: CSR synapse arrays, weight and delay arrays, structured
/// kernels and spike-source schedules, in memory owned here. Immutable once built and shareable: many
/// `Simulator`s (e.g. one per thread, each evaluating other images) run on one `CompiledNetwork`.
///
/// Storage per static sparse synapse: 4 bytes (target index) with a constant weight and delay,
/// 8 bytes with per-synapse weights, 10 with per-synapse delays too.
public final class CompiledNetwork: @unchecked Sendable {
    public let network: Network
    public let seed: UInt64
    /// Seconds spent generating connectivity.
    public let buildSeconds: Double

    final class Storage {
        var rowptr: UnsafeMutablePointer<Int64>?
        var col: UnsafeMutablePointer<Int32>?
        var weights: UnsafeMutablePointer<Float>?
        var delays: UnsafeMutablePointer<UInt16>?
        var w0: Float = 0
        var d0: Int32 = 1
        var synapses: Int64 = 0
        var bytes: Int64 = 0
        deinit {
            nm_free(rowptr); nm_free(col); nm_free(weights); nm_free(delays)
        }
    }

    let storages: [Storage]
    /// Data blocks the models give the engine besides parameters (e.g. spike-source steps), per
    /// population index.
    let engineBlocks: [Int: [EngineBlock]]

    /// Synapses stored per projection.
    public var synapseCounts: [Int64] { storages.map(\.synapses) }
    public var totalSynapses: Int64 { storages.reduce(0) { $0 + $1.synapses } }
    /// Bytes of connectivity storage.
    public var connectivityBytes: Int64 { storages.reduce(0) { $0 + $1.bytes } }

    /// Validates the network, checks that its estimated memory (`MemoryEstimate.network`) fits in
    /// `memoryLimit` bytes (default: what the machine has available, `MemorySize.available()`) and
    /// generates its connectivity with `seed`. Throws `NetworkError` for an invalid network, one that
    /// does not fit (the message gives the estimate and its largest parts), or a failed allocation.
    public init(_ network: Network, seed: UInt64, memoryLimit: Int64? = nil) throws {
        try network.validate()
        try MemoryEstimate.network(network).check(limit: memoryLimit ?? MemorySize.available())
        self.network = network
        self.seed = seed
        let t0 = Date()
        var st: [Storage] = []
        for (j, pr) in network.projections.enumerated() {
            st.append(try Self.build(pr, index: j, network: network, seed: seed))
        }
        storages = st
        var blocks: [Int: [EngineBlock]] = [:]
        for (i, p) in network.populations.enumerated() {
            let b = p.model.parameters.engineBlocks(size: p.size, dt: network.dt)
            if !b.isEmpty { blocks[i] = b }
        }
        engineBlocks = blocks
        buildSeconds = Date().timeIntervalSince(t0)
    }

    static func distCode(_ d: Distribution) -> (Int32, Double, Double, Double, Double) {
        switch d {
        case .constant(let v): return (0, v, v, -.infinity, .infinity)
        case .uniform(let lo, let hi): return (0, lo, hi, -.infinity, .infinity)
        case .normal(let m, let s, let mn, let mx): return (1, m, s, mn ?? -.infinity, mx ?? .infinity)
        case .lognormal(let mu, let s, let mn, let mx): return (2, mu, s, mn ?? -.infinity, mx ?? .infinity)
        case .exponential(let m, let mn, let mx): return (3, m, 0, mn ?? -.infinity, mx ?? .infinity)
        }
    }

    /// `count` elements of `T` from malloc (freed with free/nm_free), or a `NetworkError` naming
    /// `what` when the size overflows or the allocation fails.
    static func allocate<T>(_ count: Int, _ type: T.Type, _ what: String) throws -> UnsafeMutablePointer<T> {
        let (bytes, overflow) = max(1, count).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard count >= 0, !overflow, let p = malloc(bytes) else {
            throw NetworkError("\(what): out of memory (\(count) elements of \(MemoryLayout<T>.stride) B)")
        }
        return p.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// Draws `count` values of `d` in row-block streams (rows given by `rowptr`), deterministic.
    static func draw(_ d: Distribution, rows: Int, rowptr: UnsafePointer<Int64>, count: Int64, seed: UInt64, stream: UInt64, what: String) throws -> UnsafeMutablePointer<Float> {
        let out = try allocate(Int(count), Float.self, what)
        let (code, a, b, lo, hi) = distCode(d)
        nm_draw_values(Int64(rows), rowptr, code, a, b, lo, hi, seed, stream, out)
        return out
    }

    static func build(_ pr: Projection, index j: Int, network: Network, seed: UInt64) throws -> Storage {
        let s = Storage()
        let a = network.populationIndex(pr.pre)!, b = network.populationIndex(pr.post)!
        let npre = network.populations[a].size, npost = network.populations[b].size
        let samePop = a == b
        let dt = network.dt
        let stream = UInt64(j + 1) << 32
        let what = "projection '\(pr.name)'"
        func malloced<T>(_ n: Int, _ t: T.Type) throws -> UnsafeMutablePointer<T> { try allocate(n, t, what) }
        var listWeights: [Double]? = nil, listDelays: [Double]? = nil
        switch pr.kind {
        case .dense(let w):
            let p = try malloced(w.count, Float.self)
            w.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: w.count) }
            s.weights = p
            s.synapses = Int64(npre) * Int64(npost)
            s.bytes = Int64(w.count) * 4
            s.d0 = Int32((pr.delay.constantValue! / dt).rounded())
            return s
        case .conv(_, let k):
            let p = try malloced(k.count, Float.self)
            k.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: k.count) }
            s.weights = p
            s.bytes = Int64(k.count) * 4
            s.d0 = Int32((pr.delay.constantValue! / dt).rounded())
            return s   // synapse count is computed by the engine (border effects)
        case .maxPool:
            s.w0 = Float(pr.weight.constantValue!)
            s.d0 = Int32((pr.delay.constantValue! / dt).rounded())
            return s
        case .sparse(let c):
            var rowptr: UnsafeMutablePointer<Int64>?
            var col: UnsafeMutablePointer<Int32>?
            var nnz: Int64 = 0
            var rc: Int32 = 0
            switch c {
            case .fixedProbability(let p, let aut):
                rc = nm_connect_fixed_prob(Int32(npre), Int32(npost), p, (aut || !samePop) ? 1 : 0, seed, stream, &rowptr, &col, &nnz)
            case .fixedIndegree(let k, let aut, let multi):
                rc = nm_connect_fixed_indegree(Int32(npre), Int32(npost), Int32(k), (aut || !samePop) ? 1 : 0, multi ? 1 : 0, seed, stream, &rowptr, &col, &nnz)
            case .fixedOutdegree(let k, let aut, let multi):
                rc = nm_connect_fixed_outdegree(Int32(npre), Int32(npost), Int32(k), (aut || !samePop) ? 1 : 0, multi ? 1 : 0, seed, stream, &rowptr, &col, &nnz)
            case .allToAll(let aut):
                rc = nm_connect_all_to_all(Int32(npre), Int32(npost), (aut || !samePop) ? 1 : 0, &rowptr, &col, &nnz)
            case .oneToOne:
                let rp = try malloced(npre + 1, Int64.self)
                let cl: UnsafeMutablePointer<Int32>
                do { cl = try malloced(npre, Int32.self) } catch { free(rp); throw error }
                for i in 0..<npre { rp[i] = Int64(i); cl[i] = Int32(truncatingIfNeeded: i) }
                rp[npre] = Int64(npre)
                rowptr = rp; col = cl; nnz = Int64(npre)
            case .list(let pairs, let w, let d):
                let order = pairs.indices.sorted { pairs[$0] < pairs[$1] || (pairs[$0] == pairs[$1] && $0 < $1) }
                let rp = try malloced(npre + 1, Int64.self)
                let cl: UnsafeMutablePointer<Int32>
                do { cl = try malloced(pairs.count, Int32.self) } catch { free(rp); throw error }
                var counts = [Int64](repeating: 0, count: npre + 1)
                for (i, _) in pairs { counts[i + 1] += 1 }
                for i in 0..<npre { counts[i + 1] += counts[i] }
                for i in 0...npre { rp[i] = counts[i] }
                for (k, o) in order.enumerated() { cl[k] = Int32(pairs[o].1) }
                rowptr = rp; col = cl; nnz = Int64(pairs.count)
                listWeights = w.map { ws in order.map { ws[$0] } }
                listDelays = d.map { ds in order.map { ds[$0] } }
            }
            guard rc == 0, let rowptr else { throw NetworkError("\(what): out of memory generating connectivity") }
            s.rowptr = rowptr   // owned by `s` from here: freed with it on any error below
            s.col = col
            s.synapses = nnz
            s.bytes = Int64(npre + 1) * 8 + nnz * 4
            // weights
            if let lw = listWeights {
                let p = try malloced(lw.count, Float.self)
                s.weights = p
                for (k, x) in lw.enumerated() { p[k] = Float(x) }
                s.bytes += nnz * 4
            } else if let w = pr.weight.constantValue {
                s.w0 = Float(w)
            } else {
                s.weights = try draw(pr.weight, rows: npre, rowptr: rowptr, count: nnz, seed: seed, stream: stream | 1, what: what)
                s.bytes += nnz * 4
            }
            // delays
            if let ld = listDelays {
                let p = try malloced(ld.count, UInt16.self)
                s.delays = p
                for (k, x) in ld.enumerated() { p[k] = UInt16(max(1, min(Double(Network.maxDelaySteps), (x / dt).rounded()))) }
                s.bytes += nnz * 2
            } else if let d = pr.delay.constantValue {
                s.d0 = d == 0 ? 0 : Int32(max(1, (d / dt).rounded()))
            } else {
                let f = try draw(pr.delay, rows: npre, rowptr: rowptr, count: nnz, seed: seed, stream: stream | 2, what: what)
                defer { free(f) }
                let p = try malloced(Int(nnz), UInt16.self)
                for k in 0..<Int(nnz) { p[k] = UInt16(max(1, min(Double(Network.maxDelaySteps), (Double(f[k]) / dt).rounded()))) }
                s.delays = p
                s.bytes += nnz * 2
            }
            return s
        }
    }
}
