import ANN
import Datasets
import Foundation
import Testing
@testable import Conversion

/// End to end on Fashion-MNIST (small subsets, CI-sized): train a CNN briefly, convert it, compare.
/// The SNN must track the ANN: within 2 points at T = 64 and agree with most of its predictions.
@Test func fashionMNISTTrainConvertCompare() throws {
    let ds = IDXDataset()
    let norm = Normalization.fashionMNIST
    let train = try ds.load(.train, normalization: norm, limit: 3000, threads: 2)
    let test = try ds.load(.test, normalization: norm, limit: 300, threads: 2)
    let spec = ModelSpec(inputShape: [1, 28, 28], layers: [
        .conv2d(inChannels: 1, outChannels: 6, kernel: Size2(5), stride: Size2(1), padding: Size2(0), bias: true), .relu,
        .avgPool2d(kernel: Size2(2), stride: Size2(2)), .flatten,
        .dense(inFeatures: 6 * 12 * 12, outFeatures: 10, bias: true),
    ], normalization: norm, classes: 10)
    let model = try Sequential(spec: spec, seed: 1)
    let trainer = Trainer(model: model, options: TrainingOptions(epochs: 1, batchSize: 64, seed: 1), threads: 2)
    _ = try trainer.trainEpoch(0, data: train)
    var opts = ConversionOptions()
    opts.calibrationImages = 500
    let snn = try Converter.convert(model, calibration: train, options: opts, threads: 2)
    let raw = test.pixels.map { Float(Double($0) * norm.std + norm.mean) }
    let c = try Comparison.run(model: model, converted: snn, images: test, rawPixels: raw, timesteps: [8, 64], threads: 2)
    #expect(c.ann_accuracy > 0.70, "ANN trained on 3000 images should exceed 70%: \(c.ann_accuracy)")
    let at64 = c.snn[1]
    #expect(at64.accuracy > c.ann_accuracy - 0.02, "SNN \(at64.accuracy) vs ANN \(c.ann_accuracy) at T = 64")
    #expect(at64.agreement_with_ann > 0.95)
    #expect(c.snn[0].sops_per_image < at64.sops_per_image)
    let convMacs: Int64 = 6 * 24 * 24 * 25
    let denseMacs: Int64 = 864 * 10
    #expect(c.macs_per_image == convMacs + denseMacs)
}
