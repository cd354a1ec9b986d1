import Common
import Conversion
import Foundation

/// Writes `neuromorph compare` results: report.md, report.json and SVG plots (accuracy vs T, spikes
/// per layer, energy vs T), atomically into one folder.
public enum ComparisonReport {
    public static func markdown(_ c: Comparison) -> String {
        var s = "# ANN vs SNN comparison\n\n"
        s += "Model: `\(c.source)` — \(c.images) test images, \(c.threads) threads, vector path \(c.isa) on \(c.cpu).\n\n"
        s += "Conversion recipe: **\(c.recipe.rawValue)** — \(c.recipe.summary).\n\n"
        if c.recipe == .qcfs {
            s += "Conversion: IF thresholds = the trained QCFS thresholds λ (scales in the per-layer table); "
            if c.options.decoding == .spikes { s += "output layer scaled at the \(fmt(c.options.percentile)) percentile of \(c.options.calibrationImages) calibration images; " }
        } else {
            s += "Conversion: \(c.options.normalization.rawValue)-wise normalization at the \(fmt(c.options.percentile)) percentile "
            s += "of \(c.options.calibrationImages) calibration images; "
        }
        s += "reset \(c.options.resetBySubtraction ? "by subtraction" : "to zero"); "
        s += "\(c.options.encoding.rawValue) input; output decoded by \(c.options.decoding == .membrane ? "membrane potential" : "spike count"); "
        s += "initial potential \(fmt(c.options.initialPotential)) × threshold; max pooling: \(c.options.maxPool.rawValue); "
        s += "average pooling: \(c.options.avgPool == .fold ? "folded into the next layer" : "IF neurons"); "
        s += "global pooling before the output: \(c.options.globalPool == .fold || c.options.avgPool == .fold ? "folded into it" : "IF neurons"); "
        s += c.recipe == .percentile && c.options.correctionSteps > 0
            ? "potential correction: \(c.options.correctionSteps) steps on \(c.options.correctionImages) calibration images.\n\n"
            : "no potential correction.\n\n"
        s += String(format: "ANN: accuracy **%.2f%%**, %lld MACs per image, %.0f images/s.\n\n", 100 * c.ann_accuracy, c.macs_per_image, c.ann_images_per_second)
        s += "Energy per operation (Horowitz 2014, 45 nm unless changed): MAC \(fmt(c.energy_model.macPicojoules)) pJ, add \(fmt(c.energy_model.addPicojoules)) pJ. "
        s += "SNN energy = SOPs × add; \"+ first layer\" adds the first layer's MACs (\(c.first_layer_macs_per_image) per image"
        s += c.options.encoding == .analog ? ": with analog input the first layer's current is computed once per image)" : ")"
        s += ".\n\n"
        s += "| T | SNN accuracy | Δ vs ANN | agreement | spikes/image | SOPs/image | SOPs/MAC | energy SNN (µJ) | + first layer (µJ) | ANN (µJ) | SNN/ANN energy | images/s |\n"
        s += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for r in c.snn {
            s += String(format: "| %d | %.2f%% | %+.2f | %.2f%% | %.0f | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f |\n",
                        r.timesteps, 100 * r.accuracy, 100 * (r.accuracy - c.ann_accuracy), 100 * r.agreement_with_ann,
                        r.spikes_per_image, r.sops_per_image, r.sops_per_mac, r.energy_snn_uj, r.energy_snn_with_first_layer_uj,
                        r.energy_ann_uj, r.energy_ratio, r.images_per_second)
        }
        s += "\n(images/s: the whole evaluation runs each image once to the largest T and reads every T on the way.)\n\n"
        s += profilesMarkdown(c)
        if let last = c.snn.last {
            s += "## Per layer at T = \(last.timesteps)\n\n"
            s += "| layer | kind | neurons | scale (mean) | spikes/image | spikes/neuron/step | SOPs/image | ANN MACs/image |\n"
            s += "|---|---|---:|---:|---:|---:|---:|---:|\n"
            for (k, l) in c.layers.enumerated() {
                let sp = last.spikes_per_layer[k]
                s += String(format: "| %@ | %@ | %d | %.3g | %.0f | %.4f | %.0f | %lld |\n", l.name, l.kind, l.neurons, l.scale_mean, sp,
                            sp / Double(max(l.neurons, 1)) / Double(last.timesteps), last.sops_per_layer[k], l.macs_per_image)
            }
            if c.options.encoding == .poisson {
                s += String(format: "\nInput spikes per image: %.0f.\n", last.input_spikes_per_image)
            }
        }
        s += "\nPlots: `accuracy.svg`, `spikes_per_layer.svg`, `energy.svg`. Raw numbers: `report.json`.\n"
        return s
    }

    static func fmt(_ x: Double) -> String { String(format: "%g", x) }

    /// One line per profile: whether and up to which T the SNN saves energy.
    public static func verdict(_ p: Comparison.ProfileEnergy, timesteps: [Int]) -> String {
        let saving = zip(timesteps, p.ratio).filter { $0.1 < 1 }.map(\.0)
        var s = "**\(p.profile.name)**: "
        if saving.isEmpty {
            s += "the SNN needs more energy than the ANN at every evaluated T (from T = \(timesteps.first ?? 0))"
        } else if let stop = p.stops_saving_at {
            s += "the SNN saves energy up to T = \(saving.last!) and stops saving at T = \(stop)"
            if let b = p.break_even_t { s += String(format: " (break-even T ≈ %.1f, interpolated)", b) }
        } else {
            s += "the SNN saves energy at every evaluated T (up to T = \(timesteps.last ?? 0))"
            if let b = p.break_even_t { s += String(format: "; break-even T ≈ %.0f by linear extrapolation", b) }
        }
        return s
    }

    static func profilesMarkdown(_ c: Comparison) -> String {
        guard !c.energy_profiles.isEmpty else { return "" }
        let ts = c.snn.map(\.timesteps)
        var s = "## Energy by hardware profile\n\n"
        s += "Per image: ANN = MACs·(MAC + weight read + activation read) + outputs·activation write; "
        s += "SNN = SOPs·(synaptic op + weight read + potential read + write) + neurons·T·(neuron update + potential read + write) "
        s += "+ spikes·spike + the analog first layer's MACs priced as the ANN. Counts: \(c.macs_per_image) MACs; "
        s += "SOPs and spikes per T in the table above.\n\n"
        s += "| profile | MAC | synaptic op | neuron update | spike | weight read ANN/SNN | activation read/write | potential read/write |\n"
        s += "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for p in c.energy_profiles.map(\.profile) {
            s += "| \(p.name) | \(fmt(p.mac)) | \(fmt(p.synapticOp)) | \(fmt(p.neuronUpdate)) | \(fmt(p.spike)) | \(fmt(p.annWeightRead))/\(fmt(p.snnWeightRead)) "
            s += "| \(fmt(p.activationRead))/\(fmt(p.activationWrite)) | \(fmt(p.potentialRead))/\(fmt(p.potentialWrite)) |\n"
        }
        s += "\n(pJ per operation.) Sources:\n\n"
        for p in c.energy_profiles.map(\.profile) {
            s += "- \(p.name) (\(p.summary)): " + p.sources.joined(separator: "; ") + ".\n"
        }
        s += "\n| T |" + c.energy_profiles.map { " \($0.profile.name) SNN (µJ) | ANN (µJ) | SNN/ANN |" }.joined() + "\n"
        s += "|---:|" + String(repeating: "---:|---:|---:|", count: c.energy_profiles.count) + "\n"
        for (k, t) in ts.enumerated() {
            s += "| \(t) |" + c.energy_profiles.map { String(format: " %.3f | %.3f | %.3f |", $0.energy_snn_uj[k], $0.energy_ann_uj, $0.ratio[k]) }.joined() + "\n"
        }
        s += "\n" + c.energy_profiles.map { "- " + verdict($0, timesteps: ts) + "." }.joined(separator: "\n") + "\n\n"
        return s
    }

    public static func plots(_ c: Comparison) -> [String: String] {
        let ts = c.snn.map { Double($0.timesteps) }
        var acc = SVGPlot(title: "Accuracy vs time steps", xLabel: "time steps T", yLabel: "accuracy (%)")
        acc.logX = true
        acc.xTicks = ts
        acc.series = [
            .init("SNN", x: ts, y: c.snn.map { 100 * $0.accuracy }),
            .init("ANN", x: [ts.first ?? 1, ts.last ?? 1], y: [100 * c.ann_accuracy, 100 * c.ann_accuracy], color: "#888888"),
        ]
        let lo = min(c.snn.map { 100 * $0.accuracy }.min() ?? 0, 100 * c.ann_accuracy)
        acc.yMin = max(0, floor(lo / 5) * 5)
        acc.yMax = 100
        var spk = SVGPlot(title: "Spikes per image and layer (T = \(c.snn.last?.timesteps ?? 0))", xLabel: "layer", yLabel: "spikes per image")
        if let last = c.snn.last {
            spk.series = [.init("spikes", x: c.layers.indices.map(Double.init), y: last.spikes_per_layer, style: .bars)]
            spk.xTicks = []
        }
        var en = SVGPlot(title: "SNN / ANN energy per image vs time steps (below 1: the SNN saves)", xLabel: "time steps T", yLabel: "SNN energy / ANN energy")
        en.logX = true
        en.xTicks = ts
        en.series = c.energy_profiles.map { .init($0.profile.name, x: ts, y: $0.ratio) }
            + [.init("ops only (MAC \(fmt(c.energy_model.macPicojoules)) / add \(fmt(c.energy_model.addPicojoules)) pJ)", x: ts, y: c.snn.map(\.energy_ratio)),
               .init("break-even (ANN = SNN)", x: [ts.first ?? 1, ts.last ?? 1], y: [1, 1], color: "#888888")]
        en.yMin = 0
        var spkSVG = spk.render()
        // label the bars with layer names
        if !c.layers.isEmpty {
            let pw = spk.width - 90
            var labels = ""
            for (k, l) in c.layers.enumerated() {
                let x = 70 + (Double(k) + 0.5) * pw / Double(c.layers.count)
                labels += "<text x=\"\(x)\" y=\"\(spk.height - 32)\" text-anchor=\"middle\" font-size=\"10\">\(l.name)</text>\n"
            }
            spkSVG = spkSVG.replacingOccurrences(of: "</svg>\n", with: labels + "</svg>\n")
        }
        return ["accuracy.svg": acc.render(), "spikes_per_layer.svg": spkSVG, "energy.svg": en.render()]
    }

    /// Writes report.md, report.json and the plots into `dir` (atomically, under the output policy).
    public static func write(_ c: Comparison, to dir: URL, policy: OutputPolicy = OutputPolicy(kind: .compare)) throws {
        try write(c, into: AtomicDirectory(dir, policy: policy))
    }

    /// Writes report.md, report.json and the plots into a staged folder and commits it.
    public static func write(_ c: Comparison, into d: AtomicDirectory) throws {
        try d.write(markdown(c), "report.md")
        try d.write(JSONOutput.encode(c), "report.json")
        for (name, svg) in plots(c) { try d.write(svg, name) }
        try d.commit()
    }

    /// The terminal table.
    public static func table(_ c: Comparison) -> String {
        var s = String(format: "ANN accuracy %.2f%% on %d images (%lld MACs/image)\n", 100 * c.ann_accuracy, c.images, c.macs_per_image)
        s += "    T   SNN acc   Δ ANN   spikes/img    SOPs/img  SOPs/MAC  E_ops ratio  img/s\n"
        for r in c.snn {
            s += String(format: "%5d  %7.2f%%  %+6.2f  %11.0f  %10.0f  %8.3f  %11.3f  %5.0f\n", r.timesteps, 100 * r.accuracy,
                        100 * (r.accuracy - c.ann_accuracy), r.spikes_per_image, r.sops_per_image, r.sops_per_mac, r.energy_ratio, r.images_per_second)
        }
        s += "E_ops ratio: SNN/ANN energy of the arithmetic alone (SOPs × \(fmt(c.energy_model.addPicojoules)) pJ vs MACs × \(fmt(c.energy_model.macPicojoules)) pJ); the profiles below add neuron updates and memory traffic\n"
        for p in c.energy_profiles {
            s += "energy \(p.profile.name): SNN/ANN " + p.ratio.map { String(format: "%.3f", $0) }.joined(separator: " ")
            s += " — " + verdict(p, timesteps: c.snn.map(\.timesteps)).replacingOccurrences(of: "**", with: "") + "\n"
        }
        return s
    }
}
