import Common
import Foundation
import XCTest
@testable import Experiment

/// configs/auryn-coba.yaml reproduces Auryn's COBA benchmark network (examples/sim_coba_benchmark.cpp and
/// TIFGroup of fzenke/auryn). Checked by behaviour, against numbers read from Auryn's source: every neuron
/// starts at rest (-60 mV) with a 200 pA drive into g_L 10 nS, C_m 200 pF, so the whole network fires one
/// volley at t = 20 ms ln 2 = 13.86 ms (end of the step: 13.9 ms); the volley reaches the targets 0.8 ms
/// later with conductance jumps of 4 nS (exc) and 51 nS (inh) per synapse, p = 0.02.
final class PeerConfigTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped config with its monitors replaced (spikes + conductances of 200 excitatory neurons)
    /// and the run shortened to `duration`.
    func aurynConfig(duration: String) throws -> SimulationConfig {
        let path = Self.root.appendingPathComponent("configs/auryn-coba.yaml").path
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let cut = try XCTUnwrap(text.range(of: "\nmonitors:"), "configs/auryn-coba.yaml has no monitors section")
        text = String(text[..<cut.lowerBound]) + """

            monitors:
              spikes: all
              state:
                - {population: exc, variables: [g_exc, g_inh], neurons: 0:200, every: 0.1 ms}

            """
        text = text.replacingOccurrences(of: "duration: 1 s", with: "duration: \(duration)")
        return try SimulationConfig.parse(ConfigNode.parse(text, file: path))
    }

    func read(_ dir: URL, _ name: String) throws -> [Double] {
        let url = dir.appendingPathComponent(name)
        return try NPY.decode(Data(contentsOf: url), path: url.path).doubles
    }

    func testAurynCOBAConfigFirstVolleyDrive() throws {
        let cfg = try aurynConfig(duration: "16 ms")
        XCTAssertEqual(cfg.network.populations.map(\.size), [3200, 800])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-auryn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try SimulationRunner.run(cfg, configPath: "configs/auryn-coba.yaml", out: dir, showProgress: false)

        // Closed form of the drive: v(t) = -40 + (-60 + 40) exp(-t/20 ms) reaches -50 mV at 20 ln 2 ms, inside
        // the step [13.8, 13.9) ms; then 5 ms refractory, so nobody fires twice before 16 ms.
        let tCross = 20 * log(2.0)
        XCTAssertTrue(tCross > 13.8 && tCross < 13.9)
        for pop in ["exc", "inh"] {
            let t = try read(dir, "spikes_\(pop)_t.npy"), ids = try read(dir, "spikes_\(pop)_i.npy")
            XCTAssertEqual(Set(ids.map { Int($0) }).count, pop == "exc" ? 3200 : 800, "\(pop): every neuron fires once")
            XCTAssertEqual(t.count, ids.count)
            for s in t { XCTAssertEqual(s, 0.0139, accuracy: 1e-9, "\(pop) spike time") }
        }

        // The volley arrives 0.8 ms later (spike at 13.9 ms + 0.8 ms: added at the start of the step from
        // 14.7 ms; the sample after that step is at 14.8 ms, one step of decay later): before it the
        // conductances are zero, at it they are (number of presynaptic neurons) x 4 nS (exc) and x 51 nS (inh).
        let ts = try read(dir, "state_exc_t.npy"), ge = try read(dir, "state_exc_g_exc.npy"), gi = try read(dir, "state_exc_g_inh.npy")
        let n = 200
        XCTAssertEqual(ge.count, ts.count * n)
        let k = try XCTUnwrap(ts.firstIndex { abs($0 - 0.0148) < 1e-9 }, "no sample at 14.8 ms")
        for i in 0..<(k * n) { XCTAssertEqual(ge[i], 0); XCTAssertEqual(gi[i], 0) }
        var kExc = 0.0, kInh = 0.0
        for j in 0..<n {
            let ce = ge[k * n + j] / (4 * exp(-0.1 / 5)), ci = gi[k * n + j] / (51 * exp(-0.1 / 10))
            XCTAssertEqual(ce, ce.rounded(), accuracy: 1e-3, "neuron \(j): g_exc is not a multiple of 4 nS")
            XCTAssertEqual(ci, ci.rounded(), accuracy: 1e-3, "neuron \(j): g_inh is not a multiple of 51 nS")
            kExc += ce.rounded() / Double(n)
            kInh += ci.rounded() / Double(n)
        }
        // In-degrees: binomial(3200, 0.02) (mean 64, sd 7.9) and binomial(800, 0.02) (16, 3.96); means of 200
        // neurons within about 5 standard errors.
        XCTAssertEqual(kExc, 64, accuracy: 3)
        XCTAssertEqual(kInh, 16, accuracy: 1.5)
    }
}
