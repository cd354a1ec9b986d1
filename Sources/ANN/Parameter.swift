import Foundation

/// A trainable tensor and its gradient. `name` is the PyTorch attribute name ("weight", "bias"); the
/// full state-dict key is "<layer index>.<name>". `grad` has the shape of `value` and is overwritten
/// (not accumulated) by each `backward`.
public final class Parameter {
    public internal(set) var name: String
    public var value: Tensor
    public var grad: Tensor

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.grad = Tensor(zeros: value.shape)
    }
}
