import Foundation

/// The shortcut of a residual block in a converted network: a second projection into a join layer
/// (see `Converter`), carrying the spikes of an earlier spiking layer (`source`, the block's input).
/// Identity: a depthwise 1×1 projection with one weight per channel, λ_src[c] / λ_join[c]. Conv: a
/// convolution (usually 1×1, strided) with its BatchNorm folded, weights `W λ_src / λ_join` in the
/// engine layout [kh][kw][in][out]; its bias is part of the join layer's bias.
public struct SkipProjection: Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case identity, conv }
    /// Index of the spiking layer whose spikes the shortcut carries.
    public var source: Int
    public var kind: Kind
    /// Per-sample shape of the source layer [C, H, W].
    public var inputShape: [Int]
    public var kernel: [Int]
    public var stride: Int
    public var padding: Int
    /// identity: [C]; conv: [kh][kw][in][out].
    public var weights: [Float]

    /// Multiply-accumulates of the ANN shortcut per image (the identity has none: its adds are
    /// reported with the join's).
    func macs(outputSize: Int) -> Int64 {
        kind == .conv ? Int64(outputSize) * Int64(inputShape[0] * kernel[0] * kernel[1]) : 0
    }
}
