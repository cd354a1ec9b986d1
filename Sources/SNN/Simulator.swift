import CCore
import CEngine
import Foundation

/// Recorded spikes of one population: times (ms, on the grid: a spike found in update n has time
/// (n+1) dt) and neuron indices, in time order and, within a step, ascending index.
public struct SpikeTrain: Sendable, Equatable {
    public var steps: [Int64]
    public var ids: [Int32]
    public let dt: Double
    public var timesMs: [Double] { steps.map { Double($0) * dt } }
    public var count: Int { ids.count }
}

/// A sampled state variable: `values[k][q]` is neuron `neurons[q]` at `timesMs[k]`.
public struct StateTrace: Sendable {
    public let population: String
    public let variable: String
    public let unit: String
    public let neurons: [Int]
    public let timesMs: [Double]
    public let values: [[Float]]
}

/// Runs a `CompiledNetwork` on the C engine: time-stepped neuron updates with event-driven synaptic
/// delivery through ring buffers (see README "Engine"). One simulator = one network state; create
/// several over one compiled network to evaluate independent inputs in parallel.
///
///     let net = try CompiledNetwork(network, seed: 42)
///     let sim = try Simulator(net)
///     sim.recordSpikes("exc")
///     try sim.run(milliseconds: 1000, threads: 2)
///     let spikes = sim.spikes("exc")
public final class Simulator: @unchecked Sendable {
    public let compiled: CompiledNetwork
    public var network: Network { compiled.network }
    let engine: OpaquePointer
    private var monitors: [(pop: Int, variable: Int, neurons: [Int], id: Int32)] = []
    private let hasCurrents: Bool

    /// Creates the engine state: populations with their initial values (drawn with the network seed,
    /// one stream per population and variable), projections sharing the compiled storage.
    public init(_ compiled: CompiledNetwork) throws {
        self.compiled = compiled
        let net = compiled.network
        guard let e = nm_engine_new(net.dt, compiled.seed) else { throw NetworkError("out of memory creating the engine") }
        engine = e
        hasCurrents = !net.currents.isEmpty
        for (i, p) in net.populations.enumerated() {
            let params = p.model.cParameters(dt: net.dt)
            let idx = Self.withCStrings(params.map(\.name)) { names in
                params.map(\.value).withUnsafeBufferPointer {
                    nm_engine_add_pop(e, p.model.name, Int32(p.size), Int32(params.count), names, $0.baseAddress)
                }
            }
            guard idx == i else { throw NetworkError("population '\(p.name)': \(String(cString: nm_engine_error(e)))") }
            for b in compiled.engineBlocks[i] ?? [] {
                guard nm_pop_set_block(e, Int32(i), b.name, b.values, Int64(b.values.count)) == 0 else {
                    throw NetworkError("population '\(p.name)': \(String(cString: nm_engine_error(e)))")
                }
            }
        }
        for (j, pr) in net.projections.enumerated() {
            let s = compiled.storages[j]
            var d = nm_proj_desc()
            d.pre = Int32(net.populationIndex(pr.pre)!)
            d.post = Int32(net.populationIndex(pr.post)!)
            d.port = pr.receptor == .excitatory ? 0 : 1
            d.delay = s.d0
            d.delays = UnsafePointer(s.delays)
            d.rowptr = UnsafePointer(s.rowptr)
            d.col = UnsafePointer(s.col)
            d.w = UnsafePointer(s.weights)
            d.w0 = s.w0
            switch pr.kind {
            case .sparse: d.kind = Int32(NM_PROJ_SPARSE.rawValue)
            case .dense: d.kind = Int32(NM_PROJ_DENSE.rawValue)
            case .conv(let g, _), .maxPool(let g):
                if case .maxPool = pr.kind { d.kind = Int32(NM_PROJ_MAXPOOL.rawValue) } else { d.kind = Int32(NM_PROJ_CONV.rawValue) }
                d.in_h = Int32(g.inHeight); d.in_w = Int32(g.inWidth); d.in_c = Int32(g.inChannels)
                d.out_h = Int32(g.outHeight); d.out_w = Int32(g.outWidth); d.out_c = Int32(g.outChannels)
                d.k_h = Int32(g.kernelHeight); d.k_w = Int32(g.kernelWidth)
                d.stride = Int32(g.stride); d.pad = Int32(g.padding); d.depthwise = g.depthwise ? 1 : 0
            }
            let idx = nm_engine_add_proj(e, &d)
            guard idx == j else { throw NetworkError("projection '\(pr.name)': \(String(cString: nm_engine_error(e)))") }
        }
        for (k, pin) in net.poissonInputs.enumerated() {
            let i = net.populationIndex(pin.population)!
            var d = nm_poisson_input_desc()
            d.pop = Int32(i)
            d.port = pin.receptor == .excitatory ? 0 : 1
            d.sources = Int32(pin.sources)
            d.binomial = pin.draw == .binomial ? 1 : 0
            d.p = pin.perSourcePerStep(dt: net.dt)
            d.weight = Float(pin.weight)
            var mask: [UInt8]? = nil
            if let ns = pin.neurons {
                mask = [UInt8](repeating: 0, count: net.populations[i].size)
                for q in ns { mask![q] = 1 }
            }
            let idx = mask.withUnsafeBufferPointerOrNil { m -> Int32 in
                d.mask = m
                return nm_engine_add_poisson_input(e, &d)
            }
            guard idx == Int32(k) else { throw NetworkError("poisson input '\(pin.name)': \(String(cString: nm_engine_error(e)))") }
        }
        initializeState()
        for (i, p) in net.populations.enumerated() {
            if let r = p.rates { try setPoissonRates(population: i, hz: r.map { Float($0) }) }
        }
    }

    deinit { nm_engine_free(engine) }

    /// Calls `body` with the strings as an array of C strings (valid during the call).
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies = strings.map { UnsafePointer<CChar>(strdup($0)) }
        defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        return copies.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Sets every state variable to its initial value (constant or drawn per neuron) and rewinds time.
    public func initializeState() {
        let net = network
        nm_engine_reset(engine)
        for (i, p) in net.populations.enumerated() {
            for (v, variable) in p.model.variables.enumerated() {
                guard let ptr = nm_pop_var(engine, Int32(i), Int32(v)) else { continue }
                let dist = p.initial[variable.name] ?? .constant(p.model.parameters.initialValue(of: v))
                let scale = Double(p.model.readoutScale(v))
                let d = scale == 1 ? dist : dist.scaled(1 / scale)
                if let c = d.constantValue {
                    ptr.update(repeating: Float(c), count: p.size)
                } else {
                    var rowptr: [Int64] = [0, Int64(p.size)]
                    let (code, a, b, lo, hi) = CompiledNetwork.distCode(d)
                    let stream = (UInt64(1) << 60) | (UInt64(i) << 16) | UInt64(v)
                    nm_draw_values(1, &rowptr, code, a, b, lo, hi, compiled.seed, stream, ptr)
                }
            }
        }
        if hasCurrents { applyCurrents(atStep: 0) }
    }

    // MARK: monitors

    func popIndex(_ name: String) throws -> Int32 {
        guard let i = network.populationIndex(name) else { throw NetworkError("unknown population '\(name)'") }
        return Int32(i)
    }

    /// Records spikes of a population (all neurons, or the given subset).
    public func recordSpikes(_ population: String, neurons: [Int]? = nil) throws {
        let i = try popIndex(population)
        if let neurons {
            let n = network.populations[Int(i)].size
            var mask = [UInt8](repeating: 0, count: n)
            for k in neurons {
                guard k >= 0, k < n else { throw NetworkError("spike monitor: neuron \(k) out of range for '\(population)' (size \(n))") }
                mask[k] = 1
            }
            nm_engine_record_spikes(engine, i, mask)
        } else {
            nm_engine_record_spikes(engine, i, nil)
        }
    }

    /// Records the number of spikes of a population at every step (for rate monitors).
    public func recordCounts(_ population: String) throws {
        nm_engine_record_counts(engine, try popIndex(population))
    }

    /// Samples `variable` of `neurons` every `everyMs` (a multiple of dt). Returns a monitor id.
    @discardableResult
    public func recordState(_ population: String, variable: String, neurons: [Int], everyMs: Double) throws -> Int {
        let i = try popIndex(population)
        let model = network.populations[Int(i)].model
        guard let v = model.variables.firstIndex(where: { $0.name == variable }) else {
            throw NetworkError("state monitor: model \(model.name) has no variable '\(variable)' (has: \(model.variables.map(\.name).joined(separator: ", ")))")
        }
        let n = network.populations[Int(i)].size
        guard let steps = network.steps(everyMs), steps <= Int64(Int32.max) else {
            throw NetworkError("state monitor: sampling interval \(everyMs) ms must be >= 0 and at most 2^31 - 1 steps of \(network.dt) ms")
        }
        if let k = neurons.first(where: { $0 < 0 || $0 >= n }) {
            throw NetworkError("state monitor: neuron \(k) out of range for '\(population)' (size \(n))")
        }
        let every = Int32(max(1, steps))
        let idx = neurons.map { Int32($0) }
        let id = idx.withUnsafeBufferPointer { nm_engine_add_state_monitor(engine, i, Int32(v), $0.baseAddress, Int32(idx.count), every) }
        guard id >= 0 else { throw NetworkError(String(cString: nm_engine_error(engine))) }
        monitors.append((Int(i), v, neurons, id))
        return monitors.count - 1
    }

    // MARK: running

    /// Current simulation time (ms).
    public var timeMs: Double { Double(nm_engine_step(engine)) * network.dt }
    public var step: Int64 { nm_engine_step(engine) }

    /// Advances the network by `milliseconds` (rounded to whole steps) on `threads` threads; 0 means
    /// automatic: all cores are tried against fewer and the fastest is kept, re-checked as the run goes
    /// (results never depend on the thread count, so switching is safe). Step currents change at their
    /// times. `progress` is called between chunks with the fraction done. Throws `SimulationFault` when
    /// the state becomes NaN or infinite or the AdEx solver cannot keep up (the run stops there).
    public func run(milliseconds: Double, threads: Int = 0, progress: ((Double) -> Void)? = nil) throws {
        guard let total = network.steps(milliseconds) else {
            throw NetworkError("run: \(milliseconds) ms must be >= 0 and at most \(Network.maxSteps) steps of \(network.dt) ms")
        }
        try run(steps: total, threads: threads, progress: progress)
    }

    /// Thread count chosen by the last automatic run (0 before any).
    public private(set) var lastThreads = 0

    public func run(steps total: Int64, threads: Int = 0, progress: ((Double) -> Void)? = nil) throws {
        guard total > 0 else { return }
        guard total <= Network.maxSteps - step else { throw NetworkError("run: \(total) more steps would pass \(Network.maxSteps) steps") }
        let start = step, end = start + total
        var changes: [Int64] = []
        if hasCurrents {
            for c in network.currents { for t in c.times { changes.append(network.steps(t) ?? Network.maxSteps) } }   // validated
            changes = Array(Set(changes.filter { $0 > start && $0 < end })).sorted()
        }
        var tuner = threads > 0 ? nil : ThreadTuner(maxThreads: Int(nm_max_threads()))
        var chunk: Int64 = (progress == nil && tuner == nil) ? Int64.max : max(100, min(total / 200, 2000))
        var now = start
        while now < end {
            var next = end - now > chunk ? now + chunk : end
            if let c = changes.first(where: { $0 > now }), c < next { next = c }
            if hasCurrents { applyCurrents(atStep: now) }
            let nt = tuner?.next() ?? threads
            let t0 = DispatchTime.now().uptimeNanoseconds
            guard nm_engine_run(engine, next - now, Int32(nt)) == 0 else {
                if let fault = SimulationFault(engine: engine, network: network) { throw fault }
                throw NetworkError("engine: \(String(cString: nm_engine_error(engine)))")
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if tuner != nil {
                tuner!.record(threads: nt, steps: next - now, seconds: seconds)
                // chunks of ~20 ms keep the overhead of switching negligible and the tuner responsive
                if seconds > 0, next - now == chunk { chunk = max(50, min(100_000, Int64(Double(chunk) * 0.02 / seconds))) }
            }
            lastThreads = nt
            now = next
            progress?(Double(now - start) / Double(total))
        }
    }

    /// Sets the per-neuron extra current of the populations targeted by current inputs.
    private func applyCurrents(atStep s: Int64) {
        let t = Double(s) * network.dt
        var touched = Set<Int>()
        for c in network.currents { touched.insert(network.populationIndex(c.population)!) }
        for i in touched {
            let iext = nm_pop_iext(engine, Int32(i))!
            for k in 0..<network.populations[i].size { iext[k] = 0 }
        }
        for c in network.currents {
            let i = network.populationIndex(c.population)!
            let iext = nm_pop_iext(engine, Int32(i))!
            let a = Float(c.amplitude(at: t))
            if let ns = c.neurons {
                for (q, k) in ns.enumerated() { iext[k] += a * (c.perNeuron?[q] ?? 1) }
            } else if let f = c.perNeuron {
                for k in 0..<network.populations[i].size { iext[k] += a * f[k] }
            } else {
                for k in 0..<network.populations[i].size { iext[k] += a }
            }
        }
    }

    // MARK: results

    public func spikes(_ population: String) -> SpikeTrain {
        guard let i = network.populationIndex(population) else { return SpikeTrain(steps: [], ids: [], dt: network.dt) }
        let n = Int(nm_rec_count(engine, Int32(i)))
        guard n > 0 else { return SpikeTrain(steps: [], ids: [], dt: network.dt) }
        let st = Array(UnsafeBufferPointer(start: nm_rec_steps(engine, Int32(i)), count: n))
        let id = Array(UnsafeBufferPointer(start: nm_rec_ids(engine, Int32(i)), count: n))
        return SpikeTrain(steps: st, ids: id, dt: network.dt)
    }

    /// Spikes per step (requires `recordCounts`).
    public func counts(_ population: String) -> [Int32] {
        guard let i = network.populationIndex(population) else { return [] }
        let n = Int(nm_counts_len(engine, Int32(i)))
        guard n > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: nm_counts(engine, Int32(i)), count: n))
    }

    /// Total spikes of a population since the last reset (always counted).
    public func spikeCount(_ population: String) -> Int64 {
        guard let i = network.populationIndex(population) else { return 0 }
        return nm_pop_spike_total(engine, Int32(i))
    }
    public func spikeCount(population i: Int) -> Int64 { nm_pop_spike_total(engine, Int32(i)) }

    /// Spikes per neuron since the last reset. Kept by default; a population whose counts were switched
    /// off with `countSpikesPerNeuron(population:_:)` traps here.
    public func spikeCounts(population i: Int) -> UnsafeBufferPointer<Int32> {
        guard let p = nm_pop_spike_counts(engine, Int32(i)) else {
            preconditionFailure("per-neuron spike counts of population \(network.populations[i].name) are switched off")
        }
        return UnsafeBufferPointer(start: p, count: network.populations[i].size)
    }

    /// Switches per-neuron spike counting of population `i` on or off (on by default; off saves a
    /// scattered increment per spike). The source of a max-pool gate always counts. Population totals
    /// (`spikeCount`) are kept either way. Switching on restarts the counts at zero.
    public func countSpikesPerNeuron(population i: Int, _ on: Bool) {
        _ = nm_pop_count_per_neuron(engine, Int32(i), on ? 1 : 0)
    }

    /// Synaptic events (spike x fan-out) delivered by projection `j` since the last reset.
    public func synapticEvents(projection j: Int) -> Int64 { nm_proj_events(engine, Int32(j)) }
    public var totalSynapticEvents: Int64 { (0..<network.projections.count).reduce(0) { $0 + nm_proj_events(engine, Int32($1)) } }
    /// Input spikes delivered by Poisson input `k` since the last reset (the sum of its counts).
    public func inputEvents(input k: Int) -> Int64 { nm_input_events(engine, Int32(k)) }
    public var totalInputEvents: Int64 { (0..<network.poissonInputs.count).reduce(0) { $0 + nm_input_events(engine, Int32($1)) } }
    /// Synapses of projection j (structured projections: connections, border effects included).
    public func synapses(projection j: Int) -> Int64 { nm_proj_synapses(engine, Int32(j)) }
    public var totalSynapses: Int64 { (0..<network.projections.count).reduce(0) { $0 + nm_proj_synapses(engine, Int32($1)) } }
    /// Bytes allocated by the engine for state, ring buffers and recordings.
    public var engineBytes: Int64 { nm_engine_bytes(engine) }

    /// Saves the built network before its first run, for `neuromorph-run` (the engine alone, in C):
    /// populations with their state, currents, rates, spike times and recording choices, projections and
    /// state monitors (with their variable names and read-out scales). Written to a temporary file, then renamed. Step currents that change after
    /// t = 0 are applied by this class during a run and cannot be saved.
    public func saveNetwork(to path: String) throws {
        guard step == 0 else { throw NetworkError("\(path): a network can only be saved before it runs") }
        if let c = network.currents.first(where: { $0.times.contains { $0 > 1e-9 } }) {
            throw NetworkError("\(path): current input '\(c.name.isEmpty ? c.population : c.name)' changes after t = 0; neuromorph-run applies only constant currents (use neuromorph simulate)")
        }
        let names = network.populations.map { strdup($0.name) }
        let monNames = monitors.map { strdup(network.populations[$0.pop].model.variables[$0.variable].name) }
        let inputNames = network.poissonInputs.map { strdup($0.name) }
        defer { (names + monNames + inputNames).forEach { free($0) } }
        let scales = monitors.map { Double(network.populations[$0.pop].model.readoutScale($0.variable)) }
        var err = [CChar](repeating: 0, count: 512)
        let pn = names.map { UnsafePointer<CChar>($0) }, mn = monNames.map { UnsafePointer<CChar>($0) }
        let iname = inputNames.map { UnsafePointer<CChar>($0) }
        let rc = pn.withUnsafeBufferPointer { pb in mn.withUnsafeBufferPointer { mb in scales.withUnsafeBufferPointer { sb in
            iname.withUnsafeBufferPointer { ib in
                var meta = nm_net_meta(pop_names: pb.baseAddress, mon_names: mb.baseAddress, mon_scales: sb.baseAddress,
                                       input_names: ib.baseAddress)
                return nm_engine_save(engine, &meta, path, &err, err.count)
            }
        } } }
        guard rc == 0 else { throw NetworkError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
    }

    public func trace(_ monitor: Int) -> StateTrace {
        let m = monitors[monitor]
        let n = Int(nm_state_samples(engine, m.id))
        let data = nm_state_data(engine, m.id)
        let steps = nm_state_steps(engine, m.id)
        let pop = network.populations[m.pop]
        let scale = pop.model.readoutScale(m.variable)
        var values: [[Float]] = []
        var times: [Double] = []
        values.reserveCapacity(n)
        for k in 0..<n {
            times.append(Double(steps![k]) * network.dt)
            values.append((0..<m.neurons.count).map { data![k * m.neurons.count + $0] * scale })
        }
        let v = pop.model.variables[m.variable]
        return StateTrace(population: pop.name, variable: v.name, unit: v.unit, neurons: m.neurons, timesMs: times, values: values)
    }
    public var monitorCount: Int { monitors.count }

    // MARK: direct state access (used by conversion and tests)

    /// Variable `v` of population `i`, writable between runs.
    public func state(population i: Int, variable v: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: nm_pop_var(engine, Int32(i), Int32(v)), count: network.populations[i].size)
    }
    /// Per-neuron extra input current (pA, or model units) of population `i`, writable between runs.
    public func externalCurrent(population i: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: nm_pop_iext(engine, Int32(i)), count: network.populations[i].size)
    }
    /// Zeroes buffers, external currents, counters, recordings and time; state variables are left as they are.
    public func resetCounters() { nm_engine_reset(engine) }
    /// Gives every random stream (Poisson sources and inputs) a new seed; e.g. one per evaluated input.
    public func reseed(_ seed: UInt64) { nm_engine_reseed(engine, seed) }
}

extension Optional where Wrapped == [UInt8] {
    /// The array's buffer (nil for nil) during `body`.
    func withUnsafeBufferPointerOrNil<R>(_ body: (UnsafePointer<UInt8>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
