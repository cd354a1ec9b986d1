import CCore
import Common
import Foundation

/// What a network will allocate, estimated before anything is allocated, from sizes and connection
/// rules alone (no connectivity is generated): the bytes per part, the largest parts named in the
/// message when the total does not fit (`check`). Arithmetic is in Double, so no size can overflow.
///
/// The engine's storage (README "Engine"), per part:
/// - neuron state: 4 B per state variable and neuron, + 12 B (refractory counter, external current,
///   spike count), + what the model keeps besides (`NeuronModelKind.extraBytes`: Poisson sources 8 B
///   per neuron for the next spike, + 12 B with per-neuron rates; AdEx 40 B of double-precision state
///   for the ODE stepper; spike sources 16 B per neuron and 24 B per spike);
/// - ring buffers: 4 B × receptor ports × neurons × (longest delay in steps + 1);
/// - spike lists: 8 B × neurons × interval (shortest delay in steps + 1), double-buffered, + 4 B ×
///   the largest population × interval per thread (Poisson sources with several spikes per step:
///   their entries per neuron and step, `NeuronModelKind.spikeListEntries`, instead of 1);
/// - Poisson inputs: a 16 B random stream per target neuron, the neuron mask and the cumulative table
///   (`PoissonInput.engineBytes`);
/// - sparse projections: expected synapses (all_to_all: n_pre·n_post, one_to_one: n, fixed_probability:
///   p·n_pre·n_post, fixed_indegree: k·n_post, fixed_outdegree: k·n_pre, list: its pairs; minus the
///   diagonal without autapses) × (4 B target + 4 B if weights vary + 2 B if delays vary),
///   + 8 B × (n_pre + 1) row pointers, + 4 B × n_pre × (threads − 1) row splits; generating a
///   projection needs more for a moment (fixed_indegree: 4 B per synapse; drawn delays: 4 B per
///   synapse), counted once for the largest (fixed_probability's growing lists are moved block by
///   block into the final array and need little more than it);
/// - dense projections: 4 B × n_pre × n_post, twice (the engine keeps a 64-byte aligned copy of weights
///   that are not aligned, as Swift arrays are not); convolutions: the kernel twice (the engine's copy
///   has a tail of out_c values), 6 B per source neuron (+ 8 B for pooling); 3x3 stride-1 convolutions of
///   whole 16-channel blocks (delivered by rows) a third and, with 16 outputs, a fourth copy laid out by
///   rows; and per-thread scratch (a separate part).
public struct MemoryEstimate: Sendable, CustomStringConvertible {
    /// One part of the estimate, e.g. ("synapses exc->exc", 7.6e9, "2.0e9 x 4 B").
    public struct Part: Sendable {
        public var name: String
        public var bytes: Double
        /// How it was counted (count × bytes each), for messages; may be empty.
        public var detail: String
        public init(_ name: String, _ bytes: Double, _ detail: String = "") {
            self.name = name; self.bytes = bytes; self.detail = detail
        }
    }

    public private(set) var parts: [Part] = []
    /// Memory needed only for a moment (e.g. while one projection is generated): the largest counts.
    public private(set) var transient: Part? = nil

    public init() {}

    public var total: Double { parts.reduce(0) { $0 + $1.bytes } + (transient?.bytes ?? 0) }

    public mutating func add(_ name: String, _ bytes: Double, _ detail: String = "") {
        if bytes > 0 { parts.append(Part(name, bytes, detail)) }
    }

    /// Keeps the largest of the transient needs seen.
    public mutating func addTransient(_ name: String, _ bytes: Double, _ detail: String = "") {
        if bytes > (transient?.bytes ?? 0) { transient = Part(name, bytes, detail) }
    }

    public mutating func add(_ other: MemoryEstimate) {
        parts += other.parts
        if let t = other.transient { addTransient(t.name, t.bytes, t.detail) }
    }

    /// The largest parts, e.g. `synapses exc->exc 2.0e9 x 4 B = 7.5 GiB, ring buffers 1.2 GiB, + 3 smaller`.
    public func largestParts(_ n: Int = 4) -> String {
        let all = (parts + (transient.map { [Part("\($0.name) (temporary)", $0.bytes, $0.detail)] } ?? []))
            .sorted { $0.bytes > $1.bytes }
        var out = all.prefix(n).map { p in
            p.detail.isEmpty ? "\(p.name) \(MemorySize.format(p.bytes))" : "\(p.name) \(p.detail) = \(MemorySize.format(p.bytes))"
        }
        if all.count > n { out.append("+ \(all.count - n) smaller") }
        return out.joined(separator: ", ")
    }

    public var description: String { "~\(MemorySize.format(total)) (\(largestParts()))" }

    /// Throws when the estimate exceeds `limit` bytes, with the estimate and its main parts:
    /// "the network needs ~38 GiB (synapses exc->exc 2.0e9 x 4 B = 7.5 GiB, ...) but 21 GiB are
    /// available". `what` names the thing ("the network", "the run").
    public func check(limit: Int64, what: String = "the network", hint: String = "reduce sizes") throws {
        guard total > Double(limit) else { return }
        throw NetworkError("\(what) needs ~\(MemorySize.format(total)) (\(largestParts())) but \(MemorySize.format(limit)) are available; \(hint)")
    }

    /// `1.2e9` style counts for messages.
    public static func count(_ x: Double) -> String {
        x < 1e6 ? String(format: "%.0f", x) : String(format: "%.1e", x).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
    }

    // MARK: networks

    /// Engine threads an automatic run may use.
    public static var maxThreads: Int { Int(nm_max_threads()) }

    /// The memory `CompiledNetwork` and `Simulator` allocate for `net` on `threads` threads (0 = the
    /// automatic choice, which may use all cores). Assumes a validated network.
    public static func network(_ net: Network, threads: Int = 0) -> MemoryEstimate {
        var e = MemoryEstimate()
        let nt = Double(threads > 0 ? threads : maxThreads)
        let dt = net.dt
        func steps(_ ms: Double) -> Double { max(1, min(Double(Network.maxDelaySteps), (ms / dt).rounded())) }

        // delays: the ring buffers span the longest, spike lists the interval to the shortest
        var maxDelay = 1.0, minDelay = Double.infinity
        for pr in net.projections where pr.delay != .constant(0) {
            var lo = pr.delay.lowerBound, hi = pr.delay.upperBound
            if case .sparse(.list(_, _, let ds?)) = pr.kind, let a = ds.min(), let b = ds.max() { lo = a; hi = b }
            maxDelay = max(maxDelay, steps(hi))
            minDelay = min(minDelay, steps(lo))
        }
        let interval = minDelay.isFinite ? minDelay + 1 : 1

        var stateBytes = 0.0, bufferBytes = 0.0, neurons = 0.0, maxPop = 1.0, listEntries = 0.0
        for p in net.populations {
            let n = Double(p.size)
            neurons += n
            let perStep = p.model.parameters.spikeListEntries(rates: p.rates, dt: dt)
            listEntries += n * perStep
            maxPop = max(maxPop, n * perStep)
            stateBytes += n * (Double(p.model.variables.count) * 4 + 12) + p.model.parameters.extraBytes(size: p.size, rates: p.rates)
            bufferBytes += 4 * Double(p.model.receptors.count) * n * (maxDelay + 1)
        }
        e.add("neuron state", stateBytes, "\(count(neurons)) neurons")
        e.add("ring buffers", bufferBytes, "\(Int(maxDelay) + 1) slots")
        e.add("spike lists", 8 * listEntries * interval + 4 * maxPop * interval * nt, interval > 2 ? "interval \(Int(interval)) steps" : "")
        var inputBytes = 0.0
        for pin in net.poissonInputs {
            guard let i = net.populationIndex(pin.population) else { continue }
            inputBytes += pin.engineBytes(targetSize: net.populations[i].size, dt: dt)
        }
        e.add("poisson inputs", inputBytes, "\(net.poissonInputs.count) inputs")

        for pr in net.projections {
            guard let a = net.populationIndex(pr.pre), let b = net.populationIndex(pr.post) else { continue }
            let npre = Double(net.populations[a].size), npost = Double(net.populations[b].size)
            let same = a == b
            switch pr.kind {
            case .sparse(let c):
                var syn = 0.0, perSyn = 4.0, growth = 0.0
                var varyingWeights = pr.weight.constantValue == nil, varyingDelays = pr.delay.constantValue == nil
                switch c {
                case .allToAll(let aut): syn = npre * npost - (same && !aut ? min(npre, npost) : 0)
                case .oneToOne: syn = npre
                case .fixedProbability(let p, let aut):
                    syn = p * (npre * npost - (same && !aut ? npre : 0))
                case .fixedIndegree(let k, _, _): syn = Double(k) * npost; growth = 4 * syn
                case .fixedOutdegree(let k, _, _): syn = Double(k) * npre
                case .list(let pairs, let w, let d):
                    syn = Double(pairs.count)
                    varyingWeights = w != nil || varyingWeights
                    varyingDelays = d != nil || varyingDelays
                    growth = 24 * syn   // sort order and reordered weights/delays, in Swift
                }
                if varyingWeights { perSyn += 4 }
                if varyingDelays { perSyn += 2; growth += 4 * syn }
                e.add("synapses \(pr.name)", syn * perSyn + 8 * (npre + 1) + 4 * npre * (nt - 1),
                      "\(count(syn)) x \(Int(perSyn)) B")
                e.addTransient("generating \(pr.name)", growth, "")
            case .dense:
                e.add("dense weights \(pr.name)", 8 * npre * npost, "\(count(npre * npost)) x 4 B, and the engine's aligned copy")
            case .conv(let g, let k):
                let pooling = g.depthwise && g.kernelHeight == g.stride && g.kernelWidth == g.stride && g.padding == 0
                let h2 = Double(g.inHeight + 2 * g.padding), w2 = Double(g.inWidth + 2 * g.padding)
                let ic = Double(g.inChannels), oc = Double(g.outChannels)
                // by rows (snn_deliver_conv.c): the kernel re-laid for one target row and,
                // with 16 outputs, for two; per thread the column bits and the spike bits; no lists
                let byRows = !g.depthwise && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1
                    && g.inChannels % 16 == 0 && g.outChannels % 16 == 0
                var held = 8 * Double(k.count) + (g.depthwise ? 0 : 4 * oc) + (pooling ? 14 : 6) * npre
                if byRows { held += 4 * 3 * ic * 3 * oc + (g.outChannels == 16 ? 4 * 4 * ic * 6 * oc : 0) }
                e.add("convolution \(pr.name)", held)
                let nw = ic / 16, ow = Double(g.outWidth)
                let scratch = g.depthwise ? 0
                    : byRows ? 4 * nt * (2 * (2 * ow + 2) * nw + (Double(g.inHeight * g.inWidth) * nw + Double(g.inWidth) * nw + 1) / 2)
                    : 8 * npre + 4 * nt * (2 * h2 * w2 + npre + 2 * Double(g.kernelHeight * g.kernelWidth * g.inChannels) + 81)
                e.add("convolution \(pr.name) scratch", scratch)
            case .maxPool:
                e.add("max pooling \(pr.name)", 6 * npre + npre / 8)
            }
        }
        return e
    }
}
