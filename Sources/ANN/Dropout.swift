import CCore
import CANN
import Foundation

/// Inverted dropout (PyTorch `nn.Dropout`): in training, each element is zeroed with probability `p`
/// and survivors are scaled by 1/(1 − p); in evaluation it is the identity. The mask of element i at
/// step s is a hash of (seed, s, layer index, i): reproducible, independent of threads, resumable.
public final class Dropout: Layer {
    public let p: Double
    private var mask: Tensor?

    public init(p: Double) {
        precondition(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got \(p)")
        self.p = p
    }

    public var spec: LayerSpec { .dropout(p: p) }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard ctx.training else { mask = nil; return x }
        var y = Tensor(uninitialized: x.shape)
        var m = Tensor(uninitialized: x.shape)
        let key = nm_splitmix64(ctx.seed &+ 0x44524F50) ^ nm_splitmix64(ctx.step &* 0x9E37_79B9 &+ UInt64(ctx.layerIndex))
        nm_dropout_forward(x.readPointer, y.writePointer(), m.writePointer(), Int64(x.count), Float(p), key, Int32(ctx.threads))
        mask = m
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let m = mask else { preconditionFailure("Dropout.backward without a training-mode forward") }
        precondition(dy.shape == m.shape, "Dropout.backward: dy \(dy.shape), expected \(m.shape)")
        mask = nil
        guard needInputGradient else { return nil }
        var dx = Tensor(uninitialized: dy.shape)
        nm_mul(dy.readPointer, m.readPointer, dx.writePointer(), Int64(dy.count), Int32(threads))
        return dx
    }
}
