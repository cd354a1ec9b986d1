import Common
import Foundation
import SNN

/// What a simulation will cost, known before anything is allocated: its memory (the network's,
/// `MemoryEstimate.network`, plus what the run records) against the memory available, and its
/// length in steps. `SimulationRunner` refuses a run that does not fit and warns about very long
/// ones; the estimate's largest parts are named in the message.
///
/// Recordings, per part:
/// - state monitors: 4 B per neuron and sample + 8 B per sample (the engine's buffers double as they
///   grow, but pages not yet written take no memory); writing the output copies the largest monitor
///   four more times (rows, one array, the NumPy body and file);
/// - population rates (only with an output folder, for the populations `monitors.rates` lists): 4 B per
///   step and population, + 8 B per rate bin;
/// - spike recording of spike sources: expected spikes (Poisson: rate × time; spike_source: its
///   times) × 12 B, + 40 B each for the largest monitor while writing. Spikes of model neurons depend
///   on their dynamics and are not estimated.
public enum SimulationBudget {
    /// Runs longer than this (in steps) get a warning.
    public static let longRunSteps: Int64 = 1_000_000_000

    /// The run's steps (duration / dt), or a `ConfigError` when they cannot be counted.
    public static func steps(_ cfg: SimulationConfig, configPath: String) throws -> Int64 {
        guard let n = cfg.network.steps(cfg.durationMs) else {
            throw ConfigError(file: configPath, line: nil, key: "run.duration",
                              message: "a duration of \(SimulationConfig.fmt(cfg.durationMs)) ms is more than \(Network.maxSteps) steps of dt (\(SimulationConfig.fmt(cfg.network.dt)) ms)")
        }
        return n
    }

    /// The estimate for building `cfg` and, with `runs`, running it for its duration; `writesOutput`
    /// adds what writing an output folder records and copies.
    public static func estimate(_ cfg: SimulationConfig, runs: Bool = true, writesOutput: Bool = true) -> MemoryEstimate {
        let net = cfg.network
        var e = MemoryEstimate.network(net, threads: cfg.threads)
        let steps = runs ? Double(net.steps(cfg.durationMs) ?? Network.maxSteps) : 0

        var monitorBytes = 0.0, largestWrite = 0.0, samplesTotal = 0.0
        for m in cfg.stateMonitors {
            let every = Double(max(1, net.steps(m.everyMs) ?? 1))
            let samples = runs ? (steps / every).rounded(.down) + 2 : 0
            let n = Double(m.selection.count)
            samplesTotal += samples * n * Double(m.variables.count)
            monitorBytes += Double(m.variables.count) * (samples * (4 * n + 8) + 8 * n)
            if writesOutput { largestWrite = max(largestWrite, samples * (16 * n + 48)) }
        }
        e.add("state monitors", monitorBytes, "\(MemoryEstimate.count(samplesTotal)) values")

        if runs && writesOutput {
            let pops = Double(cfg.ratePopulations.count)
            let bins = steps / max(1, (cfg.rateBinMs / net.dt).rounded())
            e.add("population rates", pops * (4 * steps + 8 * bins), "\(MemoryEstimate.count(steps)) steps x \(Int(pops)) populations")
            largestWrite = max(largestWrite, 4 * steps)
        }

        var spikes = 0.0, largestSpikes = 0.0
        for m in cfg.spikeMonitors {
            guard let p = net.populations.first(where: { $0.name == m.population }), runs else { continue }
            // only a spike source needs its selected neurons (its lists are in the config anyway); a Poisson
            // population may be huge, and its selection (a range) is not expanded before this estimate
            let expected: Double
            if p.model.parameters is SpikeSourceParameters {
                expected = p.model.parameters.expectedSpikes(size: p.size, neurons: m.neurons, rates: p.rates, steps: steps, dt: net.dt)
            } else {
                let fraction = Double(m.selection?.count ?? p.size) / Double(max(1, p.size))
                expected = fraction * p.model.parameters.expectedSpikes(size: p.size, neurons: nil, rates: p.rates, steps: steps, dt: net.dt)
            }
            spikes += expected
            largestSpikes = max(largestSpikes, expected)
        }
        e.add("spike recording (sources)", 12 * spikes, "\(MemoryEstimate.count(spikes)) spikes")
        if writesOutput { largestWrite = max(largestWrite, 40 * largestSpikes) }
        e.addTransient("writing the output", largestWrite)
        return e
    }

    /// Warnings about the run (e.g. a very long one), one sentence each.
    public static func warnings(_ cfg: SimulationConfig) -> [String] {
        guard let steps = cfg.network.steps(cfg.durationMs), steps > longRunSteps else { return [] }
        return ["the run is \(MemoryEstimate.count(Double(steps))) steps long (\(SimulationConfig.fmt(cfg.durationMs)) ms at dt = \(SimulationConfig.fmt(cfg.network.dt)) ms); expect it to take very long"]
    }

    /// Refuses `cfg` when its estimate exceeds `memoryLimit` (nil: the memory available now,
    /// `MemorySize.available()`), naming `configPath`, the estimate and its largest parts. Returns
    /// the warnings.
    @discardableResult
    public static func check(_ cfg: SimulationConfig, configPath: String, memoryLimit: Int64?,
                             runs: Bool = true, writesOutput: Bool = true) throws -> [String] {
        if runs { _ = try steps(cfg, configPath: configPath) }
        if writesOutput, !(cfg.network.steps(cfg.rateBinMs).map { $0 >= 1 } ?? false) {   // configs built in code
            throw ConfigError(file: configPath, line: nil, key: "monitors.rates.bin",
                              message: "the rate bin (\(SimulationConfig.fmt(cfg.rateBinMs)) ms) must be at least dt and at most \(Network.maxSteps) steps")
        }
        let e = estimate(cfg, runs: runs, writesOutput: writesOutput)
        let limit = memoryLimit ?? MemorySize.available()
        if e.total > Double(limit) {
            let room = memoryLimit == nil ? "\(MemorySize.format(limit)) are available" : "--max-memory allows \(MemorySize.format(limit))"
            throw ConfigError(file: configPath, line: nil, key: "",
                              message: "the simulation needs ~\(MemorySize.format(e.total)) (\(e.largestParts())) but \(room); reduce sizes, record less or pass --max-memory SIZE")
        }
        return warnings(cfg)
    }
}
