import Common
import Datasets
import Foundation

/// Mini-batch training of a `Sequential`: forward (training mode), loss, backward, optimiser step.
/// Deterministic: the batch order comes from (seed, epoch), Dropout from (seed, step, layer), and every
/// kernel's reductions run in a fixed order, so the weights after k epochs are bit-identical for any
/// thread count and for a run resumed from a checkpoint.
public final class Trainer {
    public let model: Sequential
    public let loss: Loss
    public let optimizer: Optimizer
    public let options: TrainingOptions
    public var threads: Int

    /// Progress inside an epoch (for progress displays).
    public struct BatchProgress {
        public let batch: Int
        public let batches: Int
        public let samples: Int
        public let meanLoss: Double
        public let accuracy: Double
        public let seconds: Double
    }

    /// Result of one training epoch (loss and accuracy averaged over its samples).
    public struct EpochStats {
        public let loss: Double
        public let accuracy: Double
        public let samples: Int
        public let seconds: Double
        public var samplesPerSecond: Double { seconds > 0 ? Double(samples) / seconds : 0 }
    }

    /// Where warnings go (a loss that explodes). Default: a line on stderr.
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    /// A batch loss this many times the first batch's loss is reported as an explosion (once per run).
    public static let explosionFactor = 100.0
    /// Loss of the first batch this trainer saw (reference for the explosion warning).
    public private(set) var firstLoss: Double?
    private var warnedExplosion = false

    public init(model: Sequential, options: TrainingOptions, threads: Int = 1) {
        self.model = model
        self.options = options
        self.loss = options.loss.make()
        self.optimizer = options.optimizer.make()
        self.threads = max(1, threads)
    }

    /// Where a step is, for messages: epoch and batch (1-based) and the batch count.
    public struct Position: Sendable {
        public var epoch: Int
        public var batch: Int
        public var batches: Int
        public init(epoch: Int, batch: Int, batches: Int) { self.epoch = epoch; self.batch = batch; self.batches = batches }
        var text: String { "epoch \(epoch), batch \(batch) of \(batches)" }
    }

    /// One optimisation step on a batch; returns the loss result (before the update).
    /// Stops with `ANNError.nonFinite` naming `at` (epoch, batch) and the layer when the loss, a
    /// gradient, an updated weight or the optimiser's state is NaN or infinite, and with `ANNError.shape` when the batch does
    /// not fit the model (input shape, labels outside 0..<classes). The weights are left as they were
    /// when the loss or a gradient is not finite; an update that made them non-finite is reported after
    /// it happened.
    @discardableResult
    public func step(_ x: Tensor, _ labels: [Int32], at position: Position? = nil) throws -> LossResult {
        let at = position?.text ?? "step \(optimizer.stepCount + 1)"
        guard x.rank >= 1, Array(x.shape.dropFirst()) == model.inputShape, x.shape[0] == labels.count else {
            throw ANNError.shape("\(at): the batch is \(x.shape) with \(labels.count) labels, the model expects [N] + \(model.inputShape) and N labels")
        }
        let k = model.classes
        if let i = labels.firstIndex(where: { $0 < 0 || Int($0) >= k }) {
            throw ANNError.shape("\(at): label \(labels[i]) of sample \(i) is outside the model's \(k) classes (0...\(k - 1))")
        }
        let ctx = ForwardContext(training: true, threads: threads, seed: options.seed, step: UInt64(optimizer.stepCount))
        let out = model.forward(x, ctx)
        guard out.rank == 2, out.shape[1] == k else {
            throw ANNError.shape("\(at): the model outputs \(out.shape), expected [N, \(k)] (one value per class)")
        }
        let r = loss.evaluate(out, labels: labels, gradient: true)
        guard r.loss.isFinite else {
            throw ANNError.nonFinite("\(at): the loss is \(r.loss.isNaN ? "NaN" : "infinite"); \(nonFiniteSource(x)); training stopped\(lrHint)")
        }
        noteLoss(r.loss, at: at)
        model.backward(r.gradient!, threads: threads)
        let named = model.namedParameters
        for (key, p) in named {
            if let j = p.grad.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                throw ANNError.nonFinite("\(at): the gradient of '\(key)' (\(layerName(key))) is \(FiniteCheck.describe(p.grad[flat: j])) at index \(j); training stopped\(lrHint)")
            }
        }
        optimizer.step(named.map(\.parameter), threads: threads)
        for (key, p) in named {
            if let j = p.value.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                throw ANNError.nonFinite("\(at): the update made '\(key)' (\(layerName(key))) \(FiniteCheck.describe(p.value[flat: j])) at index \(j); training stopped\(lrHint)")
            }
        }
        // a finite gradient can still overflow the optimiser's state (Adam's squared-gradient average of a
        // gradient beyond 1.8e19): the weights would stop moving and the checkpoint hold ±inf
        if let s = optimizer.firstNonFiniteState(), s.parameter < named.count {
            let (key, p) = named[s.parameter]
            throw ANNError.nonFinite("\(at): the optimizer's \(s.buffer) of '\(key)' (\(layerName(key))) became \(FiniteCheck.describe(s.value)) at index \(s.index) (its gradient there is \(p.grad[flat: s.index])); training stopped\(lrHint)")
        }
        return r
    }

    /// "layer 3 (dense)" for a state-dict key "3.weight".
    func layerName(_ key: String) -> String {
        guard let i = key.split(separator: ".").first.flatMap({ Int($0) }), i < model.layers.count else { return key }
        return "layer \(i), \(model.layers[i].spec.typeName)"
    }

    var lrHint: String {
        String(format: " (learning rate %g%@)", optimizer.learningRate, optimizer.learningRate > 0.1 ? ": try a lower one, e.g. 1e-3" : "; try a lower one")
    }

    /// Which layer first produced a non-finite value for batch `x` (evaluation-mode forward pass), or
    /// which weights are not finite: for the message of a non-finite loss.
    func nonFiniteSource(_ x: Tensor) -> String {
        for (key, p) in model.namedParameters {
            if let j = p.value.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                return "'\(key)' (\(layerName(key))) holds \(FiniteCheck.describe(p.value[flat: j])) at index \(j)"
            }
        }
        let acts = model.activations(x, threads: threads)
        for (i, a) in acts.enumerated() {
            if let j = a.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                return "the output of layer \(i) (\(model.layers[i].spec.typeName)) is the first to overflow (\(FiniteCheck.describe(a[flat: j])) at index \(j))"
            }
        }
        return "the network outputs are too large for the loss (layer \(model.layers.count - 1), \(model.layers.last!.spec.typeName))"
    }

    /// Keeps the first loss and warns once when a later batch loss exceeds it by `explosionFactor`.
    func noteLoss(_ l: Double, at: String) {
        guard let first = firstLoss else { firstLoss = l; return }
        if !warnedExplosion && first > 0 && l > Self.explosionFactor * first {
            warnedExplosion = true
            warn(String(format: "%@: the training loss exploded to %.3g, %.2g times its first value %.3g; the learning rate %g is probably too high (try a lower one, e.g. 1e-3)",
                        at, l, l / first, first, optimizer.learningRate))
        }
    }

    /// Trains epoch `epoch` (0-based) over `data`; the learning rate is set from the schedule first.
    /// Refuses data that does not fit the model (image shape, labels outside 0..<classes, naming the
    /// labels file and index) and stops on a non-finite loss, gradient or weight (see `step`).
    public func trainEpoch(_ epoch: Int, data: LabeledImages, onBatch: ((BatchProgress) -> Void)? = nil) throws -> EpochStats {
        guard data.sampleShape == model.inputShape else {
            throw ANNError.shape("\(data.source.isEmpty ? "the training data" : data.source): images have shape \(data.sampleShape), the model expects \(model.inputShape)")
        }
        try data.checkLabels(classes: model.classes, model: "the model")
        optimizer.learningRate = options.schedule.learningRate(base: options.optimizer.learningRate, epoch: epoch)
        let schedule = BatchSchedule(count: data.count, batchSize: options.batchSize, shuffle: options.shuffle,
                                     seed: options.seed, epoch: epoch)
        let start = DispatchTime.now().uptimeNanoseconds
        var lossSum = 0.0, correct = 0, seen = 0
        for b in 0..<schedule.batchCount {
            let (x, y) = Batch.make(data, indices: schedule.batch(b), threads: threads)
            let r = try step(x, y, at: Position(epoch: epoch + 1, batch: b + 1, batches: schedule.batchCount))
            lossSum += r.loss * Double(y.count)
            correct += r.correct
            seen += y.count
            if let onBatch {
                let t = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                onBatch(BatchProgress(batch: b + 1, batches: schedule.batchCount, samples: seen, meanLoss: lossSum / Double(seen),
                                      accuracy: Double(correct) / Double(seen), seconds: t))
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return EpochStats(loss: seen > 0 ? lossSum / Double(seen) : 0, accuracy: seen > 0 ? Double(correct) / Double(seen) : 0,
                          samples: seen, seconds: seconds)
    }
}
