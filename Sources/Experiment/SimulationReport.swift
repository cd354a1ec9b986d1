import Foundation

/// Human-readable summary of a simulation run.
public enum SimulationReport {
    public static func table(_ s: SimulationSummary, out: String?) -> String {
        var lines: [String] = []
        lines.append("\(s.name): \(s.neurons) neurons, \(s.synapses) synapses, \(String(format: "%g", s.simulated_seconds)) s simulated, dt \(String(format: "%g", s.dt_ms)) ms, seed \(s.seed), \(s.threads) threads\(s.threads_mode == "auto" ? " (auto)" : "")")
        lines.append(String(format: "build %.3f s   simulate %.3f s   real-time factor %.4f   peak memory %.1f MB",
                            s.build_seconds, s.wall_seconds, s.realtime_factor, Double(s.peak_rss_bytes) / 1e6))
        lines.append(String(format: "spikes %lld   synaptic events %lld", s.spikes, s.synaptic_events)
                     + (s.poisson_inputs.isEmpty ? "" : String(format: "   Poisson input spikes %lld", s.poisson_inputs.values.reduce(Int64(0)) { $0 + $1.events })))
        lines.append("")
        let w = max(10, s.populations.keys.map(\.count).max() ?? 10)
        lines.append("population".padding(toLength: w, withPad: " ", startingAt: 0) + "   neurons      spikes   rate (Hz)")
        for (name, p) in s.populations.sorted(by: { $0.key < $1.key }) {
            lines.append(name.padding(toLength: w, withPad: " ", startingAt: 0)
                         + String(format: " %9d %11lld %11.3f", p.neurons, p.spikes, p.mean_rate_hz))
        }
        for (k, v) in s.extra.sorted(by: { $0.key < $1.key }) { lines.append("\(k): \(v)") }
        if let out { lines.append("\noutput: \(out)/ (summary.json, raster.svg, spikes_*.npy)") }
        return lines.joined(separator: "\n")
    }
}
