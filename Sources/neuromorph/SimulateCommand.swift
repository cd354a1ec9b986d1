import ArgumentParser
import Common
import Experiment
import Foundation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a spiking-network simulation described in a YAML config.",
        discussion: """
            Writes to --out DIR: spikes_<pop>_t.npy (s) and spikes_<pop>_i.npy (neuron ids), \
            state_<pop>_<var>.npy ([samples, neurons]) with state_<pop>_t.npy, rates_<pop>.npy (Hz per bin), \
            raster.svg and summary.json. Example: neuromorph simulate configs/coba.yaml --out runs/coba
            """)

    @Argument(help: "Simulation config (YAML), e.g. configs/coba.yaml.")
    var config: String

    @Option(name: .long, help: "Output folder (written atomically). Without it only the summary is printed.")
    var out: String?

    @Option(name: .long, help: "Simulated time in seconds (overrides run.duration).")
    var duration: Double?

    @Option(name: .long, help: "Random seed (overrides run.seed).")
    var seed: Int?

    @Option(name: .long, help: "Threads (overrides run.threads; default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Print summary.json to stdout instead of the table.")
    var json = false

    func validate() throws {
        if let d = duration, !(d > 0 && d.isFinite) { throw ValidationError("--duration must be a positive number of seconds, got \(d)") }
        if let s = seed, s < 0 { throw ValidationError("--seed must be >= 0, got \(s)") }
        if let t = threads, t < 1 || t > 1024 { throw ValidationError("--threads must be between 1 and 1024, got \(t)") }
    }

    func run() throws {
        try reportingErrors {
            var cfg = try SimulationConfig.load(path: config)
            if let d = duration { cfg.durationMs = d * 1000 }
            if let s = seed { cfg.seed = UInt64(s) }
            if let t = threads { cfg.threads = t }
            let summary = try SimulationRunner.run(cfg, configPath: config, out: out.map { URL(fileURLWithPath: $0) }, showProgress: true)
            if json {
                print(String(decoding: try JSONOutput.encode(summary), as: UTF8.self), terminator: "")
            } else {
                print(SimulationReport.table(summary, out: out))
            }
        }
    }
}
