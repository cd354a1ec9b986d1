import CANN
import Common
import Datasets
import Foundation

/// Result of running a model over a labelled set: accuracy (fraction in [0, 1]), mean loss, and the
/// confusion matrix `confusion[true][predicted]` (counts).
public struct Evaluation: Sendable {
    public let count: Int
    public let correct: Int
    public let loss: Double
    public let confusion: [[Int]]
    /// Wall time of the forward passes, seconds.
    public let seconds: Double
    /// Predicted class of every sample, in data order.
    public let predictions: [Int32]
    /// Network outputs [count, classes] row-major, when `run` was asked to keep them.
    public let outputs: [Float]?

    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : 0 }
    public var imagesPerSecond: Double { seconds > 0 ? Double(count) / seconds : 0 }

    /// Runs `model` in evaluation mode over `data` in batches. Refuses data that does not fit the
    /// model (image shape; a label outside 0..<classes, naming the labels file and index) and outputs
    /// that are not finite (naming the image and the first layer that overflows): an accuracy computed
    /// from NaN outputs would be meaningless. `source` (the model folder) is named in those messages.
    public static func run(_ model: Sequential, on data: LabeledImages, batchSize: Int = 1000, threads: Int = 1,
                           loss: Loss = SoftmaxCrossEntropy(), keepOutputs: Bool = false, source: String = "",
                           progress: ((Int) -> Void)? = nil) throws -> Evaluation {
        let modelName = source.isEmpty ? "the model" : source
        let k = model.classes
        guard data.sampleShape == model.inputShape else {
            throw ANNError.shape("\(data.source.isEmpty ? "the data" : data.source): images have shape \(data.sampleShape), the model expects \(model.inputShape)")
        }
        try data.checkLabels(classes: k, model: modelName)
        let outShape = try? model.spec.shapes().last
        guard outShape == [k] else {
            throw ANNError.shape("the model outputs \(outShape ?? []) per sample, expected [\(k)] (one value per class)")
        }
        let batchSize = max(1, batchSize)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var correct = 0
        var lossSum = 0.0
        var seconds = 0.0
        var done = 0
        var predictions: [Int32] = []
        predictions.reserveCapacity(data.count)
        var outputs: [Float]? = keepOutputs ? [] : nil
        let order = (0..<Int64(data.count)).map { $0 }
        var b = 0
        while b < data.count {
            let e = b + min(batchSize, data.count - b)
            let (x, y) = Batch.make(data, indices: order[b..<e], threads: threads)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let out = model.predict(x, threads: threads)
            seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if let j = out.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                throw ANNError.nonFinite("\(source.isEmpty ? "" : "\(source): ")image \(b + j / k) of \(data.source.isEmpty ? "the data" : data.source): \(overflowSource(model, x, threads: threads)); the model's outputs are not finite\(source.isEmpty ? "" : " (are its weights far too large?)"), so no accuracy can be computed")
            }
            let r = loss.evaluate(out, labels: y, gradient: false)
            lossSum += r.loss * Double(e - b)
            var pred = [Int32](repeating: 0, count: e - b)
            nm_argmax_rows(out.readPointer, Int32(e - b), Int32(out.shape[1]), &pred)
            predictions += pred
            if keepOutputs { outputs! += out.scalars }
            for (p, t) in zip(pred, y) {
                if p == t { correct += 1 }
                if Int(t) < k && Int(p) < k { confusion[Int(t)][Int(p)] += 1 }
            }
            done = e
            progress?(done)
            b = e
        }
        return Evaluation(count: data.count, correct: correct, loss: data.count > 0 ? lossSum / Double(data.count) : 0,
                          confusion: confusion, seconds: seconds, predictions: predictions, outputs: outputs)
    }

    /// The first layer whose output is not finite for batch `x` (or the first non-finite weight).
    static func overflowSource(_ model: Sequential, _ x: Tensor, threads: Int) -> String {
        for (key, p) in model.namedParameters {
            if let j = p.value.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                return "weight '\(key)' holds \(FiniteCheck.describe(p.value[flat: j])) at index \(j)"
            }
        }
        for (i, a) in model.activations(x, threads: threads).enumerated() {
            if let j = a.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                return "the output of layer \(i) (\(model.layers[i].spec.typeName)) overflows to \(FiniteCheck.describe(a[flat: j]))"
            }
        }
        return "the output overflows"
    }

    /// The confusion matrix as aligned text (rows: true class, columns: predicted class).
    public func confusionTable(classNames: [String]? = nil) -> String {
        let k = confusion.count
        let names = classNames ?? (0..<k).map(String.init)
        let w = max(5, (confusion.flatMap { $0 }.max() ?? 0).description.count, names.map(\.count).max() ?? 0) + 1
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        var lines = [pad("true\\pred") + names.map(pad).joined()]
        for i in 0..<k { lines.append(pad(names[i]) + confusion[i].map { pad(String($0)) }.joined()) }
        return lines.joined(separator: "\n")
    }
}

/// Mini-batch assembly: copies the selected images into one NCHW tensor.
public enum Batch {
    public static func make(_ data: LabeledImages, indices: ArraySlice<Int64>, threads: Int) -> (Tensor, [Int32]) {
        var x = Tensor(uninitialized: [indices.count] + data.sampleShape)
        let xp = x.writePointer()
        let idx = Array(indices)
        data.pixels.withUnsafeBufferPointer { src in
            idx.withUnsafeBufferPointer { ip in
                nm_gather_rows(src.baseAddress, ip.baseAddress, Int64(idx.count), Int64(data.sampleSize), xp, Int32(threads))
            }
        }
        return (x, idx.map { data.labels[Int($0)] })
    }
}
