import ANN
import Common
import Datasets
import Foundation

/// On-disk form of a converted network, a folder with
/// - `network.json`: format tag, options, input shape and normalization, and per layer its kind,
///   shapes, geometry, normalization scales and the ANN layers it stands for;
/// - `weights.safetensors`: `layers.<k>.weight` (engine layout, normalized), `layers.<k>.bias`,
///   `first.weight`/`first.bias` (ANN-form first layer with BatchNorm folded), `first.offset`, and
///   `layers.<k>.initial_potential` (per channel, fraction of the threshold in [0, 1)) for a layer
///   whose initial potentials the potential correction set.
/// `neuromorph simulate SNN_DIR` and `ConvertedNetwork.load` read it back.
extension ConvertedNetwork {
    public static let format = "neuromorph.converted-snn"
    public static let specFile = "network.json"
    public static let weightsFile = "weights.safetensors"

    struct LayerRecord: Codable {
        var name: String
        var kind: SpikingLayer.Kind
        var ann_index: Int
        var absorbed: [Int]
        var input_shape: [Int]
        var output_shape: [Int]
        var kernel: [Int]
        var stride: Int
        var padding: Int
        var scale: [Float]
        var is_output: Bool
        var neurons: Int
        var synapses_note: String
        /// MACs of the ANN layer when an average pooling was folded in (absent otherwise).
        var ann_macs: Int64?
        /// The shortcut projection of a residual join layer (absent for plain layers).
        var skip: SkipRecord?
    }

    /// A residual shortcut: spikes of layer `source` through the identity (depthwise 1×1, weights [C])
    /// or a convolution (weights [kh][kw][in][out]); tensor `layers.<k>.skip_weight`.
    struct SkipRecord: Codable {
        var source: Int
        var kind: SkipProjection.Kind
        var input_shape: [Int]
        var kernel: [Int]
        var stride: Int
        var padding: Int
    }

    struct Record: Codable {
        var format: String
        var version: Int
        var source: String
        var options: ConversionOptions
        var input_shape: [Int]
        var classes: Int
        var input_normalization: Normalization
        var first_layer: String
        var first_layer_shape: [Int]
        var first_layer_stride: Int
        var first_layer_padding: Int
        var layers: [LayerRecord]
        /// How the scales were chosen; absent in files written before QCFS conversion (= percentile).
        var recipe: ConversionRecipe?
    }

    /// Writes the folder atomically, under the output policy (`policy`: a `convert` output).
    public func save(to path: String, policy: OutputPolicy = OutputPolicy(kind: .convert)) throws {
        try save(into: AtomicDirectory(path, policy: policy))
    }

    /// Writes the network into a staged folder and commits it.
    public func save(into dir: AtomicDirectory) throws {
        var firstShape: [Int] = [], st = 1, pad = 0
        switch firstLayer {
        case let .conv2d(i, o, k, s, p, _): firstShape = [o, i, k.h, k.w]; st = s.h; pad = p.h
        case let .dense(i, o, _): firstShape = [o, i]
        default: break
        }
        let rec = Record(format: Self.format, version: 1, source: source, options: options, input_shape: inputShape,
                         classes: classes, input_normalization: inputNormalization, first_layer: firstLayer.typeName,
                         first_layer_shape: firstShape, first_layer_stride: st, first_layer_padding: pad,
                         layers: layers.map {
                             LayerRecord(name: $0.name, kind: $0.kind, ann_index: $0.annIndex, absorbed: $0.absorbed,
                                         input_shape: $0.inputShape, output_shape: $0.outputShape, kernel: $0.kernel,
                                         stride: $0.stride, padding: $0.padding, scale: $0.scale, is_output: $0.isOutput,
                                         neurons: $0.size,
                                         synapses_note: $0.kind == .dense ? "weights [in][out], inputs in engine (HWC) order"
                                             : $0.kind == .conv ? "kernel [kh][kw][in][out]" : $0.kind == .avgPool ? "depthwise kernel [kh][kw][C]" : "spike-count gate, weight 1",
                                         ann_macs: $0.annMACs,
                                         skip: $0.skip.map { SkipRecord(source: $0.source, kind: $0.kind, input_shape: $0.inputShape, kernel: $0.kernel,
                                                                        stride: $0.stride, padding: $0.padding) })
                         }, recipe: recipe)
        var tensors: [(key: String, value: StateValue)] = []
        for (k, l) in layers.enumerated() {
            if !l.weights.isEmpty { tensors.append(("layers.\(k).weight", .float(Tensor(shape: [l.weights.count], values: l.weights)))) }
            if !l.bias.isEmpty { tensors.append(("layers.\(k).bias", .float(Tensor(shape: [l.bias.count], values: l.bias)))) }
            if let sk = l.skip { tensors.append(("layers.\(k).skip_weight", .float(Tensor(shape: [sk.weights.count], values: sk.weights)))) }
            if !l.initialPotential.isEmpty {
                tensors.append(("layers.\(k).initial_potential", .float(Tensor(shape: [l.initialPotential.count], values: l.initialPotential))))
            }
        }
        tensors.append(("first.weight", .float(Tensor(shape: firstShape, values: firstWeights))))
        tensors.append(("first.bias", .float(Tensor(shape: [firstBias.count], values: firstBias))))
        tensors.append(("first.offset", .float(Tensor(shape: [firstLayerOffset.count], values: firstLayerOffset))))
        try dir.write(JSONOutput.encode(rec), Self.specFile)
        try dir.write(Safetensors.encode(tensors, metadata: ["format": Self.format]), Self.weightsFile)
        try dir.commit()
    }

    /// Reads a folder written by `save`. Both files are checked for meaning before anything is built:
    /// the format, the options (`ConversionOptions.problem`), the input shape and normalization, every
    /// layer's geometry (sizes, kernel, stride > 0, padding; output = (in + 2p − k)/s + 1; shapes chain
    /// from the input through the layers; neurons = output size; scales finite and > 0), exactly one
    /// output layer (the last, with `classes` neurons), the first layer's ANN form against layer 0, and
    /// every tensor (present, the size the geometry needs, finite). Errors name the file and the key.
    public static func load(_ path: String) throws -> ConvertedNetwork {
        let specPath = (path as NSString).appendingPathComponent(specFile)
        let weightsPath = (path as NSString).appendingPathComponent(weightsFile)
        guard let data = FileManager.default.contents(atPath: specPath) else {
            throw ConversionError("\(specPath): cannot read the file; expected a folder written by `neuromorph convert`")
        }
        let rec: Record
        do { rec = try JSONDecoder().decode(Record.self, from: data) } catch {
            throw ConversionError("\(specPath): not a converted network (\(Self.describe(error)))")
        }
        guard rec.format == format else { throw ConversionError("\(specPath): format is '\(rec.format)', expected '\(format)'") }
        guard rec.version == 1 else { throw ConversionError("\(specPath): version \(rec.version) is not supported (expected 1)") }
        let counts = try rec.check(specPath)
        let tensors: [String: StateValue]
        do { tensors = try Safetensors.read(path: weightsPath).tensors } catch {
            throw ConversionError("\(error)")
        }
        var used = Set<String>()
        func floats(_ key: String, _ count: Int) throws -> [Float] {
            guard let v = tensors[key] else { throw ConversionError("\(weightsPath): missing tensor '\(key)' (expected \(count) float32 values)") }
            guard case .float(let t) = v, t.count == count else {
                throw ConversionError("\(weightsPath): tensor '\(key)' has shape \(v.shape), expected \(count) float32 values")
            }
            if let j = t.withUnsafeBufferPointer({ FiniteCheck.firstNonFinite($0) }) {
                throw ConversionError("\(weightsPath): tensor '\(key)' holds \(FiniteCheck.describe(t[flat: j])) at index \(j); a converted network needs finite weights (was the model's training unstable?)")
            }
            used.insert(key)
            return t.scalars
        }
        var layers: [SpikingLayer] = []
        for (k, r) in rec.layers.enumerated() {
            var l = SpikingLayer(name: r.name, kind: r.kind, annIndex: r.ann_index, absorbed: r.absorbed, inputShape: r.input_shape,
                                 outputShape: r.output_shape, kernel: r.kernel, stride: r.stride, padding: r.padding,
                                 weights: [], bias: [], scale: r.scale, isOutput: r.is_output)
            if let w = counts.weights[k] { l.weights = try floats("layers.\(k).weight", w) }
            if let b = counts.bias[k] { l.bias = try floats("layers.\(k).bias", b) }
            if let m = r.ann_macs {
                guard m >= 0 else { throw ConversionError("\(path)/\(Self.specFile): layers[\(k)].ann_macs must be >= 0, found \(m)") }
                l.annMACs = m
            }
            if let sk = r.skip, let n = counts.skip[k] {
                l.skip = SkipProjection(source: sk.source, kind: sk.kind, inputShape: sk.input_shape, kernel: sk.kernel, stride: sk.stride,
                                        padding: sk.padding, weights: try floats("layers.\(k).skip_weight", n))
            }
            let v0Key = "layers.\(k).initial_potential"
            if tensors[v0Key] != nil {
                guard (r.kind == .conv || r.kind == .dense) && !r.is_output else {
                    throw ConversionError("\(weightsPath): tensor '\(v0Key)': only a hidden conv or dense layer has corrected initial potentials, layers[\(k)] is \(r.is_output ? "the output layer" : r.kind.rawValue)")
                }
                let v0 = try floats(v0Key, r.output_shape[0])
                if let j = v0.firstIndex(where: { !($0 >= 0 && $0 < 1) }) {
                    throw ConversionError("\(weightsPath): tensor '\(v0Key)' holds \(v0[j]) at index \(j); initial potentials are fractions of the threshold in [0, 1)")
                }
                l.initialPotential = v0
            }
            layers.append(l)
        }
        let fs = rec.first_layer_shape
        let first: LayerSpec
        switch rec.first_layer {
        case "conv2d":
            first = .conv2d(inChannels: fs[1], outChannels: fs[0], kernel: Size2(fs[2], fs[3]), stride: Size2(rec.first_layer_stride),
                            padding: Size2(rec.first_layer_padding), bias: true)
        default:
            first = .dense(inFeatures: fs[1], outFeatures: fs[0], bias: true)
        }
        let net = ConvertedNetwork(layers: layers, options: rec.options, inputShape: rec.input_shape, classes: rec.classes,
                                   inputNormalization: rec.input_normalization, firstLayer: first,
                                   firstWeights: try floats("first.weight", counts.firstWeights),
                                   firstBias: try floats("first.bias", fs[0]),
                                   firstLayerOffset: try floats("first.offset", layers[0].size), source: rec.source,
                                   recipe: rec.recipe ?? .percentile)
        if let extra = tensors.keys.filter({ !used.contains($0) }).sorted().first {
            throw ConversionError("\(weightsPath): unexpected tensor '\(extra)': \(specFile) describes no such weights")
        }
        return net
    }

    static func describe(_ e: Error) -> String {
        switch e {
        case DecodingError.keyNotFound(let k, _): return "missing key '\(k.stringValue)'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "wrong type at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let c): return c.debugDescription
        default: return "\(e)"
        }
    }
}

extension ConvertedNetwork.Record {
    /// Element counts of the tensors a valid record needs (per layer index; nil = the layer has none).
    struct TensorCounts {
        var weights: [Int: Int] = [:]
        var bias: [Int: Int] = [:]
        var skip: [Int: Int] = [:]
        var firstWeights = 0
    }

    /// Checks network.json for meaning (see `ConvertedNetwork.load`) and returns the tensor sizes
    /// the geometry implies. Every error names `path`, the key and what was expected.
    func check(_ path: String) throws -> TensorCounts {
        func fail(_ key: String, _ m: String) -> ConversionError { ConversionError("\(path): \(key): \(m)") }
        let maxSize = LayerSpec.maxSize
        func sizes(_ s: [Int], _ key: String, rank: [Int]) throws -> Int {
            guard rank.contains(s.count) else {
                throw fail(key, "expected \(rank.map { "\($0)" }.joined(separator: " or ")) dimensions, found \(s)")
            }
            guard s.allSatisfy({ $0 > 0 && $0 <= maxSize }), let n = CheckedMath.product(s) else {
                throw fail(key, "sizes must be in 1...\(maxSize) (with a product that fits), found \(s)")
            }
            return n
        }
        func count(_ dims: [Int], _ key: String) throws -> Int {
            guard let n = CheckedMath.product(dims) else { throw fail(key, "the tensor size \(dims) overflows") }
            return n
        }
        if let p = options.problem { throw fail("options", p) }
        let inputSize = try sizes(input_shape, "input_shape", rank: [3])
        if let p = input_normalization.problem { throw fail("input_normalization", p) }
        guard classes >= 2 && classes <= ModelSpec.maxClasses else {
            throw fail("classes", "must be in 2...\(ModelSpec.maxClasses), found \(classes)")
        }
        guard !layers.isEmpty else { throw fail("layers", "the network has no layers") }
        var counts = TensorCounts()
        var names = Set<String>()
        var prevShape = input_shape
        for (k, r) in layers.enumerated() {
            let key = "layers[\(k)]"
            guard !r.name.isEmpty, !names.contains(r.name), r.name != ConvertedNetwork.inputPopulation else {
                throw fail("\(key).name", "'\(r.name)' must be a unique, non-empty name other than '\(ConvertedNetwork.inputPopulation)'")
            }
            names.insert(r.name)
            let isImage = r.kind != .dense
            let inSize = try sizes(r.input_shape, "\(key).input_shape", rank: isImage ? [3] : [1])
            let outSize = try sizes(r.output_shape, "\(key).output_shape", rank: isImage ? [3] : [1])
            guard r.neurons == outSize else {
                throw fail("\(key).neurons", "is \(r.neurons), but output_shape \(r.output_shape) has \(outSize) neurons")
            }
            // shapes chain: from the network input (or the previous layer), possibly through a flatten
            let chained = r.input_shape == prevShape || (r.kind == .dense && CheckedMath.product(prevShape) == inSize)
            guard chained else {
                throw fail("\(key).input_shape", "is \(r.input_shape), but \(k == 0 ? "the network input (input_shape) is" : "layers[\(k - 1)] outputs") \(prevShape)")
            }
            prevShape = r.output_shape
            let outC = r.output_shape[0]
            if isImage {
                guard r.kernel.count == 2, r.kernel.allSatisfy({ $0 > 0 && $0 <= maxSize }) else {
                    throw fail("\(key).kernel", "must be [kh, kw] with sizes in 1...\(maxSize), found \(r.kernel)")
                }
                guard r.stride > 0 && r.stride <= maxSize else { throw fail("\(key).stride", "must be in 1...\(maxSize), found \(r.stride)") }
                let maxPad = r.kind == .conv ? maxSize : r.kind == .maxPool ? min(r.kernel[0], r.kernel[1]) / 2 : 0
                guard r.padding >= 0 && r.padding <= maxPad else {
                    throw fail("\(key).padding", r.kind == .conv ? "must be in 0...\(maxSize), found \(r.padding)"
                               : r.kind == .maxPool ? "max pooling takes a padding of at most half the kernel (\(maxPad)), found \(r.padding)"
                               : "average pooling has no padding, found \(r.padding)")
                }
                let (c, h, w) = (r.input_shape[0], r.input_shape[1], r.input_shape[2])
                guard h + 2 * r.padding >= r.kernel[0], w + 2 * r.padding >= r.kernel[1] else {
                    throw fail("\(key).kernel", "\(r.kernel) is larger than the padded input \(h + 2 * r.padding)x\(w + 2 * r.padding)")
                }
                let oh = (h + 2 * r.padding - r.kernel[0]) / r.stride + 1, ow = (w + 2 * r.padding - r.kernel[1]) / r.stride + 1
                guard r.output_shape[1] == oh, r.output_shape[2] == ow else {
                    throw fail("\(key).output_shape", "is \(r.output_shape), but input \(r.input_shape) with kernel \(r.kernel), stride \(r.stride), padding \(r.padding) gives [\(outC), \(oh), \(ow)]")
                }
                switch r.kind {
                case .conv:
                    counts.weights[k] = try count([r.kernel[0], r.kernel[1], c, outC], "\(key).kernel")
                    counts.bias[k] = outC
                case .avgPool, .maxPool:
                    guard outC == c else { throw fail("\(key).output_shape", "pooling keeps the \(c) channels of its input, found \(outC)") }
                    if r.kind == .avgPool { counts.weights[k] = try count([r.kernel[0], r.kernel[1], c], "\(key).kernel") }
                case .dense: break
                }
            } else {
                // what the writer puts there: a dense layer has no kernel, stride 1 and no padding
                guard r.kernel.isEmpty else { throw fail("\(key).kernel", "a dense layer has no kernel (expected []), found \(r.kernel)") }
                guard r.stride == 1, r.padding == 0 else {
                    throw fail(r.stride == 1 ? "\(key).padding" : "\(key).stride", "a dense layer has stride 1 and padding 0, found stride \(r.stride), padding \(r.padding)")
                }
                counts.weights[k] = try count([inSize, outC], "\(key).output_shape")
                counts.bias[k] = outC
            }
            if let sk = r.skip {
                // a residual shortcut: from an earlier layer, its geometry giving this layer's output
                let skey = "\(key).skip"
                guard r.kind == .conv else { throw fail("\(skey)", "only a conv layer can be a residual join, found \(r.kind.rawValue)") }
                guard sk.source >= 0 && sk.source < k else { throw fail("\(skey).source", "must name an earlier layer (0...\(k - 1)), found \(sk.source)") }
                guard sk.input_shape == layers[sk.source].output_shape else {
                    throw fail("\(skey).input_shape", "is \(sk.input_shape), but layers[\(sk.source)] outputs \(layers[sk.source].output_shape)")
                }
                guard sk.kernel.count == 2, sk.kernel.allSatisfy({ $0 > 0 && $0 <= maxSize }), sk.stride > 0, sk.stride <= maxSize,
                      sk.padding >= 0, sk.padding <= maxSize else {
                    throw fail("\(skey)", "kernel \(sk.kernel), stride \(sk.stride), padding \(sk.padding) are out of range")
                }
                let (sh, sw) = (sk.input_shape[1] + 2 * sk.padding - sk.kernel[0], sk.input_shape[2] + 2 * sk.padding - sk.kernel[1])
                guard sh >= 0, sw >= 0, [outC, sh / sk.stride + 1, sw / sk.stride + 1] == r.output_shape,
                      sk.kind == .conv || (sk.input_shape == r.output_shape && sk.kernel == [1, 1] && sk.stride == 1 && sk.padding == 0) else {
                    throw fail("\(skey)", "its geometry does not map \(sk.input_shape) onto the layer's output \(r.output_shape)")
                }
                counts.skip[k] = sk.kind == .identity ? outC : try count([sk.kernel[0], sk.kernel[1], sk.input_shape[0], outC], "\(skey).kernel")
            }
            guard r.scale.count == 1 || r.scale.count == outC else {
                throw fail("\(key).scale", "has \(r.scale.count) values, expected 1 or one per output channel (\(outC))")
            }
            if let j = r.scale.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
                throw fail("\(key).scale", "value \(j) is \(r.scale[j]); normalization scales must be finite and > 0")
            }
            let last = k == layers.count - 1
            guard r.is_output == last else {
                throw fail("\(key).is_output", last ? "the last layer must be the network's single output layer" : "only the last layer may be the output (exactly one output layer)")
            }
            if k == 0 && !(r.kind == .conv || r.kind == .dense) {
                throw fail("\(key).kind", "the first layer must be conv or dense (it receives the input), found \(r.kind.rawValue)")
            }
            if last {
                guard r.kind == .conv || r.kind == .dense else { throw fail("\(key).kind", "the output layer must be conv or dense, found \(r.kind.rawValue)") }
                guard r.output_shape == [classes] else {
                    throw fail("\(key).output_shape", "the output layer gives \(r.output_shape), expected [\(classes)] (one neuron per class)")
                }
            }
        }
        // the first layer in ANN form must be layer 0 (same geometry), fed by the network input
        let l0 = layers[0]
        let fs = first_layer_shape
        switch first_layer {
        case "conv2d":
            let want = [l0.output_shape[0], input_shape[0]] + l0.kernel
            guard l0.kind == .conv, fs == want else {
                throw fail("first_layer_shape", "must be [out, in, kh, kw] = \(l0.kind == .conv ? "\(want)" : "that of a conv layer 0") , found \(fs)")
            }
            guard first_layer_stride == l0.stride else {
                throw fail("first_layer_stride", "must be layers[0].stride (\(l0.stride)), found \(first_layer_stride)")
            }
            guard first_layer_padding == l0.padding else {
                throw fail("first_layer_padding", "must be layers[0].padding (\(l0.padding)), found \(first_layer_padding)")
            }
        case "dense":
            guard l0.kind == .dense, fs == [l0.neurons, inputSize] else {
                throw fail("first_layer_shape", "must be [out, in] = [\(l0.neurons), \(inputSize)] for a dense layer 0, found \(fs)")
            }
        default:
            throw fail("first_layer", "'\(first_layer)' must be conv2d or dense")
        }
        counts.firstWeights = try count(fs, "first_layer_shape")
        return counts
    }
}
