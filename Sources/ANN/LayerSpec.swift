import Common
import Foundation

/// A (height, width) pair: kernel sizes, strides, paddings (in pixels).
public struct Size2: Equatable, Sendable, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(_ both: Int) { self.init(both, both) }
    public var description: String { h == w ? "\(h)" : "\(h)x\(w)" }
}

/// The kind and hyper-parameters of one layer: what `model.json` stores and what a converter reads.
/// Type names and fields follow PyTorch's modules so a `Sequential` of these rebuilds as an
/// `nn.Sequential` with the same indices and state-dict keys:
/// dense = `nn.Linear`, conv2d = `nn.Conv2d`, avgpool2d = `nn.AvgPool2d`, maxpool2d = `nn.MaxPool2d`,
/// relu = `nn.ReLU`, flatten = `nn.Flatten`, batchnorm1d/2d = `nn.BatchNorm1d/2d`, dropout = `nn.Dropout`.
public enum LayerSpec: Equatable, Sendable {
    /// y = x Wᵀ + b; W [out, in], b [out]. Input [N, in].
    case dense(inFeatures: Int, outFeatures: Int, bias: Bool)
    /// Cross-correlation with zero padding; W [out, in, kh, kw], b [out]. Input [N, in, H, W],
    /// output spatial size (H + 2·padding − kernel) / stride + 1 (floor).
    case conv2d(inChannels: Int, outChannels: Int, kernel: Size2, stride: Size2, padding: Size2, bias: Bool)
    /// Mean over kernel windows (no padding, floor mode).
    case avgPool2d(kernel: Size2, stride: Size2)
    /// Maximum over kernel windows (floor mode), `padding` rows and columns on each side counting as −∞
    /// (at most half the kernel, as PyTorch requires: every window keeps an input pixel).
    case maxPool2d(kernel: Size2, stride: Size2, padding: Size2 = Size2(0))
    /// y = max(x, 0).
    case relu
    /// [N, C, H, W] -> [N, C·H·W] (row-major, as `torch.flatten(x, 1)`).
    case flatten
    /// y = γ (x − μ) / √(σ² + eps) + β per feature (1-D, input [N, F]) or per channel (2-D, input
    /// [N, C, H, W]); μ, σ² from the batch in training, running averages (with `momentum`) in evaluation.
    case batchNorm(features: Int, spatial: Bool, eps: Double, momentum: Double)
    /// Inverted dropout: zero with probability p in training, scale survivors by 1/(1−p).
    case dropout(p: Double)
    /// QCFS activation (Bu et al., ICLR 2022): y = λ/L · clip(floor(x·L/λ + 1/2), 0, L) with `levels` L
    /// and a trained threshold λ (`thresh`, `thresholds` values: 1 per layer or one per channel,
    /// initialised to `initialThreshold`). See `QCFS`.
    case qcfs(levels: Int, thresholds: Int, initialThreshold: Double)

    /// Largest QCFS level count (2^16; the paper uses 2–16).
    public static let maxQCFSLevels = 1 << 16
    /// y = min(max(x, min), max) (`nn.Hardtanh`, `nn.ReLU6` = clip(0, 6), ONNX `Clip`).
    case clip(min: Double, max: Double)
    /// [N, C, H, W] -> [N, C, 1, 1], the mean over H and W (`nn.AdaptiveAvgPool2d(1)`).
    case globalAvgPool
    /// y = body(x) + shortcut(x) (an empty shortcut is the identity); see `Residual`.
    case residual(body: [LayerSpec], shortcut: [LayerSpec])

    /// The name used in model.json and configs.
    public var typeName: String {
        switch self {
        case .dense: return "dense"
        case .conv2d: return "conv2d"
        case .avgPool2d: return "avgpool2d"
        case .maxPool2d: return "maxpool2d"
        case .relu: return "relu"
        case .flatten: return "flatten"
        case .batchNorm(_, let spatial, _, _): return spatial ? "batchnorm2d" : "batchnorm1d"
        case .dropout: return "dropout"
        case .qcfs: return "qcfs"
        case .clip: return "clip"
        case .globalAvgPool: return "globalavgpool"
        case .residual: return "residual"
        }
    }

    /// Largest size of any dimension, channel or feature count, kernel, stride or padding (2^24):
    /// beyond any real network, small enough that shape arithmetic cannot overflow.
    public static let maxSize = 1 << 24

    /// Output shape for a per-sample input shape (without the batch dimension), or an error that says
    /// what the layer expected. Call `validate()` first (sizes in range).
    public func outputShape(_ s: [Int]) throws -> [Int] {
        func need3() throws -> (Int, Int, Int) {
            guard s.count == 3 else { throw ANNError.shape("\(typeName) expects an image input [C, H, W], got \(s)") }
            return (s[0], s[1], s[2])
        }
        switch self {
        case let .dense(inF, outF, _):
            guard s == [inF] else { throw ANNError.shape("dense expects \(inF) input features, got shape \(s)\(s.count > 1 ? " (add a flatten layer first)" : "")") }
            return [outF]
        case let .conv2d(inC, outC, k, st, p, _):
            let (c, h, w) = try need3()
            guard c == inC else { throw ANNError.shape("conv2d expects \(inC) input channels, got \(c)") }
            guard h + 2 * p.h >= k.h, w + 2 * p.w >= k.w else {
                throw ANNError.shape("conv2d kernel \(k) is larger than its padded input \(h + 2 * p.h)x\(w + 2 * p.w)")
            }
            return [outC, (h + 2 * p.h - k.h) / st.h + 1, (w + 2 * p.w - k.w) / st.w + 1]
        case let .avgPool2d(k, st):
            let (c, h, w) = try need3()
            guard h >= k.h, w >= k.w else { throw ANNError.shape("\(typeName) kernel \(k) is larger than its input \(h)x\(w)") }
            return [c, (h - k.h) / st.h + 1, (w - k.w) / st.w + 1]
        case let .maxPool2d(k, st, p):
            let (c, h, w) = try need3()
            guard h + 2 * p.h >= k.h, w + 2 * p.w >= k.w else {
                throw ANNError.shape("\(typeName) kernel \(k) is larger than its \(p.h > 0 || p.w > 0 ? "padded " : "")input \(h + 2 * p.h)x\(w + 2 * p.w)")
            }
            return [c, (h + 2 * p.h - k.h) / st.h + 1, (w + 2 * p.w - k.w) / st.w + 1]
        case .relu, .dropout, .clip:
            return s
        case let .qcfs(_, n, _):
            guard n == 1 || (!s.isEmpty && s[0] == n) else {
                throw ANNError.shape("qcfs has \(n) thresholds (one per channel) but its input \(s) has \(s.first ?? 0) channels")
            }
            return s
        case .globalAvgPool:
            let (c, _, _) = try need3()
            return [c, 1, 1]
        case let .residual(body, shortcut):
            func chain(_ ls: [LayerSpec], _ what: String) throws -> [Int] {
                var t = s
                for (j, l) in ls.enumerated() {
                    do { t = try l.outputShape(t) } catch let e as ANNError {
                        throw ANNError.shape("\(what) layer \(j) (\(l.typeName)): \(e.description)")
                    }
                }
                return t
            }
            let b = try chain(body, "body"), k = try chain(shortcut, "shortcut")
            guard b == k else {
                throw ANNError.shape("the body outputs \(b) but the shortcut outputs \(k); both branches must give the same shape to be added")
            }
            return b
        case .flatten:
            guard let n = CheckedMath.product(s), n <= Self.maxSize else {
                throw ANNError.shape("flatten of \(s) gives more than \(Self.maxSize) features")
            }
            return [n]
        case let .batchNorm(f, spatial, _, _):
            if spatial {
                let (c, _, _) = try need3()
                guard c == f else { throw ANNError.shape("batchnorm2d expects \(f) channels, got \(c)") }
            } else {
                guard s == [f] else { throw ANNError.shape("batchnorm1d expects \(f) features, got shape \(s)") }
            }
            return s
        }
    }

    /// Checks hyper-parameters: sizes in 1...`maxSize` (padding 0...`maxSize`), 0 ≤ p < 1,
    /// eps finite and > 0, momentum in [0, 1].
    public func validate() throws {
        func pos(_ v: Int, _ what: String) throws {
            if v <= 0 { throw ANNError.invalidModel("\(typeName) \(what) must be > 0, found \(v)") }
            if v > Self.maxSize { throw ANNError.invalidModel("\(typeName) \(what) must be at most \(Self.maxSize), found \(v)") }
        }
        switch self {
        case let .dense(i, o, _): try pos(i, "in_features"); try pos(o, "out_features")
        case let .conv2d(i, o, k, s, p, _):
            try pos(i, "in_channels"); try pos(o, "out_channels"); try pos(k.h, "kernel_size"); try pos(k.w, "kernel_size")
            try pos(s.h, "stride"); try pos(s.w, "stride")
            if p.h < 0 || p.w < 0 || p.h > Self.maxSize || p.w > Self.maxSize {
                throw ANNError.invalidModel("conv2d padding must be in 0...\(Self.maxSize), found \(p)")
            }
        case let .avgPool2d(k, s):
            try pos(k.h, "kernel_size"); try pos(k.w, "kernel_size"); try pos(s.h, "stride"); try pos(s.w, "stride")
        case let .maxPool2d(k, s, p):
            try pos(k.h, "kernel_size"); try pos(k.w, "kernel_size"); try pos(s.h, "stride"); try pos(s.w, "stride")
            if p.h < 0 || p.w < 0 || p.h > k.h / 2 || p.w > k.w / 2 {
                throw ANNError.invalidModel("maxpool2d padding must be between 0 and half the kernel (\(k.h / 2)x\(k.w / 2) for kernel \(k)), found \(p)")
            }
        case .relu, .flatten: break
        case let .batchNorm(f, _, eps, m):
            try pos(f, "num_features")
            if !(eps > 0 && eps.isFinite) { throw ANNError.invalidModel("\(typeName) eps must be a finite number > 0, found \(eps)") }
            if !(m >= 0 && m <= 1) { throw ANNError.invalidModel("\(typeName) momentum must be in [0, 1], found \(m)") }
        case let .dropout(p):
            if !(p >= 0 && p < 1) { throw ANNError.invalidModel("dropout p must be in [0, 1), found \(p)") }
        case let .qcfs(l, n, t):
            if !(l >= 1 && l <= Self.maxQCFSLevels) { throw ANNError.invalidModel("qcfs levels must be in 1...\(Self.maxQCFSLevels), found \(l)") }
            try pos(n, "thresholds")
            if !(t > 0 && t <= 1e30) { throw ANNError.invalidModel("qcfs threshold must be a finite number > 0, found \(t)") }
        case let .clip(lo, hi):
            if !(lo.isFinite && hi.isFinite && lo < hi) { throw ANNError.invalidModel("clip needs finite min < max, found min \(lo), max \(hi)") }
        case .globalAvgPool: break
        case let .residual(body, shortcut):
            if body.isEmpty { throw ANNError.invalidModel("residual body is empty; it needs at least one layer") }
            for (what, branch) in [("body", body), ("shortcut", shortcut)] {
                for (j, l) in branch.enumerated() {
                    do { try l.validate() } catch let e as ANNError {
                        throw ANNError.invalidModel("residual \(what) layer \(j): \(e.description.replacingOccurrences(of: "invalid model: ", with: ""))")
                    }
                }
            }
        }
    }

    /// The float32 tensors a layer of this kind saves (parameters, then buffers), with PyTorch names
    /// and shapes; BatchNorm also saves the int64 scalar `num_batches_tracked` (not listed).
    public var tensorShapes: [(name: String, shape: [Int])] {
        switch self {
        case let .dense(i, o, b): return [("weight", [o, i])] + (b ? [("bias", [o])] : [])
        case let .conv2d(i, o, k, _, _, b): return [("weight", [o, i, k.h, k.w])] + (b ? [("bias", [o])] : [])
        case let .batchNorm(f, _, _, _): return [("weight", [f]), ("bias", [f]), ("running_mean", [f]), ("running_var", [f])]
        case let .qcfs(_, n, _): return [("thresh", [n])]
        case .avgPool2d, .maxPool2d, .relu, .flatten, .dropout, .clip, .globalAvgPool: return []
        case let .residual(body, shortcut):
            return [("body", body), ("shortcut", shortcut)].flatMap { prefix, branch in
                branch.enumerated().flatMap { j, l in l.tensorShapes.map { ("\(prefix).\(j).\($0.name)", $0.shape) } }
            }
        }
    }

    /// The optional int64 scalars a layer of this kind saves (BatchNorm's `num_batches_tracked`, also
    /// inside residual branches), by name.
    public var int64Buffers: [String] {
        switch self {
        case .batchNorm: return ["num_batches_tracked"]
        case let .residual(body, shortcut):
            return [("body", body), ("shortcut", shortcut)].flatMap { prefix, branch in
                branch.enumerated().flatMap { j, l in l.int64Buffers.map { "\(prefix).\(j).\($0)" } }
            }
        default: return []
        }
    }

    /// A fresh layer with parameters drawn by `initializer` from `seed` (stream = layer index).
    public func makeLayer(initializer: WeightInit = .heNormal, seed: UInt64 = 0, index: Int = 0) -> Layer {
        switch self {
        case let .dense(i, o, b): return Dense(inFeatures: i, outFeatures: o, bias: b, initializer: initializer, seed: seed, stream: UInt64(index))
        case let .conv2d(i, o, k, s, p, b):
            return Conv2D(inChannels: i, outChannels: o, kernel: k, stride: s, padding: p, bias: b, initializer: initializer, seed: seed, stream: UInt64(index))
        case let .avgPool2d(k, s): return AvgPool2D(kernel: k, stride: s)
        case let .maxPool2d(k, s, p): return MaxPool2D(kernel: k, stride: s, padding: p)
        case .relu: return ReLU()
        case .flatten: return Flatten()
        case let .batchNorm(f, sp, eps, m): return BatchNorm(features: f, spatial: sp, eps: eps, momentum: m)
        case let .dropout(p): return Dropout(p: p)
        case let .qcfs(l, n, t): return QCFS(levels: l, thresholdCount: n, initialThreshold: t)
        case let .clip(lo, hi): return Clip(lower: Float(lo), upper: Float(hi))
        case .globalAvgPool: return GlobalAvgPool2D()
        case let .residual(body, shortcut):
            // branch layers draw from their own streams: (index + 1) << 16 | branch << 8 | position
            func make(_ ls: [LayerSpec], _ branch: Int) -> [Layer] {
                ls.enumerated().map { j, l in l.makeLayer(initializer: initializer, seed: seed, index: ((index + 1) << 16) | (branch << 8) | j) }
            }
            return Residual(body: make(body, 0), shortcut: make(shortcut, 1))
        }
    }
}

// MARK: JSON (model.json) — PyTorch field names.
extension LayerSpec: Codable {
    enum Key: String, CodingKey {
        case type, in_features, out_features, bias, in_channels, out_channels, kernel_size, stride, padding
        case num_features, eps, momentum, p, min, max, body, shortcut
        case levels, thresholds, init_threshold
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let type = try c.decode(String.self, forKey: .type)
        func pair(_ k: Key, default d: [Int]? = nil) throws -> Size2 {
            let v = try c.decodeIfPresent([Int].self, forKey: k) ?? d
            guard let v, v.count == 2 else {
                throw DecodingError.dataCorruptedError(forKey: k, in: c, debugDescription: "\(type).\(k.rawValue) must be a list of two integers")
            }
            return Size2(v[0], v[1])
        }
        switch type {
        case "dense", "linear":
            self = .dense(inFeatures: try c.decode(Int.self, forKey: .in_features), outFeatures: try c.decode(Int.self, forKey: .out_features),
                          bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true)
        case "conv2d":
            self = .conv2d(inChannels: try c.decode(Int.self, forKey: .in_channels), outChannels: try c.decode(Int.self, forKey: .out_channels),
                           kernel: try pair(.kernel_size), stride: try pair(.stride, default: [1, 1]), padding: try pair(.padding, default: [0, 0]),
                           bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true)
        case "avgpool2d", "maxpool2d":
            let k = try pair(.kernel_size)
            let s = try pair(.stride, default: [k.h, k.w])
            if type == "avgpool2d" {
                if let p = try c.decodeIfPresent([Int].self, forKey: .padding), p != [0, 0] {
                    throw DecodingError.dataCorruptedError(forKey: .padding, in: c, debugDescription: "avgpool2d.padding must be [0, 0] (padded average pooling is not supported), found \(p)")
                }
                self = .avgPool2d(kernel: k, stride: s)
            } else {
                self = .maxPool2d(kernel: k, stride: s, padding: try pair(.padding, default: [0, 0]))
            }
        case "relu": self = .relu
        case "flatten": self = .flatten
        case "batchnorm1d", "batchnorm2d":
            self = .batchNorm(features: try c.decode(Int.self, forKey: .num_features), spatial: type == "batchnorm2d",
                              eps: try c.decodeIfPresent(Double.self, forKey: .eps) ?? 1e-5,
                              momentum: try c.decodeIfPresent(Double.self, forKey: .momentum) ?? 0.1)
        case "dropout": self = .dropout(p: try c.decodeIfPresent(Double.self, forKey: .p) ?? 0.5)
        case "qcfs":
            self = .qcfs(levels: try c.decode(Int.self, forKey: .levels), thresholds: try c.decodeIfPresent(Int.self, forKey: .thresholds) ?? 1,
                         initialThreshold: try c.decodeIfPresent(Double.self, forKey: .init_threshold) ?? QCFS.defaultThreshold)
        case "clip": self = .clip(min: try c.decode(Double.self, forKey: .min), max: try c.decode(Double.self, forKey: .max))
        case "globalavgpool": self = .globalAvgPool
        case "residual":
            self = .residual(body: try c.decode([LayerSpec].self, forKey: .body), shortcut: try c.decodeIfPresent([LayerSpec].self, forKey: .shortcut) ?? [])
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown layer type '\(type)'; expected dense, conv2d, avgpool2d, maxpool2d, relu, flatten, batchnorm1d, batchnorm2d, dropout, qcfs, clip, globalavgpool, residual")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case let .dense(i, o, b):
            try c.encode(i, forKey: .in_features); try c.encode(o, forKey: .out_features); try c.encode(b, forKey: .bias)
        case let .conv2d(i, o, k, s, p, b):
            try c.encode(i, forKey: .in_channels); try c.encode(o, forKey: .out_channels)
            try c.encode([k.h, k.w], forKey: .kernel_size); try c.encode([s.h, s.w], forKey: .stride)
            try c.encode([p.h, p.w], forKey: .padding); try c.encode(b, forKey: .bias)
        case let .avgPool2d(k, s):
            try c.encode([k.h, k.w], forKey: .kernel_size); try c.encode([s.h, s.w], forKey: .stride)
        case let .maxPool2d(k, s, p):
            try c.encode([k.h, k.w], forKey: .kernel_size); try c.encode([s.h, s.w], forKey: .stride)
            if p != Size2(0) { try c.encode([p.h, p.w], forKey: .padding) }   // written only when used: older files stay byte-identical
        case .relu, .flatten: break
        case let .batchNorm(f, _, eps, m):
            try c.encode(f, forKey: .num_features); try c.encode(eps, forKey: .eps); try c.encode(m, forKey: .momentum)
        case let .dropout(p): try c.encode(p, forKey: .p)
        case let .qcfs(l, n, t):
            try c.encode(l, forKey: .levels); try c.encode(n, forKey: .thresholds); try c.encode(t, forKey: .init_threshold)
        case let .clip(lo, hi): try c.encode(lo, forKey: .min); try c.encode(hi, forKey: .max)
        case .globalAvgPool: break
        case let .residual(body, shortcut): try c.encode(body, forKey: .body); try c.encode(shortcut, forKey: .shortcut)
        }
    }
}
