import Conversion
import Datasets
import Foundation
import SNN

/// Runs a converted network (`neuromorph convert` output) through the ordinary simulation runner on
/// one input image: the network is the converted SNN, the image becomes the first layer's input
/// current (analog) or the input population's rates (Poisson), biases become constant currents, the
/// corrected initial potentials of a layer a one-step current pulse at t = 0 (of v0_c − v0: the same
/// charge), and the run lasts `timesteps` steps of 1 ms.
public enum ConvertedSimulation {
    public static func config(_ snn: ConvertedNetwork, pixels u: [Float], timesteps: Int, seed: UInt64, threads: Int, name: String) throws -> SimulationConfig {
        var net = snn.makeNetwork()
        var currents: [CurrentInput] = []
        if snn.options.encoding == .analog {
            let cur = snn.firstLayerCurrents(pixels: u, count: 1, threads: 1)
            currents.append(CurrentInput(name: "input", population: snn.layers[0].name, times: [0], amplitudes: [1], perNeuron: cur))
        } else {
            let (C, H, W) = (snn.inputShape[0], snn.inputShape[1], snn.inputShape[2])
            net.populations[0].rates = (0..<(C * H * W)).map { q in
                let c = q % C, pix = q / C
                return Double(u[(c * H + pix / W) * W + pix % W]) * 1000
            }
        }
        for k in 0..<snn.layers.count {
            let b = snn.biasCurrents(k)
            if b.contains(where: { $0 != 0 }) {
                currents.append(CurrentInput(name: "bias\(k)", population: snn.layers[k].name, times: [0], amplitudes: [1], perNeuron: b))
            }
        }
        // corrected initial potentials (potential correction): a one-step pulse of v0_c − v0 at t = 0
        for (k, l) in snn.layers.enumerated() where !l.initialPotential.isEmpty {
            let v0 = Float(snn.options.initialPotential)
            let d = (0..<l.size).map { l.initialPotential[l.channel(of: $0)] - v0 }
            currents.append(CurrentInput(name: "v0-\(k)", population: l.name, times: [0, 1], amplitudes: [1, 0], perNeuron: d))
        }
        net.currents = currents
        let out = snn.layers.last!
        return SimulationConfig(name: name, network: net, durationMs: Double(timesteps), seed: seed, threads: threads,
                                spikeMonitors: net.populations.map { .init(population: $0.name, neurons: nil) },
                                stateMonitors: [.init(population: out.name, variables: ["v"], neurons: Array(0..<out.size), everyMs: 1)],
                                rateBinMs: 1, ratePopulations: net.populations.map(\.name))
    }

    /// The predicted class after the run: highest output potential (membrane decoding) or most output
    /// spikes (spike decoding, ties by potential).
    public static func prediction(_ snn: ConvertedNetwork, _ sim: Simulator) -> Int {
        let k = sim.network.populations.count - 1
        let v = sim.state(population: k, variable: 0)
        let counts = sim.spikeCounts(population: k)
        var best = 0
        for q in 1..<v.count {
            let better = snn.options.decoding == .membrane ? v[q] > v[best]
                : (counts[q] > counts[best] || (counts[q] == counts[best] && v[q] > v[best]))
            if better { best = q }
        }
        return best
    }
}
