import Foundation

/// Which optimiser to build, with its hyper-parameters (PyTorch defaults where not given).
public enum OptimizerSpec: Equatable, Sendable, CustomStringConvertible {
    case sgd(learningRate: Double, momentum: Double, weightDecay: Double, nesterov: Bool)
    case adam(learningRate: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double)
    case rmsprop(learningRate: Double, alpha: Double, eps: Double, weightDecay: Double, momentum: Double)

    public var learningRate: Double {
        switch self {
        case let .sgd(lr, _, _, _), let .adam(lr, _, _, _, _), let .rmsprop(lr, _, _, _, _): return lr
        }
    }

    public func make() -> Optimizer {
        switch self {
        case let .sgd(lr, m, wd, n): return SGD(learningRate: lr, momentum: m, weightDecay: wd, nesterov: n)
        case let .adam(lr, b1, b2, e, wd): return Adam(learningRate: lr, beta1: b1, beta2: b2, eps: e, weightDecay: wd)
        case let .rmsprop(lr, a, e, wd, m): return RMSprop(learningRate: lr, alpha: a, eps: e, weightDecay: wd, momentum: m)
        }
    }

    public var description: String {
        switch self {
        case let .sgd(lr, m, wd, n): return "sgd(lr=\(lr), momentum=\(m), weight_decay=\(wd), nesterov=\(n))"
        case let .adam(lr, b1, b2, e, wd): return "adam(lr=\(lr), betas=(\(b1), \(b2)), eps=\(e), weight_decay=\(wd))"
        case let .rmsprop(lr, a, e, wd, m): return "rmsprop(lr=\(lr), alpha=\(a), eps=\(e), weight_decay=\(wd), momentum=\(m))"
        }
    }
}

/// Training loss choice.
public enum LossKind: String, Sendable, CaseIterable {
    case crossEntropy = "cross_entropy", mse
    public func make() -> Loss { self == .crossEntropy ? SoftmaxCrossEntropy() : MeanSquaredError() }
}

/// Everything that decides a training run's result besides the architecture and data: with the same
/// options, seed and data, the final weights are bit-identical on any thread count.
public struct TrainingOptions: Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var seed: UInt64
    public var optimizer: OptimizerSpec
    public var schedule: LearningRateSchedule
    public var loss: LossKind
    public var initializer: WeightInit
    /// Shuffle the training set each epoch (permutation from (seed, epoch)).
    public var shuffle: Bool
    /// Batch size for evaluation (does not change results).
    public var evalBatchSize: Int

    public init(epochs: Int = 10, batchSize: Int = 64, seed: UInt64 = 1,
                optimizer: OptimizerSpec = .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0),
                schedule: LearningRateSchedule = .constant, loss: LossKind = .crossEntropy, initializer: WeightInit = .heNormal,
                shuffle: Bool = true, evalBatchSize: Int = 1000) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.optimizer = optimizer
        self.schedule = schedule
        self.loss = loss
        self.initializer = initializer
        self.shuffle = shuffle
        self.evalBatchSize = evalBatchSize
    }

    /// A text that changes whenever a result-relevant option changes, except the epoch count
    /// (checkpoints made with other options are refused on resume).
    public var fingerprint: String {
        "batch=\(batchSize) seed=\(seed) opt=\(optimizer) schedule=\(schedule) loss=\(loss.rawValue) init=\(initializer.rawValue) shuffle=\(shuffle)"
    }
}
