import ANN
import Datasets
import Foundation

/// Potential correction of a converted network (`ConversionOptions.correctionSteps`), in the manner of
/// the layer-wise calibration of Li et al. 2021 ("A free lunch from ANN: towards efficient, accurate
/// spiking neural networks calibration", ICML): the target of a hidden conv/dense layer is the mean
/// rate its ANN activation asks for, r̄_c = mean over images and positions of min(max(a/λ_c, 0), 1);
/// layer by layer, first to last, the converted network (with the corrections found so far) runs T_c
/// steps on the same calibration images, and channel c's initial potential (fraction of the threshold)
/// becomes v0_c + T_c (r̄_c − mean SNN rate_c), clamped to [0, 1). At T_c steps this removes the
/// channel's mean rate deficit exactly (one spike is 1/T_c of rate); its effect on the rate shrinks as
/// 1/T, like the start-up deficit it compensates.
enum PotentialCorrection {
    /// A hidden layer to correct: its name and the per-channel target rate.
    struct Target {
        var name: String
        var rates: [Double]
    }

    /// Target rates of every hidden conv/dense group from the ANN activations of the first `count`
    /// calibration images (`scales`: the group's per-channel or single scale).
    static func targets(_ model: Sequential, groups: [Converter.Group], scales: [[Float]], shapes: [Converter.Tap: [Int]],
                        calibration: LabeledImages, count: Int, threads: Int) -> [Target] {
        let hidden = groups.indices.filter { gi in gi < groups.count - 1 && (groups[gi].kind == .conv || groups[gi].kind == .dense) }
        var sums: [[Double]] = hidden.map { [Double](repeating: 0, count: shapes[groups[$0].activation]![0]) }
        Converter.calibrationBatches(model, calibration, count: count, taps: Set(hidden.map { groups[$0].activation }), threads: threads) { n, acts in
            for (h, gi) in hidden.enumerated() {
                let sh = shapes[groups[gi].activation]!
                let per = sh.dropFirst().reduce(1, *)
                let sc = scales[gi]
                acts[groups[gi].activation]!.withUnsafeBufferPointer { p in
                    for s in 0..<n { for c in 0..<sh[0] {
                        let lam = sc.count == 1 ? sc[0] : sc[c]
                        var acc = 0.0
                        for q in 0..<per { acc += Double(min(max(p[(s * sh[0] + c) * per + q] / lam, 0), 1)) }
                        sums[h][c] += acc
                    } }
                }
            }
        }
        return hidden.enumerated().map { h, gi in
            let sh = shapes[groups[gi].activation]!
            let d = Double(count) * Double(sh.dropFirst().reduce(1, *))
            return Target(name: groups[gi].name, rates: sums[h].map { $0 / d })
        }
    }

    /// Sets the initial potentials of the `targets` layers of `net` (see the type's doc), running the
    /// first `count` calibration images (normalized pixels, converted back to u in [0, 1]) for `steps`.
    static func apply(_ net: inout ConvertedNetwork, targets: [Target], calibration: LabeledImages, count: Int,
                      steps: Int, threads: Int) throws {
        let n = net.inputNormalization
        let u = calibration.pixels[0..<(count * calibration.sampleSize)].map { Float(Double($0) * n.std + n.mean) }
        let top = Float(1).nextDown
        for t in targets {
            guard let k = net.layers.firstIndex(where: { $0.name == t.name }) else { continue }
            let rates = try SpikingClassifier(net).channelRates(layer: k, pixels: u, count: count, steps: steps, threads: threads)
            let l = net.layers[k]
            net.layers[k].initialPotential = (0..<t.rates.count).map { c in
                let v0 = l.initialPotential.isEmpty ? net.options.initialPotential : Double(l.initialPotential[c])
                return min(max(Float(v0 + Double(steps) * (t.rates[c] - rates[c])), 0), top)
            }
        }
    }
}
