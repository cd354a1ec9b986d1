import ANN
import Common
import Datasets
import Foundation
import SNN

/// ANN vs converted SNN on the same images: accuracy, operations and estimated energy
/// (`report.json` of `neuromorph compare`; keys are snake_case for scripts).
public struct Comparison: Codable, Sendable {
    public struct LayerInfo: Codable, Sendable {
        public var name: String
        public var kind: String
        public var neurons: Int
        public var macs_per_image: Int64
        /// Mean normalization scale of the layer (activation that maps to one spike per step).
        public var scale_mean: Double
    }
    public struct AtT: Codable, Sendable {
        public var timesteps: Int
        public var accuracy: Double
        public var spikes_per_image: Double
        public var sops_per_image: Double
        public var images_per_second: Double
        public var spikes_per_layer: [Double]
        public var sops_per_layer: [Double]
        public var input_spikes_per_image: Double
        /// SOPs / ANN MACs (both per image).
        public var sops_per_mac: Double
        /// Energy estimates per image (µJ): SNN counting only synaptic operations (adds); SNN plus the
        /// first layer computed as MACs (analog input: once per image); ANN (all MACs).
        public var energy_snn_uj: Double
        public var energy_snn_with_first_layer_uj: Double
        public var energy_ann_uj: Double
        /// energy_snn_with_first_layer_uj / energy_ann_uj.
        public var energy_ratio: Double
        /// Fraction of images on which the SNN predicts the ANN's class.
        public var agreement_with_ann: Double
    }

    /// Energy per image under one named profile (`EnergyProfile`), per evaluated T.
    public struct ProfileEnergy: Codable, Sendable {
        public var profile: EnergyProfile
        public var energy_ann_uj: Double
        /// Same order as `snn` (one value per T).
        public var energy_snn_uj: [Double]
        /// energy_snn_uj / energy_ann_uj per T.
        public var ratio: [Double]
        /// Smallest evaluated T at which the SNN needs at least the ANN's energy (nil: saves at every T).
        public var stops_saving_at: Int?
        /// T where SNN and ANN energies are equal, by linear interpolation between evaluated T (or linear
        /// extrapolation from the last two when the SNN saves at every T); nil when it cannot be
        /// estimated (the SNN never saves, or the energy does not grow with T).
        public var break_even_t: Double?
        public var break_even_extrapolated: Bool
    }

    public var source: String
    /// How the scales were chosen (percentile calibration or QCFS thresholds).
    public var recipe: ConversionRecipe = .percentile
    /// Energy under each requested profile (`compare --energy-model`).
    public var energy_profiles: [ProfileEnergy] = []
    public var images: Int
    public var ann_accuracy: Double
    public var ann_images_per_second: Double
    public var macs_per_image: Int64
    public var first_layer_macs_per_image: Int64
    public var energy_model: EnergyModel
    public var options: ConversionOptions
    public var layers: [LayerInfo]
    public var snn: [AtT]
    public var threads: Int
    /// Wall time of the whole SNN evaluation (one run per image to the largest T).
    public var snn_wall_seconds: Double
    /// Vector path of the spiking engine's kernels ("avx512", "avx2" or "baseline"; `NM_ISA` chooses it).
    public var isa: String = VectorPath.current
    /// CPU model name.
    public var cpu: String = VectorPath.cpuModel

    /// Evaluates the ANN and the SNN on `images` (normalized per the model for the ANN; raw [0, 1]
    /// pixels for the SNN) and assembles the comparison.
    public static func run(model: Sequential, converted: ConvertedNetwork, images: LabeledImages, rawPixels: [Float],
                           timesteps: [Int], threads: Int, energy: EnergyModel = EnergyModel(),
                           profiles: [EnergyProfile] = EnergyProfile.all, seed: UInt64 = 1,
                           progress: ((String, Double) -> Void)? = nil) throws -> Comparison {
        let n = images.count
        if let p = energy.problem { throw ConversionError("energy model: \(p)") }
        if let p = profiles.lazy.compactMap(\.problem).first { throw ConversionError("energy model: \(p)") }
        guard converted.inputShape == model.inputShape else {
            throw ConversionError("the converted network expects images of shape \(converted.inputShape), the model \(model.inputShape): was it converted from another model?")
        }
        guard images.sampleShape == model.inputShape else {
            throw ConversionError("\(images.source.isEmpty ? "the images" : images.source): the images have shape \(images.sampleShape), the model and the converted network expect \(model.inputShape) (use the data set the model was trained on)")
        }
        guard converted.classes == model.classes, converted.layers.last?.size == model.classes else {
            throw ConversionError("the converted network has \(converted.layers.last?.size ?? 0) output neurons (classes \(converted.classes)), the model \(model.classes) classes: was it converted from another model?")
        }
        guard rawPixels.count == images.pixels.count else {
            throw ConversionError("\(rawPixels.count) raw pixels for \(images.count) images of \(images.sampleShape)")
        }
        try images.checkLabels(classes: model.classes, model: "the model")
        // ANN
        let t0 = Date()
        var annPred = [Int32](repeating: 0, count: n)
        var correct = 0
        let batch = 256
        var s = 0
        while s < n {
            let m = min(batch, n - s)
            let x = Tensor(shape: [m] + images.sampleShape, values: Array(images.pixels[(s * images.sampleSize)..<((s + m) * images.sampleSize)]))
            let y = model.predict(x, threads: threads)
            if let j = y.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                throw ConversionError("image \(s + j / max(y.shape[1], 1)): the model's output is not finite (its weights overflow); no comparison is possible")
            }
            let c = y.shape[1]
            y.withUnsafeBufferPointer { p in
                for i in 0..<m {
                    var best = 0
                    for k in 1..<c where p[i * c + k] > p[i * c + best] { best = k }
                    annPred[s + i] = Int32(best)
                    if Int32(best) == images.labels[s + i] { correct += 1 }
                }
            }
            s += m
        }
        let annSeconds = Date().timeIntervalSince(t0)
        // SNN
        let clf = try SpikingClassifier(converted, seed: seed)
        let ev = try clf.evaluate(pixels: rawPixels, labels: images.labels, timesteps: timesteps, threads: threads) { done in
            progress?("SNN", Double(done) / Double(max(n, 1)))
        }
        let macs = converted.layers.reduce(Int64(0)) { $0 + $1.macs }
        let firstMacs = converted.options.encoding == .analog ? converted.layers[0].macs : 0
        let annEnergy = Double(macs) * energy.macPicojoules * 1e-6
        let snn = ev.results.map { r -> AtT in
            let e1 = r.sopsPerImage * energy.addPicojoules * 1e-6
            let e2 = e1 + Double(firstMacs) * energy.macPicojoules * 1e-6
            let agree = zip(r.predictions, annPred).filter { $0 == $1 }.count
            return AtT(timesteps: r.timesteps, accuracy: r.accuracy, spikes_per_image: r.spikesPerImage, sops_per_image: r.sopsPerImage,
                       images_per_second: ev.imagesPerSecond, spikes_per_layer: r.spikesPerLayer, sops_per_layer: r.sopsPerLayer,
                       input_spikes_per_image: r.inputSpikes, sops_per_mac: r.sopsPerImage / Double(max(macs, 1)),
                       energy_snn_uj: e1, energy_snn_with_first_layer_uj: e2, energy_ann_uj: annEnergy,
                       energy_ratio: e2 / max(annEnergy, 1e-30), agreement_with_ann: Double(agree) / Double(max(n, 1)))
        }
        let layers = converted.layers.map {
            LayerInfo(name: $0.name, kind: $0.kind.rawValue, neurons: $0.size, macs_per_image: $0.macs,
                      scale_mean: Double($0.scale.reduce(0, +)) / Double(max($0.scale.count, 1)))
        }
        let neurons = Double(converted.layers.reduce(0) { $0 + $1.size })
        let annOutputs = Double(converted.layers.filter { $0.kind == .conv || $0.kind == .dense }.reduce(0) { $0 + $1.size })
        let firstOutputs = converted.options.encoding == .analog ? Double(converted.layers[0].size) : 0
        let perProfile = profiles.map { p -> ProfileEnergy in
            var ann = 0.0
            let e = snn.map { r -> Double in
                let c = EnergyProfile.Counts(macs: Double(macs), annOutputs: annOutputs, sops: r.sops_per_image, spikes: r.spikes_per_image,
                                             neurons: neurons, timesteps: Double(r.timesteps), firstLayerMacs: Double(firstMacs),
                                             firstLayerOutputs: firstOutputs)
                let (a, s) = p.estimate(c)
                ann = a
                return s
            }
            let ratio = e.map { $0 / max(ann, 1e-30) }
            let (stop, be, extra) = breakEven(timesteps: snn.map(\.timesteps), ratio: ratio)
            return ProfileEnergy(profile: p, energy_ann_uj: ann, energy_snn_uj: e, ratio: ratio, stops_saving_at: stop,
                                 break_even_t: be, break_even_extrapolated: extra)
        }
        return Comparison(source: converted.source, recipe: converted.recipe, energy_profiles: perProfile, images: n, ann_accuracy: Double(correct) / Double(max(n, 1)),
                          ann_images_per_second: Double(n) / max(annSeconds, 1e-9), macs_per_image: macs,
                          first_layer_macs_per_image: firstMacs, energy_model: energy, options: converted.options,
                          layers: layers, snn: snn, threads: ev.threads, snn_wall_seconds: ev.wallSeconds)
    }

    /// The first evaluated T (ascending) with ratio >= 1, and the T where the ratio crosses 1: linear
    /// interpolation between the neighbouring evaluated T, or extrapolation from the last two when
    /// every ratio is < 1 (flagged). nil when the ratio is >= 1 already at the smallest T or does not
    /// grow.
    static func breakEven(timesteps ts: [Int], ratio r: [Double]) -> (Int?, Double?, Bool) {
        guard !ts.isEmpty, ts.count == r.count else { return (nil, nil, false) }
        if let k = r.firstIndex(where: { $0 >= 1 }) {
            guard k > 0 else { return (ts[0], nil, false) }
            let (t0, t1, r0, r1) = (Double(ts[k - 1]), Double(ts[k]), r[k - 1], r[k])
            return (ts[k], t0 + (1 - r0) * (t1 - t0) / (r1 - r0), false)
        }
        guard ts.count >= 2 else { return (nil, nil, false) }
        let n = ts.count
        let (t0, t1, r0, r1) = (Double(ts[n - 2]), Double(ts[n - 1]), r[n - 2], r[n - 1])
        guard r1 > r0 else { return (nil, nil, false) }
        return (nil, t1 + (1 - r1) * (t1 - t0) / (r1 - r0), true)
    }
}
