import CANN
import Foundation

/// Heap storage of a `Tensor`: 64-byte aligned float32 elements. Shared between tensors until one
/// of them writes (copy-on-write).
public final class TensorStorage: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard let raw = nm_buffer_alloc(bytes) else { fatalError("Tensor: out of memory (\(bytes) bytes)") }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { nm_buffer_free(pointer, max(count, 1) * MemoryLayout<Float>.stride) }
}

/// An n-dimensional array of Float32, contiguous and row-major (images are NCHW: batch, channels,
/// height, width). Value semantics: copies share storage until one is mutated (copy-on-write).
/// Shapes are checked: a mismatch is a programming error and traps with both shapes in the message.
///
///     var x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
///     x[1, 2] = 0        // x.scalars == [1, 2, 3, 4, 5, 0]
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
        storage.pointer.initialize(repeating: 0, count: storage.count)
    }

    /// A tensor with `values` (row-major); `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "Tensor: \(values.count) values do not fill shape \(shape)")
        self.shape = shape
        storage = TensorStorage(count: values.count)
        values.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: values.count) }
    }

    /// A tensor filled with `value`.
    public init(shape: [Int], repeating value: Float) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
        storage.pointer.initialize(repeating: value, count: storage.count)
    }

    /// An uninitialised tensor whose every element the caller overwrites (used by kernels).
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    /// All elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    public var description: String { "Tensor\(shape)" }

    /// The same elements viewed with another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "Tensor.reshaped: \(shape) has \(count) elements, \(newShape) needs \(newShape.reduce(1, *))")
        var t = self
        t.shape = newShape
        return t
    }

    /// Reads the elements.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Writes the elements (copies the storage first if it is shared).
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Raw pointer for kernels that only read.
    public var readPointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    /// Raw pointer for kernels that write (storage made unique first).
    public mutating func writePointer() -> UnsafeMutablePointer<Float> {
        makeUnique()
        return storage.pointer
    }

    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let s = TensorStorage(count: count)
            s.pointer.initialize(from: storage.pointer, count: count)
            storage = s
        }
    }

    func flatIndex(_ idx: [Int]) -> Int {
        precondition(idx.count == shape.count, "Tensor: index \(idx) has rank \(idx.count), tensor has shape \(shape)")
        var f = 0
        for (i, (k, n)) in zip(idx, shape).enumerated() {
            precondition(k >= 0 && k < n, "Tensor: index \(idx) out of range for shape \(shape) (dimension \(i))")
            f = f * n + k
        }
        return f
    }

    /// Element at a full index (e.g. `t[n, c, h, w]`).
    public subscript(_ idx: Int...) -> Float {
        get { storage.pointer[flatIndex(idx)] }
        set { let f = flatIndex(idx); makeUnique(); storage.pointer[f] = newValue }
    }

    /// Element at a flat row-major offset.
    public subscript(flat i: Int) -> Float {
        get { precondition(i >= 0 && i < count, "Tensor: flat index \(i) out of range 0..<\(count)"); return storage.pointer[i] }
        set { precondition(i >= 0 && i < count, "Tensor: flat index \(i) out of range 0..<\(count)"); makeUnique(); storage.pointer[i] = newValue }
    }

    /// Rows `range` of the first dimension (a copy).
    public func slice(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "Tensor.slice: \(range) out of 0..<\(shape.first ?? 0)")
        let row = count / max(shape[0], 1)
        var s = shape
        s[0] = range.count
        let t = Tensor(uninitialized: s)
        t.storage.pointer.initialize(from: storage.pointer + range.lowerBound * row, count: range.count * row)
        return t
    }

    /// True when shapes match and elements are bit-identical.
    public func bitwiseEqual(_ other: Tensor) -> Bool {
        shape == other.shape && memcmp(storage.pointer, other.storage.pointer, count * 4) == 0
    }
}
