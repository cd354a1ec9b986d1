import ArgumentParser
import Common
import Conversion
import Datasets
import Experiment
import Foundation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a spiking-network simulation described in a YAML config.",
        discussion: """
            Writes to --out DIR: spikes_<pop>_t.npy (s) and spikes_<pop>_i.npy (neuron ids), \
            state_<pop>_<var>.npy ([samples, neurons]) with state_<pop>_t.npy, rates_<pop>.npy (Hz per bin; the populations monitors.rates lists), \
            raster.svg and summary.json. Example: neuromorph simulate configs/coba.yaml --out runs/coba
            """)

    @Argument(help: "Simulation config (YAML), e.g. configs/coba.yaml, or a converted network folder (neuromorph convert).")
    var config: String

    @Option(name: .long, parsing: .unconditional, help: "Converted networks: index of the test image to present.")
    var image: Int = 0

    @Option(name: .long, parsing: .unconditional, help: "Converted networks: time steps (1 ms each) to run, 1 to 10000000.")
    var timesteps: Int = 64

    @Option(name: .long, help: "Converted networks: folder of IDX files (default: Fashion-MNIST).")
    var data: String = IDXDataset.fashionMNISTFolder

    @Option(name: .long, help: ArgumentHelp("Output folder (written atomically). Without it only the summary is printed.",
                                            discussion: "A new folder, an empty one, or (with --force) one written by an earlier neuromorph simulate; never the current folder, a folder above it or one holding an input."))
    var out: String?

    @Flag(name: .long, help: "Replace an existing --out folder (or --save-network file) written by an earlier neuromorph simulate.")
    var force = false

    @Option(name: .long, parsing: .unconditional, help: "Simulated time, e.g. 10 (seconds), '10 s' or '500 ms', at most 1e9 s (overrides run.duration).")
    var duration: String?

    /// --duration in ms.
    func durationMs() throws -> Double? {
        guard let duration else { return nil }
        let t = duration.trimmingCharacters(in: .whitespaces)
        let ms: Double
        if let seconds = Double(t) { ms = seconds * 1000 } else {
            do { ms = try Units.parse(t, as: .time) } catch {
                throw ValidationError("--duration must be a time such as 10, '10 s' or '500 ms', got '\(duration)'")
            }
        }
        guard ms > 0, ms.isFinite, ms <= 1e12 else { throw ValidationError("--duration must be positive and at most 1e9 s, got '\(duration)'") }
        return ms
    }

    @Option(name: .long, parsing: .unconditional, help: "Random seed, \(FlagChecks.seedRange) (overrides run.seed).")
    var seed: Int?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Threads: a number, or 'auto' (overrides run.threads; default: run.threads, else auto).",
                                            discussion: "auto times chunks of the run on all cores and on one and keeps the faster, re-checking as the run goes; results do not depend on it."))
    var threads: String?

    /// --threads as a count; 0 = auto.
    func threadCount() throws -> Int? {
        guard let t = threads else { return nil }
        if t == "auto" { return 0 }
        guard let n = Int(t), n >= 1, n <= FlagChecks.maxThreads else {
            throw ValidationError("--threads must be 'auto' or a whole number between 1 and \(FlagChecks.maxThreads), got '\(t)'")
        }
        return n
    }

    @Option(name: .long, help: ArgumentHelp("Memory the run may use, e.g. 16G or 512M (default: the memory available now).",
                                            discussion: "Before anything is allocated the run's memory is estimated (neurons, synapses, ring buffers, monitors); a run that needs more is refused with the estimate.", valueName: "size"))
    var maxMemory: String?

    /// --max-memory in bytes.
    func memoryLimit() throws -> Int64? {
        guard let m = maxMemory else { return nil }
        guard let b = MemorySize.parse(m) else { throw ValidationError("--max-memory must be a size such as 16G, 512M or 1.5GiB, got '\(m)'") }
        return b
    }

    @Flag(name: .long, help: "Print summary.json to stdout instead of the table.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Build the network and save it to FILE instead of running it; run it with neuromorph-run FILE --duration SECONDS [--threads N] [--out DIR].",
                                            discussion: "neuromorph-run is the engine alone, in C (no Swift runtime, YAML parser or BLAS in the process): the smallest footprint, like Brian2's compiled ./main. Same seed, same spikes. Spike monitors are kept; state monitors and currents that change after t = 0 are refused.", valueName: "file"))
    var saveNetwork: String?

    func validate() throws {
        _ = try durationMs()
        try FlagChecks.seed(seed)
        _ = try threadCount()
        _ = try memoryLimit()
        try FlagChecks.count("--image", image, 0...999_999_999)
        try FlagChecks.count("--timesteps", timesteps, 1...10_000_000)
        try FlagChecks.outFolder(out)
        if let p = saveNetwork, p.isEmpty { throw ValidationError("--save-network needs a file name") }
    }

    func run() throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: config, isDirectory: &isDir), isDir.boolValue {
            try runConverted()
            return
        }
        try reportingErrors {
            var cfg = try SimulationConfig.load(path: config)
            if let d = try durationMs() { cfg.durationMs = d }
            try checkSteps(cfg.durationMs, dt: cfg.network.dt)
            if let s = seed { cfg.seed = UInt64(s) }
            if let t = try threadCount() { cfg.threads = t }
            if let path = saveNetwork {
                let file = try OutputFile(path, option: "--save-network", format: .savedNetwork, force: force, inputs: [config])
                try SimulationRunner.save(cfg, configPath: config, to: file.url.path, memoryLimit: try memoryLimit())
                let secs = String(format: "%g", cfg.durationMs / 1000)
                print("saved \(cfg.name) to \(path); run it with: neuromorph-run \(path) --duration \(secs) [--threads N] [--out DIR]")
                return
            }
            let summary = try SimulationRunner.run(cfg, configPath: config, out: out.map { URL(fileURLWithPath: $0) },
                                                   output: OutputPolicy(kind: .simulate, force: force, inputs: [config]), showProgress: true,
                                                   memoryLimit: try memoryLimit())
            if json {
                print(String(decoding: try JSONOutput.encode(summary), as: UTF8.self), terminator: "")
            } else {
                print(SimulationReport.table(summary, out: out))
            }
        }
    }

    /// The run must fit the engine's step counter (a 64-bit count of `dt` steps), whatever --duration and
    /// run.dt say.
    func checkSteps(_ durationMs: Double, dt: Double) throws {
        let steps = durationMs / dt
        guard steps.isFinite, steps <= 1e15 else {
            throw UserError("\(config): \(String(format: "%g", durationMs / 1000)) s at dt = \(dt) ms is \(String(format: "%.3g", steps)) steps; at most 1e15 steps can run (shorten --duration or run.duration)")
        }
    }

    /// A converted network: one test image, `timesteps` steps, same outputs as any simulation plus the
    /// predicted and true class.
    func runConverted() throws {
        try reportingErrors {
            if saveNetwork != nil {
                throw UserError("--save-network: \(config) is a converted network (its input depends on --image); save simulation configs only")
            }
            let snn = try ConvertedNetwork.load(config)
            let test = try IDXDataset(folder: data).load(.test, normalization: .unit, limit: image + 1)
            guard image < test.count else { throw UserError("--image \(image): the test set has \(test.count) images") }
            guard test.sampleShape == snn.inputShape else { throw UserError("\(data): images are \(test.sampleShape), the network expects \(snn.inputShape)") }
            try test.checkLabels(classes: snn.classes, model: config)
            let u = Array(test.pixels[(image * test.sampleSize)..<((image + 1) * test.sampleSize)])
            let steps = try durationMs().map { Int($0.rounded()) } ?? timesteps   // one step = 1 ms
            guard steps >= 1 && steps <= 10_000_000 else {
                throw ValidationError("--duration of a converted network is its time steps (1 ms each) and must be 1 to 10000000 steps, got \(steps)")
            }
            let cfg = try ConvertedSimulation.config(snn, pixels: u, timesteps: steps,
                                                     seed: UInt64(seed ?? 1), threads: try threadCount() ?? 1, name: "\(config) image \(image)")
            let label = Int(test.labels[image])
            let summary = try SimulationRunner.run(cfg, configPath: config, out: out.map { URL(fileURLWithPath: $0) },
                                                   output: OutputPolicy(kind: .simulate, force: force, inputs: [config, data]), showProgress: true,
                                                   memoryLimit: try memoryLimit()) { sim in
                ["predicted_class": String(ConvertedSimulation.prediction(snn, sim)), "true_class": String(label)]
            }
            if json {
                print(String(decoding: try JSONOutput.encode(summary), as: UTF8.self), terminator: "")
            } else {
                print(SimulationReport.table(summary, out: out))
            }
        }
    }
}
