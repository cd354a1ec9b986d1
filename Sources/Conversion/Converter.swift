import ANN
import Common
import Datasets
import Foundation

/// One layer of IF neurons of a converted network and the projection that feeds it.
///
/// Populations are channels-last: neuron `(y * W + x) * C + c` of a `[C, H, W]` activation, so that a
/// spike's kernel slice (all output channels) is contiguous. Weights are stored in the engine's layout
/// and are already normalized: `W[o, i] * scale_prev[i] / scale[o]`, biases `b[o] / scale[o]`.
public struct SpikingLayer: Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case conv, dense, avgPool, maxPool }

    public var name: String
    public var kind: Kind
    /// Index of the ANN layer this one stands for (the conv/dense/pool layer).
    public var annIndex: Int
    /// Indices of ANN layers folded into this one (BatchNorm, ReLU, Dropout, Flatten).
    public var absorbed: [Int]
    /// Per-sample ANN shapes ([C, H, W] or [F]).
    public var inputShape: [Int]
    public var outputShape: [Int]
    /// Geometry (conv and pooling).
    public var kernel: [Int] = []      // [kh, kw]
    public var stride: Int = 1
    public var padding: Int = 0
    /// conv: [kh][kw][in][out]; dense: [in][out] (inputs in engine order); avgPool: [kh][kw][C];
    /// maxPool: empty (weight 1).
    public var weights: [Float]
    /// Per output channel (conv/dense), already divided by the scale; empty for pooling.
    public var bias: [Float]
    /// Normalization scale per output channel (one value when layer-wise).
    public var scale: [Float]
    /// The network's last layer (read out; no ReLU in the ANN).
    public var isOutput: Bool
    /// A second projection into this layer: the shortcut of a residual block (nil for plain layers).
    public var skip: SkipProjection? = nil
    /// MACs of the ANN layer when they differ from this layer's geometry (an average pooling folded in).
    public var annMACs: Int64? = nil
    /// Initial membrane potential per output channel as a fraction of the threshold, set by the
    /// potential correction (`ConversionOptions.correctionSteps`); empty = `options.initialPotential`.
    public var initialPotential: [Float] = []

    public var size: Int { outputShape.reduce(1, *) }
    /// An average pooling over the whole map (global average pooling: one output per channel).
    public var isGlobalPool: Bool {
        kind == .avgPool && outputShape.count == 3 && outputShape[1] == 1 && outputShape[2] == 1 && kernel == [inputShape[1], inputShape[2]]
    }
    public var channels: Int { outputShape.count == 3 ? outputShape[0] : outputShape[0] }
    /// Channel of neuron `i` (engine order).
    public func channel(of i: Int) -> Int { outputShape.count == 3 ? i % outputShape[0] : i }
    public func scale(channel c: Int) -> Float { scale.count == 1 ? scale[0] : scale[c] }

    /// Multiply-accumulates of the ANN layer per image (pooling: none; its adds are reported as 0 MACs).
    public var macs: Int64 {
        if let annMACs { return annMACs }
        switch kind {
        case .conv: return Int64(size) * Int64(inputShape[0] * kernel[0] * kernel[1]) + (skip?.macs(outputSize: size) ?? 0)
        case .dense: return Int64(inputShape.reduce(1, *)) * Int64(size)
        case .avgPool, .maxPool: return 0
        }
    }
}

/// A trained `Sequential` converted to layers of integrate-and-fire neurons, with everything needed to
/// build the spiking network and to feed it inputs. See `Converter.convert`.
public struct ConvertedNetwork: Sendable {
    public var layers: [SpikingLayer]
    public var options: ConversionOptions
    /// Per-sample input shape [C, H, W].
    public var inputShape: [Int]
    public var classes: Int
    /// Pixel preprocessing of the ANN (input u in [0, 1] is fed as x = (u - mean)/std).
    public var inputNormalization: Normalization
    /// First layer in ANN form with BatchNorm folded (weights [out, in, kh, kw] / [out, in], bias), used
    /// to compute the analog input current exactly as the ANN's first layer would.
    public var firstLayer: LayerSpec
    public var firstWeights: [Float]
    public var firstBias: [Float]
    /// Per-neuron constant current of the first spiking layer for an all-zero input (u = 0), already
    /// normalized (Poisson encoding: the input normalization and padding folded exactly).
    public var firstLayerOffset: [Float]
    /// Where the model came from (for reports).
    public var source: String
    /// How the scales were chosen (percentile calibration or QCFS thresholds).
    public var recipe: ConversionRecipe = .percentile
}

/// How the scales (thresholds) of a converted network were chosen.
public enum ConversionRecipe: String, Codable, Sendable {
    /// Data-based normalization: a percentile of calibration activations (ReLU-trained nets).
    case percentile
    /// QCFS-trained nets (Bu et al. 2022): threshold = the trained λ of each layer or channel, no
    /// calibration; initial membrane and reset from the options (defaults θ/2, subtraction, as in the paper).
    case qcfs

    /// One line for reports.
    public var summary: String {
        switch self {
        case .percentile: return "percentile normalization (ReLU-trained ANN; scales from calibration activations)"
        case .qcfs: return "QCFS (Bu et al. 2022): threshold = trained λ per layer/channel, no calibration"
        }
    }
}


/// ANN → SNN conversion (rate coding with integrate-and-fire neurons).
///
/// - BatchNorm is folded into the preceding conv/dense: `W' = W γ/√(σ²+ε)`, `b' = (b − μ) γ/√(σ²+ε) + β`.
/// - ReLU becomes the IF neuron (it cannot fire at negative input); Dropout is the identity; Flatten
///   is a reordering of indices.
/// - Data-based normalization (Diehl et al. 2015; Rueckauer et al. 2017): the scale λ of a layer (or
///   of each channel) is a percentile of its positive activations over calibration images; weights
///   become `W λ_prev/λ`, biases `b/λ`, thresholds stay 1, so rates are activations/λ, clipped at 1.
/// - Average pooling (and global average pooling, a window of the whole map) is a fixed depthwise
///   projection (weights 1/k²); max pooling gates spikes by spike count (`ConversionOptions.maxPool`).
/// - Clip(0, c) (ReLU6 and other clipped ReLUs) is a ReLU with a ceiling: the IF neuron's rate
///   saturates at 1, so the layer's scale λ is capped at c and rate 1 stands for the ceiling.
/// - Residual blocks y = ReLU(body(x) + shortcut(x)) (He et al. 2016): the body's convolutions become
///   IF layers as usual, except the last one (linear, its BatchNorm folded), which feeds the join
///   layer: one IF layer receiving two weight-shared projections, the body's last convolution and the
///   shortcut (the identity as a depthwise 1×1 projection, or a strided 1×1 convolution with its
///   BatchNorm folded), summed in its membrane. The normalization scales are reconciled at the join as
///   in Rueckauer et al. 2017 (§2.2, "layers with several inputs") and Hu et al. 2018 ("Spiking deep
///   residual networks", shortcut normalization): each path's weights are multiplied by the scale of
///   the layer its spikes come from and divided by the join's scale, `W λ_src/λ_join`, and both biases
///   by λ_join, so the join's rate is (body + shortcut)/λ_join whatever the two sources' scales.
/// - QCFS-trained models (`ConversionRecipe.qcfs`, Bu et al. 2022): the scale of a hidden layer (or
///   channel) is its trained threshold λ instead of a percentile, so IF threshold = λ with membranes
///   starting at θ/2 (`initialPotential` 0.5) and reset by subtraction; no calibration image is read
///   (only the output layer under spike decoding is calibrated). Every hidden layer must use QCFS.
///   A QCFS after average pooling (the ANN trained with the rounding the pooling IF neurons apply)
///   makes its λ the pooling neurons' scale (weights 1/k² × λ_src/λ_pool); without it they keep the
///   source's λ. In residual blocks the body's QCFS layers give their convs' λ, and the QCFS after the
///   addition gives the join's: both projections into the join are scaled by λ_src/λ_join as above.
/// - Anything else is refused with the layer's index, type and the reason.
public enum Converter {
    /// Where an ANN layer sits: a top-level layer of the `Sequential` (branch -1), or layer `j` of the
    /// body (branch 0) or shortcut (branch 1) of the residual block at top-level index `top`.
    struct Tap: Hashable {
        var top: Int
        var branch: Int = -1
        var j: Int = 0
    }

    /// The shortcut of a join layer: spikes of spiking layer `source`, through the identity (nil) or a
    /// convolution (with its BatchNorm).
    struct SkipPlan {
        var source: Int
        var conv: Tap?
        var bn: Tap?
    }

    struct Group {
        var kind: SpikingLayer.Kind
        /// Top-level index of the ANN layer (a residual block's index for the layers inside it).
        var index: Int
        var tap: Tap
        var bn: Tap? = nil
        var relu: Tap? = nil
        /// The QCFS activation of this group (its threshold is the group's scale; QCFS recipe).
        var qcfs: Tap? = nil
        var absorbed: [Int] = []
        var flattenBefore = false
        /// The ANN layer whose output is this group's activation.
        var activation: Tap
        /// Ceiling of a Clip(0, c) activation.
        var ceiling: Float? = nil
        var skip: SkipPlan? = nil
        var name: String
    }

    /// Groups ANN layers into spiking layers, refusing what cannot be converted.
    static func plan(_ model: Sequential, options: ConversionOptions) throws -> [Group] {
        var groups: [Group] = []
        var pendingAbsorbed: [Int] = []
        var flattenPending = false
        var lastNonNegative = false   // output of the previous group is >= 0
        let layers = model.layers.map(\.spec)
        func name(_ i: Int) -> String { "layer \(i) (\(layers[i].typeName))" }

        /// Absorbs the BatchNorm, ReLU/Clip(0, c) and Dropout layers that follow a conv/dense group in
        /// `list` from position `j`; returns the next position.
        func absorb(_ g: inout Group, _ list: [LayerSpec], from j0: Int, tap: (Int) -> Tap, label: (Int) -> String, top: Bool) throws -> Int {
            var j = j0
            while j < list.count {
                switch list[j] {
                case .batchNorm(_, let spatial, _, _):
                    guard g.relu == nil, g.bn == nil else {
                        throw ConversionError("\(label(j)): BatchNorm after a ReLU (or a second BatchNorm) cannot be folded into \(label(j0 - 1)); put it directly after the conv/dense layer")
                    }
                    if spatial != (g.kind == .conv) { throw ConversionError("\(label(j)): \(list[j].typeName) does not match \(label(j0 - 1))") }
                    g.bn = tap(j); g.activation = tap(j)
                case .relu:
                    if g.relu == nil { g.relu = tap(j); g.activation = tap(j) }
                case let .clip(lo, hi):
                    guard lo == 0 else {
                        throw ConversionError("\(label(j)): clip(\(lo), \(hi)) has a lower bound other than 0; IF neurons carry clip(0, c) (a ReLU with a ceiling) only")
                    }
                    guard g.relu == nil else { throw ConversionError("\(label(j)): a second activation after \(label(j0 - 1)) is not supported") }
                    g.relu = tap(j); g.activation = tap(j); g.ceiling = Float(hi)
                case .qcfs:
                    guard g.qcfs == nil else { throw ConversionError("\(label(j)): a second QCFS activation after \(label(j0 - 1)) cannot be converted") }
                    guard g.ceiling == nil else { throw ConversionError("\(label(j)): a QCFS activation after a clip cannot be converted") }
                    if g.relu == nil { g.relu = tap(j) }
                    g.qcfs = tap(j); g.activation = tap(j)
                case .dropout:
                    break
                default:
                    return j
                }
                if top { g.absorbed.append(j) }
                j += 1
            }
            return j
        }

        var i = 0
        while i < layers.count {
            let l = layers[i]
            switch l {
            case .dropout:
                pendingAbsorbed.append(i)
            case .flatten:
                pendingAbsorbed.append(i)
                flattenPending = true
            case .conv2d(_, _, _, let st, let p, _):
                guard st.h == st.w, p.h == p.w else {
                    throw ConversionError("\(name(i)): stride \(st) / padding \(p) must be the same in both directions for the spiking convolution")
                }
                fallthrough
            case .dense:
                if case .dense = l {} else if flattenPending {
                    throw ConversionError("\(name(i)): a convolution after flatten is not supported")
                }
                let kind: SpikingLayer.Kind = { if case .dense = l { return .dense } else { return .conv } }()
                var g = Group(kind: kind, index: i, tap: Tap(top: i), absorbed: pendingAbsorbed, activation: Tap(top: i), name: "L\(i)_\(kind.rawValue)")
                g.flattenBefore = flattenPending
                pendingAbsorbed = []
                flattenPending = false
                let j = try absorb(&g, layers, from: i + 1, tap: { Tap(top: $0) }, label: name, top: true)
                groups.append(g)
                lastNonNegative = g.relu != nil
                i = j
                continue
            case .avgPool2d, .maxPool2d, .globalAvgPool:
                let isMax: Bool = { if case .maxPool2d = l { return true } else { return false } }()
                guard !groups.isEmpty else {
                    throw ConversionError("\(name(i)): pooling on the input image is not supported; pool after a conv layer")
                }
                guard lastNonNegative else {
                    throw ConversionError("\(name(i)): pooling must follow a ReLU so that its input is a non-negative rate")
                }
                if case let .avgPool2d(k, st) = l, k.h != k.w || st.h != st.w {
                    throw ConversionError("\(name(i)): pooling kernel \(k) and stride \(st) must be square")
                }
                if case let .maxPool2d(k, st, p) = l, k.h != k.w || st.h != st.w || p.h != p.w {
                    throw ConversionError("\(name(i)): pooling kernel \(k), stride \(st) and padding \(p) must be square")
                }
                if isMax && options.maxPool == .refuse {
                    throw ConversionError("\(name(i)): max pooling is refused by --maxpool refuse; use --maxpool gate (spike-count gating) or train with average pooling")
                }
                let kind: SpikingLayer.Kind = isMax ? .maxPool : .avgPool
                groups.append(Group(kind: kind, index: i, tap: Tap(top: i), absorbed: pendingAbsorbed, activation: Tap(top: i),
                                    name: "L\(i)_\(kind.rawValue)"))
                pendingAbsorbed = []
                var j = i + 1
                // a ReLU after pooling of non-negative values is the identity; a QCFS after average
                // pooling (a net trained with the rounding the pooling neurons apply) sets their threshold
                while j < layers.count {
                    if case .relu = layers[j] { groups[groups.count - 1].absorbed.append(j); groups[groups.count - 1].activation = Tap(top: j); j += 1; continue }
                    if case .dropout = layers[j] { groups[groups.count - 1].absorbed.append(j); j += 1; continue }
                    if case .qcfs = layers[j] {
                        guard !isMax else { throw ConversionError("\(name(j)): a QCFS activation after max pooling cannot be converted (max pooling gates spikes; use average pooling)") }
                        guard groups[groups.count - 1].qcfs == nil else { throw ConversionError("\(name(j)): a second QCFS activation after \(name(i)) cannot be converted") }
                        groups[groups.count - 1].qcfs = Tap(top: j)
                        groups[groups.count - 1].absorbed.append(j); groups[groups.count - 1].activation = Tap(top: j); j += 1; continue
                    }
                    break
                }
                i = j
                continue
            case let .residual(body, shortcut):
                guard !groups.isEmpty, lastNonNegative else {
                    throw ConversionError("\(name(i)): a residual block must follow a conv layer with a ReLU (its input must be a non-negative rate of a spiking layer)")
                }
                guard !flattenPending else { throw ConversionError("\(name(i)): a residual block after flatten is not supported") }
                func blabel(_ j: Int) -> String { "\(name(i)) body layer \(j) (\(body[j].typeName))" }
                let source = groups.count - 1
                var bodyGroups: [Group] = []
                var j = 0
                while j < body.count {
                    switch body[j] {
                    case .conv2d(_, _, _, let st, let p, _):
                        guard st.h == st.w, p.h == p.w else {
                            throw ConversionError("\(blabel(j)): stride \(st) / padding \(p) must be the same in both directions for the spiking convolution")
                        }
                        var g = Group(kind: .conv, index: i, tap: Tap(top: i, branch: 0, j: j), activation: Tap(top: i, branch: 0, j: j),
                                      name: "L\(i)_body\(j)_conv")
                        g.absorbed = bodyGroups.isEmpty ? pendingAbsorbed : []
                        j = try absorb(&g, body, from: j + 1, tap: { Tap(top: i, branch: 0, j: $0) }, label: blabel, top: false)
                        bodyGroups.append(g)
                    case .dropout:
                        j += 1
                    default:
                        throw ConversionError("\(blabel(j)): inside a residual block only conv2d, batchnorm, relu, clip(0, c), qcfs and dropout layers can be converted")
                    }
                }
                guard var join = bodyGroups.last, join.relu == nil else {
                    throw ConversionError("\(name(i)): the body must end with a conv layer (and its BatchNorm) without activation; the ReLU belongs after the addition, as in ResNet")
                }
                if let g = bodyGroups.dropLast().first(where: { $0.relu == nil }) {
                    throw ConversionError("\(blabel(g.tap.j)) is not followed by a ReLU: IF neurons can only carry non-negative activations")
                }
                var skip = SkipPlan(source: source)
                switch shortcut.count {
                case 0: break
                case 1, 2:
                    guard case let .conv2d(_, _, _, st, p, _) = shortcut[0], st.h == st.w, p.h == p.w else {
                        throw ConversionError("\(name(i)): the shortcut must be the identity or a conv layer (square stride and padding) with an optional BatchNorm, found \(shortcut.map(\.typeName))")
                    }
                    skip.conv = Tap(top: i, branch: 1, j: 0)
                    if shortcut.count == 2 {
                        guard case .batchNorm(_, true, _, _) = shortcut[1] else {
                            throw ConversionError("\(name(i)): the shortcut's second layer must be a batchnorm2d, found \(shortcut[1].typeName)")
                        }
                        skip.bn = Tap(top: i, branch: 1, j: 1)
                    }
                default:
                    throw ConversionError("\(name(i)): the shortcut has \(shortcut.count) layers; only the identity or conv (+ batchnorm) can be converted")
                }
                join.skip = skip
                join.name = "L\(i)_add"
                join.absorbed = (bodyGroups.count == 1 ? pendingAbsorbed : []) + [i]
                let next = try absorb(&join, layers, from: i + 1, tap: { Tap(top: $0) }, label: name, top: true)
                if join.relu == nil && next < layers.count {
                    throw ConversionError("\(name(i)) is not followed by a ReLU: the sum of a residual block feeds IF neurons, which carry only non-negative values")
                }
                pendingAbsorbed = []
                groups += bodyGroups.dropLast() + [join]
                lastNonNegative = join.relu != nil
                i = next
                continue
            case .relu, .clip:
                throw ConversionError("\(name(i)): a \(l.typeName) must follow a conv/dense layer (or its BatchNorm)")
            case .qcfs:
                throw ConversionError("\(name(i)): a QCFS activation must directly follow a conv/dense layer (or its BatchNorm)")
            case .batchNorm:
                throw ConversionError("\(name(i)): BatchNorm can only be folded when it directly follows a conv or dense layer")
            }
            i += 1
        }
        guard let last = groups.last else { throw ConversionError("the model has no conv or dense layer to convert") }
        guard last.kind == .dense || last.kind == .conv else {
            throw ConversionError("the last layer must be a conv or dense layer (the classifier), found \(name(last.index))")
        }
        if !pendingAbsorbed.isEmpty, pendingAbsorbed.contains(where: { if case .flatten = layers[$0] { return true }; return false }) {
            throw ConversionError("flatten after the last layer is not supported")
        }
        for g in groups.dropLast() where (g.kind == .conv || g.kind == .dense) && g.relu == nil {
            throw ConversionError("\(name(g.index)) is not followed by a ReLU: IF neurons can only carry non-negative activations (only the last layer may be linear)")
        }
        if let q = last.qcfs { throw ConversionError("\(name(q.top)): the output layer must be linear (no QCFS after the classifier)") }
        let hidden = groups.dropLast().filter { $0.kind == .conv || $0.kind == .dense }
        if groups.contains(where: { $0.qcfs != nil }), let g = hidden.first(where: { $0.qcfs == nil }) {
            throw ConversionError("\(name(g.index)) is followed by a ReLU while other layers use QCFS: train every hidden layer with QCFS (or none) to choose one conversion recipe")
        }
        return groups
    }

    /// Whether `convert` reads calibration images for `model` (false for a QCFS-trained model read out
    /// by membrane potential: its scales are the trained thresholds). Throws the error `convert` would
    /// throw for a model that cannot be converted.
    public static func needsCalibration(_ model: Sequential, options: ConversionOptions) throws -> Bool {
        let groups = try plan(model, options: options)
        return !groups.contains { $0.qcfs != nil } || options.decoding == .spikes
    }

    /// The ANN layer at `t`.
    static func layer(_ model: Sequential, _ t: Tap) -> Layer {
        guard t.branch >= 0, let r = model.layers[t.top] as? Residual else { return model.layers[t.top] }
        return t.branch == 0 ? r.body[t.j] : r.shortcut[t.j]
    }

    /// Per-sample input and output shape of every layer (residual branch layers included).
    static func tapShapes(_ model: Sequential) throws -> (input: [Tap: [Int]], output: [Tap: [Int]]) {
        var inS: [Tap: [Int]] = [:], outS: [Tap: [Int]] = [:]
        var s = model.inputShape
        for (i, l) in model.layers.enumerated() {
            let t = Tap(top: i)
            inS[t] = s
            if case let .residual(body, shortcut) = l.spec {
                for (b, branch) in [body, shortcut].enumerated() {
                    var h = s
                    for (j, bl) in branch.enumerated() {
                        inS[Tap(top: i, branch: b, j: j)] = h
                        h = try bl.outputShape(h)
                        outS[Tap(top: i, branch: b, j: j)] = h
                    }
                }
            }
            s = try l.spec.outputShape(s)
            outS[t] = s
        }
        return (inS, outS)
    }

    /// The ANN's activations at `taps` for the first `count` calibration images, 100 images at a time:
    /// `body(n, activations)` once per batch of n images, in image order.
    static func calibrationBatches(_ model: Sequential, _ calibration: LabeledImages, count: Int, taps: Set<Tap>, threads: Int,
                                   _ body: (Int, [Tap: Tensor]) throws -> Void) rethrows {
        var start = 0
        while start < count {
            let n = min(100, count - start)
            let x = Tensor(shape: [n] + model.inputShape,
                           values: Array(calibration.pixels[(start * calibration.sampleSize)..<((start + n) * calibration.sampleSize)]))
            try body(n, activations(model, x, taps: taps, threads: threads))
            start += n
        }
    }

    /// The outputs of the layers at `taps` for a batch (evaluation mode).
    static func activations(_ model: Sequential, _ x: Tensor, taps: Set<Tap>, threads: Int) -> [Tap: Tensor] {
        var out: [Tap: Tensor] = [:]
        var h = x
        let ctx = ForwardContext.eval(threads: threads)
        for (i, l) in model.layers.enumerated() {
            if let r = l as? Residual {
                let (b, s, y) = r.branchActivations(h, threads: threads)
                for (j, t) in b.enumerated() where taps.contains(Tap(top: i, branch: 0, j: j)) { out[Tap(top: i, branch: 0, j: j)] = t }
                for (j, t) in s.enumerated() where taps.contains(Tap(top: i, branch: 1, j: j)) { out[Tap(top: i, branch: 1, j: j)] = t }
                h = y
            } else {
                h = l.forward(h, ctx)
            }
            if taps.contains(Tap(top: i)) { out[Tap(top: i)] = h }
        }
        return out
    }

    /// Percentile (0...100) of `values` plus `zeros` further zeros (every value in `values` must be
    /// positive when `zeros` > 0) by linear interpolation between order statistics (NumPy's default);
    /// 0 for an empty list. Quickselect, O(n) on average.
    public static func percentile(_ values: [Float], _ p: Double, zeros: Int = 0) -> Float {
        guard !values.isEmpty else { return 0 }
        let n = values.count + zeros
        let pos = p / 100 * Double(n - 1)
        let lo = Int(pos.rounded(.down))
        let f = Float(pos - Double(lo))
        if lo + 1 < zeros { return 0 }                              // both order statistics are zeros
        if lo + 1 == zeros { return f == 0 ? 0 : values.min()! * f } // between the last zero and the smallest value
        let k = lo - zeros, hi = min(k + 1, values.count - 1)
        var a = values
        return a.withUnsafeMutableBufferPointer { b -> Float in
            let x = select(b, k)
            // the next order statistic is the minimum of the part right of k
            var y = x
            if hi > k {
                y = b[hi]
                for q in (k + 1)..<b.count where b[q] < y { y = b[q] }
            }
            return x + (y - x) * f
        }
    }

    /// Puts the k-th smallest element at index k (elements left of k are <= it, right are >=).
    static func select(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
        var lo = 0, hi = a.count - 1
        var rng = SplitMix(seed: 0x5eed)
        while lo < hi {
            let pivot = a[lo + Int(rng.next() % UInt64(hi - lo + 1))]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { break }
        }
        return a[k]
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
    }

    /// Converts `model` using calibration images (first `options.calibrationImages` of `calibration`).
    /// `source` (the model folder) is named in the errors about the model.
    public static func convert(_ model: Sequential, calibration: LabeledImages, options: ConversionOptions,
                               threads: Int = 1, source: String = "") throws -> ConvertedNetwork {
        guard options.percentile > 0 && options.percentile <= 100 else {
            throw ConversionError("the normalization percentile must be in (0, 100], got \(options.percentile)")
        }
        if let p = options.problem { throw ConversionError("conversion options: \(p)") }
        // a model with NaN or infinite weights converts to nonsense: refuse it, naming the tensor
        for (i, l) in model.layers.enumerated() {
            let floats = l.parameters.map { ("\(i).\($0.name)", $0.value) }
                + l.buffers.compactMap { b -> (String, Tensor)? in if case .float(let t) = b.value { return ("\(i).\(b.name)", t) } else { return nil } }
            for (key, t) in floats {
                if let j = t.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                    throw ConversionError("\(source.isEmpty ? "the model" : source): tensor '\(key)' (layer \(i), \(l.spec.typeName)) holds \(FiniteCheck.describe(t[flat: j])) at index \(j); only a model with finite weights can be converted")
                }
            }
        }
        guard model.inputShape.count == 3 else { throw ConversionError("the model input must be an image [C, H, W], got \(model.inputShape)") }
        guard calibration.sampleShape == model.inputShape else {
            throw ConversionError("\(calibration.source.isEmpty ? "calibration images" : calibration.source): the calibration images have shape \(calibration.sampleShape), \(source.isEmpty ? "the model" : source) expects \(model.inputShape) (use the data set the model was trained on)")
        }
        let groups: [Group]
        do { groups = try plan(model, options: options) } catch let e as ConversionError where !source.isEmpty {
            throw ConversionError("\(source): \(e.message)")   // which model the unsupported layer is in
        }
        let shapes = try model.spec.shapes()   // output shape of every ANN layer
        let (tapIn, tapOut) = try tapShapes(model)
        // the model's layer, with the model folder when known (errors below start with it)
        func name(_ g: Group) -> String {
            (source.isEmpty ? "" : "\(source): ")
                + (g.tap.branch < 0 ? "layer \(g.index) (\(model.layers[g.index].spec.typeName))"
                    : "layer \(g.index) (residual) body layer \(g.tap.j) (\(layer(model, g.tap).spec.typeName))")
        }

        // QCFS recipe (Bu et al. 2022): a hidden layer's scale is its trained threshold λ (per layer or
        // channel); the output layer needs no scale when read out by membrane potential (argmax).
        let recipe: ConversionRecipe = groups.contains { $0.qcfs != nil } ? .qcfs : .percentile
        var fixedScales: [Int: [Float]] = [:]
        if recipe == .qcfs {
            for (gi, g) in groups.enumerated() {
                if let q = g.qcfs {
                    guard let layer = Converter.layer(model, q) as? QCFS else { throw ConversionError("\(name(g)): expected a QCFS object after it") }
                    let lam = layer.threshold.value.scalars
                    if let j = lam.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
                        throw ConversionError("\(name(g)): QCFS threshold \(j) is \(lam[j]); QCFS thresholds must be finite and > 0 to convert")
                    }
                    fixedScales[gi] = lam
                } else if gi == groups.count - 1 && options.decoding == .membrane {
                    fixedScales[gi] = [1]
                }
            }
        }
        func calibrated(_ gi: Int) -> Bool { (groups[gi].kind == .conv || groups[gi].kind == .dense) && fixedScales[gi] == nil }

        // 1. Calibration: percentile of the activations per group (per channel or per layer): the
        // positive values are kept, the others only counted (they are zeros of the rate code).
        let nCal = groups.indices.contains(where: calibrated) ? min(options.calibrationImages, calibration.count) : 0
        guard nCal > 0 || !groups.indices.contains(where: calibrated) else { throw ConversionError("no calibration images (--calibration must be > 0)") }
        // The output layer always has one scale: per-class scales would reorder its outputs.
        func channelWise(_ gi: Int) -> Bool { options.normalization == .channel && gi < groups.count - 1 }
        var positives: [[[Float]]] = groups.enumerated().map { gi, g in
            let sh = tapOut[g.activation]!
            return Array(repeating: [], count: channelWise(gi) ? sh[0] : 1)
        }
        var nonPositive: [[Int]] = positives.map { Array(repeating: 0, count: $0.count) }
        calibrationBatches(model, calibration, count: nCal, taps: Set(groups.map(\.activation)), threads: threads) { n, acts in
            for (gi, g) in groups.enumerated() where calibrated(gi) {
                let a = acts[g.activation]!
                let sh = tapOut[g.activation]!
                let per = sh.dropFirst().reduce(1, *)   // spatial size (1 for dense)
                a.withUnsafeBufferPointer { p in
                    for s in 0..<n {
                        for c in 0..<sh[0] {
                            let k = channelWise(gi) ? c : 0
                            let base = (s * sh[0] + c) * per
                            var z = 0
                            for q in 0..<per { if p[base + q] > 0 { positives[gi][k].append(p[base + q]) } else { z += 1 } }
                            nonPositive[gi][k] += z
                        }
                    }
                }
            }
        }
        var scales: [[Float]] = []
        var prevScale: [Float] = [1]         // input u in [0, 1]
        for (gi, g) in groups.enumerated() {
            switch g.kind {
            case .conv, .dense:
                if let f = fixedScales[gi] {
                    scales.append(f)
                    prevScale = f
                    continue
                }
                let all = options.percentileOf == .all
                var sc = positives[gi].indices.map {
                    percentile(positives[gi][$0], options.percentile, zeros: all ? nonPositive[gi][$0] : 0)
                }
                if let j = sc.firstIndex(where: { !$0.isFinite }) {
                    throw ConversionError("\(name(g)): the calibration activations of channel \(j) are not finite (the model overflows on the calibration images)")
                }
                // a channel that never fired in calibration: keep its weights unscaled
                let fallback = sc.filter { $0 > 0 }.max() ?? 1
                sc = sc.map { $0 > 0 ? $0 : fallback }
                // Clip(0, c): rate 1 (the IF neuron's ceiling) stands for at most c
                if let c = g.ceiling { sc = sc.map { min($0, c) } }
                scales.append(sc)
                prevScale = sc
            case .avgPool, .maxPool:
                // pooling neurons carry their source's scale, or the λ of the QCFS after the pooling
                if let f = fixedScales[gi] { prevScale = f }
                scales.append(prevScale)
            }
        }

        // 2. Weights in engine layout, BN folded, normalized.
        var out: [SpikingLayer] = []
        var firstSpec: LayerSpec = .relu, firstW: [Float] = [], firstB: [Float] = []
        for (gi, g) in groups.enumerated() {
            let inS = tapIn[g.tap]!
            let outS = tapOut[g.activation]!
            let sc = scales[gi]
            let psc: [Float] = gi == 0 ? [1] : scales[gi - 1]
            func prevScale(channel c: Int) -> Float { psc.count == 1 ? psc[0] : psc[c] }
            func curScale(_ o: Int) -> Float { sc.count == 1 ? sc[0] : sc[o] }
            var layer = SpikingLayer(name: g.name, kind: g.kind, annIndex: g.index,
                                     absorbed: g.absorbed, inputShape: inS, outputShape: outS, weights: [], bias: [],
                                     scale: sc, isOutput: gi == groups.count - 1)
            switch g.kind {
            case .conv, .dense:
                var (w, b) = try foldedParameters(model, g.tap, g.bn)
                // the first layer's input spikes (Poisson encoding) carry u in [0, 1]; x = (u - mean)/std
                let input: Float = gi == 0 ? Normalization.identityScale(model.normalization) : 1
                if gi == 0 {
                    firstSpec = model.layers[g.index].spec
                    firstW = w; firstB = b
                }
                let outC = b.count
                if g.kind == .conv {
                    guard case let .conv2d(inC, _, k, st, p, _) = Converter.layer(model, g.tap).spec else { fatalError() }
                    layer.kernel = [k.h, k.w]; layer.stride = st.h; layer.padding = p.h
                    // [out][in][kh][kw] -> [kh][kw][in][out], scaled
                    var kw = [Float](repeating: 0, count: w.count)
                    for o in 0..<outC { for c in 0..<inC { for y in 0..<k.h { for x in 0..<k.w {
                        let src = ((o * inC + c) * k.h + y) * k.w + x
                        let dst = ((y * k.w + x) * inC + c) * outC + o
                        kw[dst] = w[src] * input * prevScale(channel: c) / curScale(o)
                    } } } }
                    layer.weights = kw
                } else {
                    let inF = inS.reduce(1, *)
                    // [out][in] -> [in (engine order)][out]; after a flatten of [C, H, W] the PyTorch
                    // feature f = (c H + y) W + x is engine neuron (y W + x) C + c
                    let prevShape = inS.count == 1 && g.flattenBefore ? flattenSource(shapes: shapes, model: model, before: g.index) : nil
                    var m = [Float](repeating: 0, count: w.count)
                    for f in 0..<inF {
                        var eng = f, ch = f
                        if let ps = prevShape {
                            let (C, H, W) = (ps[0], ps[1], ps[2])
                            let c = f / (H * W), y = (f / W) % H, x = f % W
                            eng = (y * W + x) * C + c
                            ch = c
                        }
                        for o in 0..<outC { m[eng * outC + o] = w[o * inF + f] * input * prevScale(channel: psc.count == 1 ? 0 : ch) / curScale(o) }
                    }
                    layer.weights = m
                }
                b = (0..<outC).map { b[$0] / curScale($0) }
                if let skip = g.skip {
                    // the shortcut into the join: W λ_src / λ_join (Rueckauer et al. 2017; Hu et al. 2018)
                    let src = out[skip.source]
                    let ssc = scales[skip.source]
                    func srcScale(_ c: Int) -> Float { ssc.count == 1 ? ssc[0] : ssc[c] }
                    var sp = SkipProjection(source: skip.source, kind: .identity, inputShape: src.outputShape, kernel: [1, 1],
                                            stride: 1, padding: 0, weights: [])
                    if let ct = skip.conv {
                        guard case let .conv2d(inC, _, k, st, p, _) = Converter.layer(model, ct).spec else { fatalError() }
                        let (sw, sb) = try foldedParameters(model, ct, skip.bn)
                        sp.kind = .conv
                        sp.kernel = [k.h, k.w]; sp.stride = st.h; sp.padding = p.h
                        var kw = [Float](repeating: 0, count: sw.count)
                        for o in 0..<outC { for c in 0..<inC { for y in 0..<k.h { for x in 0..<k.w {
                            kw[((y * k.w + x) * inC + c) * outC + o] = sw[((o * inC + c) * k.h + y) * k.w + x] * srcScale(c) / curScale(o)
                        } } } }
                        sp.weights = kw
                        for o in 0..<outC { b[o] += sb[o] / curScale(o) }
                    } else {
                        guard src.outputShape == outS else {
                            throw ConversionError("\(name(g)): the identity shortcut carries \(src.outputShape), the block outputs \(outS)")
                        }
                        sp.weights = (0..<outC).map { srcScale($0) / curScale($0) }
                    }
                    layer.skip = sp
                }
                layer.bias = b
            case .avgPool, .maxPool:
                if case .globalAvgPool = model.layers[g.index].spec {
                    // a window over the whole map: one output per channel
                    layer.kernel = [inS[1], inS[2]]; layer.stride = max(inS[1], inS[2])
                    layer.weights = (0..<(inS[1] * inS[2] * inS[0])).map { 1 / Float(inS[1] * inS[2]) * prevScale(channel: $0 % inS[0]) / curScale($0 % inS[0]) }
                    break
                }
                guard case let .avgPool2d(k, st) = model.layers[g.index].spec else {
                    guard case let .maxPool2d(k, st, p) = model.layers[g.index].spec else { fatalError() }
                    layer.kernel = [k.h, k.w]; layer.stride = st.h; layer.padding = p.h
                    out.append(layer)
                    continue
                }
                layer.kernel = [k.h, k.w]; layer.stride = st.h
                // [kh][kw][C]: 1/k² × λ_source/λ_pool (1/k² unless a QCFS after the pooling sets λ_pool)
                let c = inS[0]
                layer.weights = (0..<(k.h * k.w * c)).map { 1 / Float(k.h * k.w) * prevScale(channel: $0 % c) / curScale($0 % c) }
            }
            out.append(layer)
        }

        for (gi, l) in out.enumerated() {
            if let j = FiniteCheck.firstNonFinite(l.weights) ?? FiniteCheck.firstNonFinite(l.bias) ?? FiniteCheck.firstNonFinite(l.skip?.weights ?? []) {
                throw ConversionError("\(name(groups[gi])): normalized weights overflow at index \(j) (a calibration scale is too small); try --normalization layer or a higher --percentile")
            }
        }

        // potential correction: the ANN's target rates of the hidden layers (names survive folding)
        let nCorrection = recipe == .percentile && options.correctionSteps > 0 ? min(options.correctionImages, nCal) : 0
        let targets = nCorrection > 0
            ? PotentialCorrection.targets(model, groups: groups, scales: scales, shapes: tapOut, calibration: calibration, count: nCorrection, threads: threads)
            : []

        if options.avgPool == .fold {
            if let g = groups.first(where: { $0.kind == .avgPool && $0.qcfs != nil }) {
                throw ConversionError("\(name(g)): --avgpool fold would drop the QCFS activation after this pooling (the model was trained with it); use --avgpool neurons")
            }
            out = try foldAveragePooling(out)
        } else if options.globalPool == .fold {
            // a global pooling followed by a QCFS keeps its neurons: they carry that trained rounding
            let keep = Set(groups.filter { $0.kind == .avgPool && $0.qcfs != nil }.map(\.name))
            out = try foldAveragePooling(out, globalOnly: true, keep: keep)
        }

        // 3. First-layer offset for u = 0 (Poisson encoding), exact including zero padding.
        let conv = ConvertedNetwork(layers: out, options: options, inputShape: model.inputShape, classes: model.classes,
                                    inputNormalization: model.normalization, firstLayer: firstSpec,
                                    firstWeights: firstW, firstBias: firstB, firstLayerOffset: [], source: source, recipe: recipe)
        var result = conv
        let zero = [Float](repeating: 0, count: model.inputShape.reduce(1, *))
        result.firstLayerOffset = conv.firstLayerCurrents(pixels: zero, count: 1, threads: 1)
        if nCorrection > 0 {
            try PotentialCorrection.apply(&result, targets: targets, calibration: calibration, count: nCorrection,
                                          steps: options.correctionSteps, threads: threads)
        }
        return result
    }

    /// Folds average pooling layers into the conv/dense layer after them: every one (`--avgpool fold`,
    /// `ConversionOptions.avgPool == .fold`) or, with `globalOnly`, only a global average pooling whose
    /// next layer is the dense output layer (`ConversionOptions.globalPool == .fold`). Pooling p×p
    /// (stride p) then a conv (kernel k, stride s, no padding) is one conv with kernel k·p, stride s·p
    /// and weights W/p² over the unpooled map; pooling kh×kw then a dense layer (after flatten) is a
    /// dense layer over the unpooled map with W/(kh·kw) for every pixel of a window (pixels floor mode
    /// drops get 0); a global pooling over an H×W map is the case kh = H, kw = W: the dense weights
    /// replicated over the H·W positions and divided by H·W. Weights are in engine layout and already
    /// normalized. Shortcut sources are renumbered; a pooling that feeds a shortcut is not folded
    /// (refused by `--avgpool fold`, kept as neurons by the global-pooling default), nor one named in
    /// `keep` (a pooling followed by a QCFS activation).
    static func foldAveragePooling(_ layers: [SpikingLayer], globalOnly: Bool = false, keep: Set<String> = []) throws -> [SpikingLayer] {
        let sources = Set(layers.compactMap { $0.skip?.source })
        if !globalOnly, let s = sources.sorted().first(where: { layers[$0].kind == .avgPool }) {
            throw ConversionError("\(layers[s].name): --avgpool fold cannot fold a pooling whose spikes feed a residual shortcut; use --avgpool neurons")
        }
        func folds(_ i: Int) -> Bool {
            let l = layers[i]
            guard l.kind == .avgPool else { return false }
            guard globalOnly else { return true }
            return l.isGlobalPool && i + 1 < layers.count && layers[i + 1].kind == .dense && layers[i + 1].isOutput && !sources.contains(i)
                && !keep.contains(l.name)
        }
        var out: [SpikingLayer] = []
        var newIndex = [Int](repeating: -1, count: layers.count)
        var i = 0
        while i < layers.count {
            let pool = layers[i]
            guard folds(i) else { newIndex[i] = out.count; out.append(pool); i += 1; continue }
            let p = pool.kernel[0]
            // non-overlapping square windows; a global pooling over a non-square map folds into a dense layer only
            let square = pool.kernel[1] == p && (pool.stride == p || pool.isGlobalPool)
            guard i + 1 < layers.count, square || (pool.isGlobalPool && layers[i + 1].kind == .dense) else {
                throw ConversionError("\(pool.name): --avgpool fold needs non-overlapping square pooling (stride = kernel) followed by a conv or dense layer")
            }
            var next = layers[i + 1]
            let (C, H0, W0) = (pool.inputShape[0], pool.inputShape[1], pool.inputShape[2])
            let annMACs = next.macs
            switch next.kind {
            case .conv:
                guard next.padding == 0 else {
                    throw ConversionError("\(next.name): --avgpool fold cannot fold the pooling before a padded convolution; use --avgpool neurons")
                }
                let (k, outC) = (next.kernel[0], next.outputShape[0])
                let kf = k * p, inv = 1 / Float(p * p)
                var w = [Float](repeating: 0, count: kf * kf * C * outC)
                for y in 0..<kf { for x in 0..<kf { for c in 0..<C { for o in 0..<outC {
                    w[((y * kf + x) * C + c) * outC + o] = next.weights[(((y / p) * k + x / p) * C + c) * outC + o] * inv
                } } } }
                next.weights = w
                next.kernel = [kf, kf]
                next.stride *= p
            case .dense:
                let (Hp, Wp, outC) = (pool.outputShape[1], pool.outputShape[2], next.outputShape[0])
                let (kh, kw) = (pool.kernel[0], pool.kernel[1])
                let inv = 1 / Float(kh * kw)
                var w = [Float](repeating: 0, count: C * H0 * W0 * outC)
                for y in 0..<(Hp * kh) { for x in 0..<(Wp * kw) { for c in 0..<C { for o in 0..<outC {
                    w[((y * W0 + x) * C + c) * outC + o] = next.weights[(((y / kh) * Wp + x / kw) * C + c) * outC + o] * inv
                } } } }
                next.weights = w
            case .avgPool, .maxPool:
                throw ConversionError("\(pool.name): --avgpool fold needs a conv or dense layer after the pooling, found \(next.name)")
            }
            next.inputShape = next.kind == .dense ? [C * H0 * W0] : pool.inputShape
            next.absorbed = (next.absorbed + [pool.annIndex] + pool.absorbed).sorted()
            next.annMACs = annMACs
            newIndex[i + 1] = out.count
            out.append(next)
            i += 2
        }
        for k in out.indices {
            if var sk = out[k].skip { sk.source = newIndex[sk.source]; out[k].skip = sk }
        }
        return out
    }

    /// Shape before the flatten that precedes layer `index`.
    static func flattenSource(shapes: [[Int]], model: Sequential, before index: Int) -> [Int]? {
        var j = index - 1
        while j >= 0 {
            if case .flatten = model.layers[j].spec { return j == 0 ? model.inputShape : shapes[j - 1] }
            j -= 1
        }
        return nil
    }

    /// Weights [out, ...] and bias [out] of a conv/dense layer with its BatchNorm folded in.
    static func foldedParameters(_ model: Sequential, _ g: Group) throws -> ([Float], [Float]) {
        try foldedParameters(model, g.tap, g.bn)
    }

    /// Weights and bias of the conv/dense layer at `tap` with the BatchNorm at `bnTap` folded in.
    static func foldedParameters(_ model: Sequential, _ tap: Tap, _ bnTap: Tap?) throws -> ([Float], [Float]) {
        let layer = Converter.layer(model, tap)
        var w: [Float], b: [Float], outC: Int
        if let d = layer as? Dense {
            w = d.weight.value.scalars; outC = d.outFeatures
            b = d.bias?.value.scalars ?? [Float](repeating: 0, count: outC)
        } else if let c = layer as? Conv2D {
            w = c.weight.value.scalars; outC = c.outChannels
            b = c.bias?.value.scalars ?? [Float](repeating: 0, count: outC)
        } else {
            throw ConversionError("layer \(tap.top) (\(layer.spec.typeName)): expected a Dense or Conv2D object")
        }
        if let bt = bnTap, let bn = Converter.layer(model, bt) as? BatchNorm {
            let gamma = bn.gamma.value.scalars, beta = bn.beta.value.scalars
            let mu = bn.runningMean.scalars, vr = bn.runningVar.scalars
            let per = w.count / outC
            for o in 0..<outC {
                let k = Double(gamma[o]) / (Double(vr[o]) + bn.eps).squareRoot()
                for q in 0..<per { w[o * per + q] = Float(Double(w[o * per + q]) * k) }
                b[o] = Float((Double(b[o]) - Double(mu[o])) * k + Double(beta[o]))
            }
        }
        return (w, b)
    }
}

extension Normalization {
    /// Factor from u in [0, 1] to the model input x = (u - mean)/std, without the offset.
    static func identityScale(_ n: Normalization) -> Float { Float(1 / n.std) }
}

extension ConvertedNetwork {
    /// The first spiking layer's input current for each image (engine order, normalized), computed
    /// with the folded ANN first layer on the normalized pixels: exactly what the ANN's first layer
    /// (plus BatchNorm) produces, divided by the layer's scale. `pixels` are in [0, 1] (u), `count`
    /// images of `inputShape`.
    public func firstLayerCurrents(pixels: [Float], count: Int, threads: Int) -> [Float] {
        let l0 = layers[0]
        let n = inputNormalization
        let x = pixels.map { Float((Double($0) - n.mean) / n.std) }
        let input = Tensor(shape: [count] + inputShape, values: x)
        let y: Tensor
        switch firstLayer {
        case let .conv2d(inC, outC, k, st, p, _):
            let c = Conv2D(inChannels: inC, outChannels: outC, kernel: k, stride: st, padding: p, bias: true)
            c.weight.value = Tensor(shape: [outC, inC, k.h, k.w], values: firstWeights)
            c.bias!.value = Tensor(shape: [outC], values: firstBias)
            y = c.forward(input, .eval(threads: threads))
        case let .dense(inF, outF, _):
            let d = Dense(inFeatures: inF, outFeatures: outF, bias: true)
            d.weight.value = Tensor(shape: [outF, inF], values: firstWeights)
            d.bias!.value = Tensor(shape: [outF], values: firstBias)
            y = d.forward(input.reshaped([count, inF]), .eval(threads: threads))
        default:
            return []
        }
        // [N, C, H, W] -> engine order per image, divided by the scale
        let sh = l0.outputShape
        let size = l0.size
        // every element written below (no zero fill first); raw pointers in the loops (no bounds checks)
        return [Float](unsafeUninitializedCapacity: count * size) { out, written in
            y.withUnsafeBufferPointer { p in
                if sh.count == 3 {
                    let (C, HW) = (sh[0], sh[1] * sh[2])
                    for s in 0..<count { for c in 0..<C {
                        let inv = 1 / l0.scale(channel: c)
                        let src = p.baseAddress! + (s * C + c) * HW, dst = out.baseAddress! + s * size + c
                        for q in 0..<HW { dst[q * C] = src[q] * inv }
                    } }
                } else {
                    for s in 0..<count { for f in 0..<size { out[s * size + f] = p[s * size + f] / l0.scale(channel: f) } }
                }
            }
            written = count * size
        }
    }
}
