import Common

/// How a projection connects its presynaptic to its postsynaptic population (NEST's connection rules;
/// Brian2's `connect(p=...)`). Generation is deterministic for a seed, whatever the thread count.
public enum Connectivity: Sendable, Equatable {
    /// Every pre to every post (no i == i pairs within one population unless `autapses`).
    case allToAll(autapses: Bool = false)
    /// Pre i to post i (sizes must match).
    case oneToOne
    /// Each pair independently with probability p (pairwise Bernoulli).
    case fixedProbability(Double, autapses: Bool = false)
    /// Every target gets exactly k sources drawn uniformly.
    case fixedIndegree(Int, autapses: Bool = false, multapses: Bool = true)
    /// Every source gets exactly k targets drawn uniformly.
    case fixedOutdegree(Int, autapses: Bool = false, multapses: Bool = true)
    /// An explicit list of (pre, post) pairs; optional per-pair weights and delays (ms) override the
    /// projection's distributions.
    case list(pairs: [(Int, Int)], weights: [Double]? = nil, delays: [Double]? = nil)

    public static func == (a: Connectivity, b: Connectivity) -> Bool {
        switch (a, b) {
        case let (.allToAll(x), .allToAll(y)): return x == y
        case (.oneToOne, .oneToOne): return true
        case let (.fixedProbability(p, x), .fixedProbability(q, y)): return p == q && x == y
        case let (.fixedIndegree(k, a1, m1), .fixedIndegree(l, a2, m2)): return k == l && a1 == a2 && m1 == m2
        case let (.fixedOutdegree(k, a1, m1), .fixedOutdegree(l, a2, m2)): return k == l && a1 == a2 && m1 == m2
        case let (.list(p1, w1, d1), .list(p2, w2, d2)):
            return p1.count == p2.count && zip(p1, p2).allSatisfy { $0 == $1 } && w1 == w2 && d1 == d2
        default: return false
        }
    }
}

/// Geometry of a 2-D convolution between channels-last (HWC) populations; neuron index
/// `(y * width + x) * channels + c`. Kernel layout `[kh][kw][inC][outC]` (depthwise: `[kh][kw][C]`).
public struct ConvGeometry: Sendable, Equatable {
    public var inHeight: Int, inWidth: Int, inChannels: Int
    public var outChannels: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var stride: Int, padding: Int
    /// One kernel per channel (used for average pooling): outChannels == inChannels.
    public var depthwise: Bool

    public init(inHeight: Int, inWidth: Int, inChannels: Int, outChannels: Int, kernelHeight: Int,
                kernelWidth: Int, stride: Int = 1, padding: Int = 0, depthwise: Bool = false) {
        self.inHeight = inHeight; self.inWidth = inWidth; self.inChannels = inChannels
        self.outChannels = outChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding; self.depthwise = depthwise
    }

    /// Why this geometry cannot be used, or nil: every size >= 1 (padding >= 0), the kernel fits the
    /// padded input, image sides and channels at most 65535 (the engine keeps coordinates in 16 bits),
    /// and no size product overflows. Check before using the derived sizes below.
    public var problem: String? {
        let fields = [("input height", inHeight), ("input width", inWidth), ("input channels", inChannels),
                      ("output channels", outChannels), ("kernel height", kernelHeight), ("kernel width", kernelWidth),
                      ("stride", stride)]
        for (name, v) in fields where v < 1 || v > 65535 { return "\(name) \(v) must be in 1...65535" }
        guard padding >= 0, padding <= 65535 else { return "padding \(padding) must be in 0...65535" }
        guard kernelHeight <= inHeight + 2 * padding, kernelWidth <= inWidth + 2 * padding else {
            return "a \(kernelHeight)x\(kernelWidth) kernel does not fit a \(inHeight)x\(inWidth) input with padding \(padding)"
        }
        func product(_ xs: [Int]) -> Int? { CheckedMath.product(xs).flatMap { $0 <= Int(Int32.max) ? $0 : nil } }
        guard product([inHeight, inWidth, inChannels]) != nil, product([outHeight, outWidth, outChannels]) != nil,
              product([kernelHeight, kernelWidth, inChannels, depthwise ? 1 : outChannels]) != nil else {
            return "the sizes of this geometry exceed 2^31 - 1 elements"
        }
        if depthwise && inChannels != outChannels { return "a depthwise geometry needs as many output as input channels" }
        return nil
    }

    public var outHeight: Int { (inHeight + 2 * padding - kernelHeight) / stride + 1 }
    public var outWidth: Int { (inWidth + 2 * padding - kernelWidth) / stride + 1 }
    public var inputSize: Int { inHeight * inWidth * inChannels }
    public var outputSize: Int { outHeight * outWidth * outChannels }
    public var kernelCount: Int { kernelHeight * kernelWidth * inChannels * (depthwise ? 1 : outChannels) }
}
