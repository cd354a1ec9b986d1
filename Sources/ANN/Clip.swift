import Foundation

/// Clipped linear unit, elementwise: y = min(max(x, lower), upper) (PyTorch `nn.Hardtanh(lower, upper)`;
/// `nn.ReLU6` is lower 0, upper 6; ONNX `Clip`). dL/dx = dL/dy where lower < x < upper, else 0.
/// With lower = 0 it is a ReLU with a ceiling, which the converter maps to an IF neuron whose
/// normalization scale is at most `upper` (rate 1 = the ceiling).
public final class Clip: Layer {
    public let lower: Float
    public let upper: Float
    private var input: Tensor?

    public init(lower: Float, upper: Float) {
        self.lower = lower
        self.upper = upper
    }

    public var spec: LayerSpec { .clip(min: Double(lower), max: Double(upper)) }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        var y = Tensor(uninitialized: x.shape)
        let (lo, hi) = (lower, upper)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for i in 0..<xp.count { yp[i] = min(max(xp[i], lo), hi) }
            }
        }
        input = ctx.training ? x : nil
        return y
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        guard let x = input else { preconditionFailure("Clip.backward without a training-mode forward") }
        precondition(dy.shape == x.shape, "Clip.backward: dy \(dy.shape), expected \(x.shape)")
        input = nil
        guard needInputGradient else { return nil }
        var dx = Tensor(uninitialized: x.shape)
        let (lo, hi) = (lower, upper)
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { gp in
                dx.withUnsafeMutableBufferPointer { dp in
                    for i in 0..<xp.count { dp[i] = xp[i] > lo && xp[i] < hi ? gp[i] : 0 }
                }
            }
        }
        return dx
    }
}
