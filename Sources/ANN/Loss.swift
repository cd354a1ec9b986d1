import CANN
import Foundation

/// The value of a loss for a batch, its gradient with respect to the network output (when asked for),
/// and the number of correctly classified samples (argmax == label).
public struct LossResult {
    public let loss: Double
    public let gradient: Tensor?
    public let correct: Int
}

/// A training objective on network outputs [N, K] and integer labels, averaged over the batch.
public protocol Loss: Sendable {
    func evaluate(_ output: Tensor, labels: [Int32], gradient: Bool) -> LossResult
}

/// Softmax cross-entropy on logits z [N, K]: L = (1/N) Σ_n (log Σ_k e^{z_nk} − z_{n,y_n});
/// dL/dz = (softmax(z) − onehot(y)) / N. (PyTorch `nn.CrossEntropyLoss`, mean reduction.)
public struct SoftmaxCrossEntropy: Loss {
    public init() {}
    public func evaluate(_ output: Tensor, labels: [Int32], gradient: Bool) -> LossResult {
        precondition(output.rank == 2 && output.shape[0] == labels.count, "SoftmaxCrossEntropy: output \(output.shape), \(labels.count) labels")
        let (n, k) = (output.shape[0], output.shape[1])
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < k }, "SoftmaxCrossEntropy: label outside 0..<\(k)")
        var g: Tensor? = gradient ? Tensor(uninitialized: output.shape) : nil
        var correct: Int64 = 0
        let gp = g?.writePointer()
        let loss = labels.withUnsafeBufferPointer { nm_softmax_xent(output.readPointer, $0.baseAddress, Int32(n), Int32(k), gp, &correct) }
        return LossResult(loss: loss, gradient: g, correct: Int(correct))
    }
}

/// Mean squared error over all elements: L = (1/(N·K)) Σ (y − t)²; dL/dy = 2 (y − t) / (N·K).
/// With labels, the target t is one-hot. (PyTorch `nn.MSELoss`, mean reduction.)
public struct MeanSquaredError: Loss {
    public init() {}

    public func evaluate(_ output: Tensor, target: Tensor, gradient: Bool) -> (loss: Double, gradient: Tensor?) {
        precondition(output.shape == target.shape, "MeanSquaredError: output \(output.shape) vs target \(target.shape)")
        var g: Tensor? = gradient ? Tensor(uninitialized: output.shape) : nil
        let gp = g?.writePointer()
        let loss = nm_mse(output.readPointer, target.readPointer, Int64(output.count), gp)
        return (loss, g)
    }

    public func evaluate(_ output: Tensor, labels: [Int32], gradient: Bool) -> LossResult {
        precondition(output.rank == 2 && output.shape[0] == labels.count, "MeanSquaredError: output \(output.shape), \(labels.count) labels")
        let k = output.shape[1]
        var t = Tensor(zeros: output.shape)
        let tp = t.writePointer()
        for (i, y) in labels.enumerated() { tp[i * k + Int(y)] = 1 }
        let (loss, g) = evaluate(output, target: t, gradient: gradient)
        var pred = [Int32](repeating: 0, count: labels.count)
        nm_argmax_rows(output.readPointer, Int32(labels.count), Int32(k), &pred)
        return LossResult(loss: loss, gradient: g, correct: zip(pred, labels).filter { $0 == $1 }.count)
    }
}
