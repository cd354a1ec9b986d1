import CANN
import Foundation

/// A classification data set in memory: `count` images of shape `sampleShape` = [C, H, W]
/// (float32, row-major, already normalised) and their integer labels in `0..<classCount`.
public struct LabeledImages: Sendable {
    /// Per-image shape [C, H, W].
    public let sampleShape: [Int]
    /// Pixels, `count * C * H * W` floats, image after image.
    public let pixels: [Float]
    public let labels: [Int32]
    public let classCount: Int
    /// Where the data came from (for messages and reports): the images file.
    public let source: String
    /// The labels file (named when a label is out of range).
    public let labelsSource: String

    public var count: Int { labels.count }
    public var sampleSize: Int { sampleShape.reduce(1, *) }

    public init(sampleShape: [Int], pixels: [Float], labels: [Int32], classCount: Int, source: String = "", labelsSource: String? = nil) {
        precondition(pixels.count == labels.count * sampleShape.reduce(1, *), "LabeledImages: pixel count does not match labels x shape")
        self.sampleShape = sampleShape
        self.pixels = pixels
        self.labels = labels
        self.classCount = classCount
        self.source = source
        self.labelsSource = labelsSource ?? source
    }

    /// Builds from raw IDX arrays: images [N, H, W] (or [N, C, H, W]) of unsigned bytes and labels [N].
    public init(images: IDXFile, labels: IDXFile, normalization: Normalization, limit: Int? = nil,
                imagesPath: String = "images", labelsPath: String = "labels", threads: Int = 1) throws {
        guard images.type == .uint8, images.shape.count == 3 || images.shape.count == 4 else {
            throw DatasetError.corrupt(path: imagesPath, reason: "expected unsigned-byte images with 3 or 4 dimensions, found \(images.type) \(images.shape)")
        }
        guard labels.type == .uint8, labels.shape.count == 1 else {
            throw DatasetError.corrupt(path: labelsPath, reason: "expected unsigned-byte labels with 1 dimension, found \(labels.type) \(labels.shape)")
        }
        guard images.shape[0] == labels.shape[0] else {
            throw DatasetError.mismatch("\(imagesPath) has \(images.shape[0]) images but \(labelsPath) has \(labels.shape[0]) labels")
        }
        if let p = normalization.problem { throw DatasetError.mismatch("pixel normalization: \(p)") }
        guard images.shape[0] > 0 else { throw DatasetError.corrupt(path: imagesPath, reason: "holds no images (shape \(images.shape))") }
        guard images.shape.dropFirst().allSatisfy({ $0 > 0 }) else {
            throw DatasetError.corrupt(path: imagesPath, reason: "image dimensions must be > 0, found shape \(images.shape)")
        }
        if let limit, limit <= 0 { throw DatasetError.mismatch("the sample limit must be > 0, found \(limit)") }
        let n = min(images.shape[0], limit ?? Int.max)
        let shape = images.shape.count == 3 ? [1, images.shape[1], images.shape[2]] : Array(images.shape[1...])
        let size = shape.reduce(1, *)   // bounded: the payload of n·size bytes was read
        var px = [Float](repeating: 0, count: n * size)
        images.payload.withUnsafeBytes { raw in
            px.withUnsafeMutableBufferPointer { out in
                nm_bytes_to_float(raw.bindMemory(to: UInt8.self).baseAddress, out.baseAddress, Int64(n * size),
                                  Float(normalization.scale), Float(normalization.mean), Float(normalization.std), Int32(threads))
            }
        }
        let lab = labels.payload.prefix(n).map { Int32($0) }
        let classes = Int(lab.max() ?? 0) + 1
        self.init(sampleShape: shape, pixels: px, labels: lab, classCount: max(classes, 10), source: imagesPath, labelsSource: labelsPath)
    }

    /// Checks that every label is a class of a model with `classes` outputs; the error names the labels
    /// file, the first offending index and its label, and `model` (who expects `classes`).
    public func checkLabels(classes: Int, model: String) throws {
        if let (i, l) = firstLabel(notBelow: classes) {
            throw DatasetError.corrupt(path: labelsSource, reason: "label \(l) at index \(i) is not a class of \(model), which has \(classes) classes (labels 0...\(classes - 1))")
        }
    }

    /// The first sample whose label is negative or >= `classes` (index, label), or nil.
    public func firstLabel(notBelow classes: Int) -> (index: Int, label: Int32)? {
        labels.withUnsafeBufferPointer { p -> (Int, Int32)? in
            for i in 0..<p.count where p[i] < 0 || Int(p[i]) >= classes { return (i, p[i]) }
            return nil
        }
    }

    /// The first `n` samples (or all when `n` is nil or larger).
    public func prefix(_ n: Int?) -> LabeledImages {
        guard let n, n < count else { return self }
        return LabeledImages(sampleShape: sampleShape, pixels: Array(pixels[0..<n * sampleSize]),
                             labels: Array(labels[0..<n]), classCount: classCount, source: source, labelsSource: labelsSource)
    }
}
