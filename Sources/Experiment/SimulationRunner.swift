import Common
import Foundation
import SNN

/// `summary.json` of a simulation run.
public struct SimulationSummary: Codable, Sendable {
    public struct PopulationSummary: Codable, Sendable {
        public var neurons: Int
        public var spikes: Int64
        public var mean_rate_hz: Double
    }
    public struct ProjectionSummary: Codable, Sendable {
        public var pre: String
        public var post: String
        public var synapses: Int64
        public var synaptic_events: Int64
    }
    public var name: String
    public var config: String
    public var neurons: Int
    public var synapses: Int64
    public var spikes: Int64
    public var synaptic_events: Int64
    public var simulated_seconds: Double
    /// Wall time of the simulation loop only.
    public var wall_seconds: Double
    /// Wall time of connectivity generation and engine set-up.
    public var build_seconds: Double
    /// wall_seconds / simulated_seconds (below 1 = faster than real time).
    public var realtime_factor: Double
    public var peak_rss_bytes: Int64
    public var connectivity_bytes: Int64
    /// Threads used (for "auto": the count the tuner settled on at the end).
    public var threads: Int
    /// "fixed" (--threads / run.threads) or "auto" (measured: all cores vs one).
    public var threads_mode: String
    public var seed: UInt64
    public var dt_ms: Double
    /// Vector path of the kernels that ran ("avx512", "avx2" or "baseline"; `NM_ISA` chooses it).
    public var isa: String = VectorPath.current
    /// CPU model name.
    public var cpu: String = VectorPath.cpuModel
    public struct InputSummary: Codable, Sendable {
        public var kind: String
        public var target: String
        public var sources: Int
        public var rate_hz: Double
        /// Input spikes delivered (the sum of the per-step counts over the target neurons).
        public var events: Int64
    }
    public var populations: [String: PopulationSummary]
    public var projections: [String: ProjectionSummary]
    /// Poisson inputs by name (their spikes are not in `synaptic_events`, which counts projections).
    public var poisson_inputs: [String: InputSummary] = [:]
    public var files: [String]
    /// Additional results (e.g. the predicted class of a converted network).
    public var extra: [String: String]
}

/// Runs a `SimulationConfig` and writes its output folder: spikes and sampled state as NumPy `.npy`,
/// population rates, a raster/rate plot (`raster.svg`) and `summary.json`. The folder appears only when
/// everything was written (see `AtomicDirectory`).
public enum SimulationRunner {
    /// Builds the network of `cfg` and saves it for `neuromorph-run` instead of running it: spike and
    /// state monitors are kept (the runner writes the same .npy files), per-step counts are not recorded
    /// (the runner reports totals and mean rates, not rates_<pop>.npy or raster.svg).
    /// Refused before anything is allocated when the estimate (`SimulationBudget`) exceeds
    /// `memoryLimit` (nil: the memory available).
    public static func save(_ cfg: SimulationConfig, configPath: String, to path: String, memoryLimit: Int64? = nil) throws {
        try SimulationBudget.check(cfg, configPath: configPath, memoryLimit: memoryLimit, runs: false, writesOutput: false)
        do {
            let sim = try Simulator(CompiledNetwork(cfg.network, seed: cfg.seed, memoryLimit: memoryLimit ?? Int64.max))
            for m in cfg.spikeMonitors { try sim.recordSpikes(m.population, neurons: m.neurons) }
            for m in cfg.stateMonitors {
                let neurons = m.neurons   // expanded once, now that the estimate counted it
                for v in m.variables { try sim.recordState(m.population, variable: v, neurons: neurons, everyMs: m.everyMs) }
            }
            try sim.saveNetwork(to: path)
        } catch let e as NetworkError {
            throw ConfigError(file: configPath, line: nil, key: "", message: e.message)
        }
    }

    /// Runs `cfg`. Before anything is allocated, the run is refused when its memory estimate
    /// (`SimulationBudget`) exceeds `memoryLimit` (nil: the memory available); warnings about it (a
    /// very long run) go to stderr. Then, with `out`, claims that folder under `output` (the output
    /// policy) before anything runs, so a refused or locked destination fails at once.
    public static func run(_ cfg: SimulationConfig, configPath: String, out: URL?, output: OutputPolicy = OutputPolicy(kind: .simulate),
                           showProgress: Bool, memoryLimit: Int64? = nil,
                           inspect: ((Simulator) -> [String: String])? = nil) throws -> SimulationSummary {
        let warnings = try SimulationBudget.check(cfg, configPath: configPath, memoryLimit: memoryLimit, writesOutput: out != nil)
        for w in warnings { FileHandle.standardError.write(Data("warning: \(configPath): \(w)\n".utf8)) }
        let dir = try out.map { try AtomicDirectory($0, policy: output) }
        let threads = cfg.threads   // 0 = automatic (measured per chunk; results do not depend on it)
        let t0 = Date()
        let compiled: CompiledNetwork
        let sim: Simulator
        var monitorIds: [(spec: SimulationConfig.StateMonitorSpec, variable: String, id: Int)] = []
        do {
            // the whole run was checked above; the network's own check must not refuse a part of it
            compiled = try CompiledNetwork(cfg.network, seed: cfg.seed, memoryLimit: memoryLimit ?? Int64.max)
            sim = try Simulator(compiled)
            for m in cfg.spikeMonitors { try sim.recordSpikes(m.population, neurons: m.neurons) }
            if out != nil { for p in cfg.ratePopulations { try sim.recordCounts(p) } }   // only rates_<pop>.npy reads them
            for m in cfg.stateMonitors {
                let neurons = m.neurons   // expanded once, now that the estimate counted it
                for v in m.variables {
                    monitorIds.append((m, v, try sim.recordState(m.population, variable: v, neurons: neurons, everyMs: m.everyMs)))
                }
            }
        } catch let e as NetworkError {
            throw ConfigError(file: configPath, line: nil, key: "", message: e.message)
        }
        let buildSeconds = Date().timeIntervalSince(t0)
        let simulatedSeconds = cfg.durationMs / 1000
        let progress = ProgressReporter(label: "simulate \(cfg.name)", total: 1, enabled: showProgress && isatty(2) != 0)
        let t1 = Date()
        do {
            try sim.run(milliseconds: cfg.durationMs, threads: threads) { frac in
                let wall = Date().timeIntervalSince(t1)
                let rtf = frac > 0 ? wall / (frac * simulatedSeconds) : 0
                progress.update(frac, extra: String(format: "RTF %.3f", rtf))
            }
        } catch var fault as SimulationFault {   // NaN state, AdEx solver: name the config too
            progress.finish()
            fault.input = configPath
            throw fault
        } catch let e as NetworkError {
            progress.finish()
            throw ConfigError(file: configPath, line: nil, key: "", message: e.message)
        }
        let wall = Date().timeIntervalSince(t1)
        progress.finish()

        var pops: [String: SimulationSummary.PopulationSummary] = [:]
        var totalSpikes: Int64 = 0
        for p in cfg.network.populations {
            let n = sim.spikeCount(p.name)
            totalSpikes += n
            pops[p.name] = .init(neurons: p.size, spikes: n, mean_rate_hz: Double(n) / Double(max(p.size, 1)) / simulatedSeconds)
        }
        var projs: [String: SimulationSummary.ProjectionSummary] = [:]
        for (j, pr) in cfg.network.projections.enumerated() {
            var key = pr.name
            var k = 2
            while projs[key] != nil { key = "\(pr.name)#\(k)"; k += 1 }
            projs[key] = .init(pre: pr.pre, post: pr.post, synapses: sim.synapses(projection: j), synaptic_events: sim.synapticEvents(projection: j))
        }
        var summary = SimulationSummary(
            name: cfg.name, config: configPath,
            neurons: cfg.network.populations.filter { !$0.model.isSource }.reduce(0) { $0 + $1.size },
            synapses: sim.totalSynapses, spikes: totalSpikes, synaptic_events: sim.totalSynapticEvents,
            simulated_seconds: simulatedSeconds, wall_seconds: wall, build_seconds: buildSeconds,
            realtime_factor: wall / simulatedSeconds, peak_rss_bytes: peakRSSBytes(),
            connectivity_bytes: compiled.connectivityBytes, threads: threads > 0 ? threads : sim.lastThreads,
            threads_mode: threads > 0 ? "fixed" : "auto", seed: cfg.seed, dt_ms: cfg.network.dt,
            populations: pops, projections: projs, files: [], extra: inspect?(sim) ?? [:])
        for (k, pin) in cfg.network.poissonInputs.enumerated() {
            summary.poisson_inputs[pin.name] = .init(kind: "poisson_input", target: pin.population, sources: pin.sources, rate_hz: pin.rateHz,
                                                     events: sim.inputEvents(input: k))
        }

        guard let dir else { return summary }
        var files: [String] = []
        func put(_ data: Data, _ name: String) throws { try dir.write(data, name); files.append(name) }
        for m in cfg.spikeMonitors {
            let st = sim.spikes(m.population)
            try put(NPY.encode(st.steps.map { Double($0) * cfg.network.dt / 1000 }), "spikes_\(m.population)_t.npy")
            try put(NPY.encode(st.ids), "spikes_\(m.population)_i.npy")
        }
        for (spec, v, id) in monitorIds {
            let tr = sim.trace(id)
            let flat = tr.values.flatMap { $0 }
            // the state is finite (checked during the run); only the read-out scale (lif_exp currents: C_m / tau_m)
            // can take a sample beyond float32: refuse rather than write ±inf
            if let k = FiniteCheck.firstNonFinite(flat) {
                throw ConfigError(file: configPath, line: nil, key: "",
                                  message: "state monitor of \(spec.population).\(v): the sample at t = \(String(format: "%g", tr.timesMs[k / tr.neurons.count])) ms of neuron \(tr.neurons[k % tr.neurons.count]) is \(FiniteCheck.describe(flat[k])) once read out as float32 \(tr.unit.isEmpty ? "" : "(\(tr.unit)) ")(are C_m or tau_m extreme?); nothing written")
            }
            try put(NPY.encode(flat, shape: [tr.values.count, tr.neurons.count]), "state_\(spec.population)_\(v).npy")
            let tname = "state_\(spec.population)_t.npy"
            if !files.contains(tname) {
                try put(NPY.encode(tr.timesMs.map { $0 / 1000 }), tname)
                try put(NPY.encode(tr.neurons.map { Int32($0) }), "state_\(spec.population)_neurons.npy")
            }
        }
        let binSteps = max(1, Int((cfg.rateBinMs / cfg.network.dt).rounded()))
        var rateSeries: [SVGPlot.Series] = []
        for p in cfg.network.populations where cfg.ratePopulations.contains(p.name) {
            let c = sim.counts(p.name)
            var rates: [Double] = []
            var k = 0
            while k < c.count {
                let e = min(c.count, k + binSteps)
                let s = c[k..<e].reduce(0) { $0 + Int($1) }
                rates.append(Double(s) / Double(max(p.size, 1)) / (Double(e - k) * cfg.network.dt / 1000))
                k = e
            }
            try put(NPY.encode(rates), "rates_\(p.name).npy")
            rateSeries.append(.init(p.name, x: rates.indices.map { Double($0 * binSteps) * cfg.network.dt / 1000 }, y: rates, style: .line))
        }
        try put(Data(rasterSVG(cfg, sim, rateSeries).utf8), "raster.svg")
        summary.files = files + ["summary.json"]
        try put(JSONOutput.encode(summary), "summary.json")
        try dir.commit()
        return summary
    }

    /// Raster of (at most) the first second, with neurons subsampled to keep the file small, above the
    /// population rates over the whole run.
    static func rasterSVG(_ cfg: SimulationConfig, _ sim: Simulator, _ rates: [SVGPlot.Series]) -> String {
        let window = min(cfg.durationMs, 1000.0)
        var raster = SVGPlot(title: "\(cfg.name): spikes (first \(SimulationConfig.fmt(window / 1000)) s)", xLabel: "time (s)", yLabel: "neuron")
        raster.height = 420
        raster.pointRadius = 0.8
        var offset = 0.0
        let maxPoints = 40_000
        let totalInWindow = cfg.spikeMonitors.reduce(0) { acc, m in acc + sim.spikes(m.population).steps.filter { Double($0) * cfg.network.dt <= window }.count }
        let keep = max(1, Int((Double(totalInWindow) / Double(maxPoints)).rounded(.up)))
        for m in cfg.spikeMonitors {
            let st = sim.spikes(m.population)
            var xs: [Double] = [], ys: [Double] = []
            for (s, i) in zip(st.steps, st.ids) where Double(s) * cfg.network.dt <= window && Int(i) % keep == 0 {
                xs.append(Double(s) * cfg.network.dt / 1000)
                ys.append(offset + Double(i))
            }
            raster.series.append(.init(m.population, x: xs, y: ys, style: .points))
            offset += Double(cfg.network.populations.first { $0.name == m.population }?.size ?? 0)
        }
        if keep > 1 { raster.title += " — every \(keep)th neuron" }
        var ratePlot = SVGPlot(title: "population rates (bin \(SimulationConfig.fmt(cfg.rateBinMs)) ms)", xLabel: "time (s)", yLabel: "rate (Hz)")
        ratePlot.height = 260
        ratePlot.series = rates
        return SVGPlot.stack([raster, ratePlot])
    }
}
