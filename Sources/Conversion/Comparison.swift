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

    public var source: String
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
                           timesteps: [Int], threads: Int, energy: EnergyModel = EnergyModel(), seed: UInt64 = 1,
                           progress: ((String, Double) -> Void)? = nil) throws -> Comparison {
        let n = images.count
        if let p = energy.problem { throw ConversionError("energy model: \(p)") }
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
        return Comparison(source: converted.source, images: n, ann_accuracy: Double(correct) / Double(max(n, 1)),
                          ann_images_per_second: Double(n) / max(annSeconds, 1e-9), macs_per_image: macs,
                          first_layer_macs_per_image: firstMacs, energy_model: energy, options: converted.options,
                          layers: layers, snn: snn, threads: ev.threads, snn_wall_seconds: ev.wallSeconds)
    }
}
