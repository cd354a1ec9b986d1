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

    public init(model: Sequential, options: TrainingOptions, threads: Int = 1) {
        self.model = model
        self.options = options
        self.loss = options.loss.make()
        self.optimizer = options.optimizer.make()
        self.threads = max(1, threads)
    }

    /// One optimisation step on a batch; returns the loss result (before the update).
    @discardableResult
    public func step(_ x: Tensor, _ labels: [Int32]) -> LossResult {
        let ctx = ForwardContext(training: true, threads: threads, seed: options.seed, step: UInt64(optimizer.stepCount))
        let out = model.forward(x, ctx)
        let r = loss.evaluate(out, labels: labels, gradient: true)
        model.backward(r.gradient!, threads: threads)
        optimizer.step(model.namedParameters.map(\.parameter), threads: threads)
        return r
    }

    /// Trains epoch `epoch` (0-based) over `data`; the learning rate is set from the schedule first.
    public func trainEpoch(_ epoch: Int, data: LabeledImages, onBatch: ((BatchProgress) -> Void)? = nil) -> EpochStats {
        optimizer.learningRate = options.schedule.learningRate(base: options.optimizer.learningRate, epoch: epoch)
        let schedule = BatchSchedule(count: data.count, batchSize: options.batchSize, shuffle: options.shuffle,
                                     seed: options.seed, epoch: epoch)
        let start = DispatchTime.now().uptimeNanoseconds
        var lossSum = 0.0, correct = 0, seen = 0
        for b in 0..<schedule.batchCount {
            let (x, y) = Batch.make(data, indices: schedule.batch(b), threads: threads)
            let r = step(x, y)
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
