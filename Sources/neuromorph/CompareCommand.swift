import ANN
import ArgumentParser
import CCore
import Common
import Conversion
import Datasets
import Experiment
import Foundation
import SNN

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare a model with its spiking conversion: accuracy vs T, spikes, SOPs vs MACs, energy.",
        discussion: """
            Without SNN_DIR the model is converted first (same flags as `convert`). Writes DIR/report.md, \
            report.json, accuracy.svg, spikes_per_layer.svg and energy.svg.
            Example: neuromorph compare runs/cnn --timesteps 8,16,32,64,128 --limit 1000 --out runs/compare
            """)

    @Argument(help: "Model folder (model.json + model.safetensors).")
    var model: String

    @Argument(help: "Converted network folder (from `neuromorph convert`); converted on the fly when omitted.")
    var snn: String?

    @Option(name: .long, parsing: .unconditional, help: "Time-step counts to evaluate, comma-separated, each 1 to 100000.")
    var timesteps: String = "8,16,32,64,128"

    @Option(name: .long, parsing: .unconditional, help: "Evaluate the first N test images only (default: all).")
    var limit: Int?

    @Option(name: .long, help: "Output folder for the report (a new or empty folder, or one an earlier compare wrote with --force).")
    var out: String

    @Flag(name: .long, help: "Replace an existing --out folder written by an earlier neuromorph compare.")
    var force = false

    @Option(name: .long, parsing: .unconditional, help: "Threads, 1 to \(FlagChecks.maxThreads) (default: all cores). Results do not depend on it.")
    var threads: Int?

    @Option(name: .long, parsing: .unconditional, help: "Seed of the Poisson input streams, \(FlagChecks.seedRange).")
    var seed: Int = 1

    @Option(name: .long, parsing: .unconditional, help: "Energy of a multiply-accumulate in pJ, > 0 and at most 1e6 (default Horowitz 2014, 45 nm fp32).")
    var macPj: Double = 4.6

    @Option(name: .long, parsing: .unconditional, help: "Energy of an addition in pJ, > 0 and at most 1e6 (default Horowitz 2014, 45 nm fp32).")
    var addPj: Double = 0.9

    @OptionGroup var flags: ConversionFlags

    func parsedTimesteps() throws -> [Int] {
        let parts = timesteps.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let ts = parts.compactMap { Int($0) }
        guard ts.count == parts.count, !ts.isEmpty, ts.allSatisfy({ $0 > 0 && $0 <= 100_000 }) else {
            throw ValidationError("--timesteps must be a comma-separated list of positive whole numbers, e.g. 8,16,32, got '\(timesteps)'")
        }
        return Array(Set(ts)).sorted()
    }

    func validate() throws {
        _ = try parsedTimesteps()
        try FlagChecks.count("--limit", limit, 1...FlagChecks.maxImages)
        try FlagChecks.threads(threads)
        for (flag, v) in [("--mac-pj", macPj), ("--add-pj", addPj)] where !(v > 0 && v <= EnergyModel.maxPicojoules) {
            throw ValidationError("\(flag) must be a finite energy in (0, \(Int(EnergyModel.maxPicojoules))] pJ, got \(v)")
        }
        try FlagChecks.seed(seed)
        try FlagChecks.outFolder(out)
    }

    func run() throws {
        let ts = try parsedTimesteps()
        let options = try flags.options()
        try reportingErrors {
            // claim --out first: never the model or SNN folder, a folder holding one, or a folder compare did not write
            let dir = try AtomicDirectory(out, policy: OutputPolicy(kind: .compare, force: force, inputs: [model, snn, flags.data].compactMap { $0 }))
            let net = try ModelDirectory.load(model)
            let nthreads = threads ?? Int(nm_max_threads())
            let ds = IDXDataset(folder: flags.data, prefix: flags.prefix)
            let converted: ConvertedNetwork
            if let snn {
                converted = try ConvertedNetwork.load(snn)
            } else {
                let cal = try ds.load(.train, normalization: net.normalization, limit: options.calibrationImages, threads: nthreads)
                converted = try Converter.convert(net, calibration: cal, options: options, threads: nthreads, source: model)
            }
            guard converted.inputShape == net.inputShape else {
                throw UserError("\(snn ?? model): the converted network expects \(converted.inputShape), the model \(net.inputShape)")
            }
            let test = try ds.load(.test, normalization: net.normalization, limit: limit, threads: nthreads)
            let n = net.normalization
            let raw = test.pixels.map { Float(Double($0) * n.std + n.mean) }
            let bar = ProgressReporter(label: "compare", total: 1)
            let c: Comparison
            do {
                c = try Comparison.run(model: net, converted: converted, images: test, rawPixels: raw, timesteps: ts, threads: nthreads,
                                       energy: EnergyModel(macPicojoules: macPj, addPicojoules: addPj), seed: UInt64(seed)) { _, f in bar.update(f) }
            } catch var fault as SimulationFault {
                fault.input = snn ?? model   // the network that ran: the converted folder, or the model converted here
                throw fault
            }
            bar.finish()
            try ComparisonReport.write(c, into: dir)
            print(ComparisonReport.table(c), terminator: "")
            print("report: \(out)/report.md (report.json, accuracy.svg, spikes_per_layer.svg, energy.svg)")
        }
    }
}
