import ANN
import Common
import Datasets
import Foundation

/// On-disk form of a converted network, a folder with
/// - `network.json`: format tag, options, input shape and normalization, and per layer its kind,
///   shapes, geometry, normalization scales and the ANN layers it stands for;
/// - `weights.safetensors`: `layers.<k>.weight` (engine layout, normalized), `layers.<k>.bias`,
///   `first.weight`/`first.bias` (ANN-form first layer with BatchNorm folded), `first.offset`.
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
                                             : $0.kind == .conv ? "kernel [kh][kw][in][out]" : $0.kind == .avgPool ? "depthwise kernel [kh][kw][C]" : "spike-count gate, weight 1")
                         })
        var tensors: [(key: String, value: StateValue)] = []
        for (k, l) in layers.enumerated() {
            if !l.weights.isEmpty { tensors.append(("layers.\(k).weight", .float(Tensor(shape: [l.weights.count], values: l.weights)))) }
            if !l.bias.isEmpty { tensors.append(("layers.\(k).bias", .float(Tensor(shape: [l.bias.count], values: l.bias)))) }
        }
        tensors.append(("first.weight", .float(Tensor(shape: firstShape, values: firstWeights))))
        tensors.append(("first.bias", .float(Tensor(shape: [firstBias.count], values: firstBias))))
        tensors.append(("first.offset", .float(Tensor(shape: [firstLayerOffset.count], values: firstLayerOffset))))
        try dir.write(JSONOutput.encode(rec), Self.specFile)
        try dir.write(Safetensors.encode(tensors, metadata: ["format": Self.format]), Self.weightsFile)
        try dir.commit()
    }

    /// Reads a folder written by `save`, checking the format and every tensor's size.
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
        let tensors: [String: StateValue]
        do { tensors = try Safetensors.read(path: weightsPath).tensors } catch {
            throw ConversionError("\(error)")
        }
        func floats(_ key: String, _ count: Int) throws -> [Float] {
            guard let v = tensors[key] else { throw ConversionError("\(weightsPath): missing tensor '\(key)'") }
            guard case .float(let t) = v, t.count == count else {
                throw ConversionError("\(weightsPath): tensor '\(key)' has shape \(v.shape), expected \(count) float32 values")
            }
            return t.scalars
        }
        var layers: [SpikingLayer] = []
        for (k, r) in rec.layers.enumerated() {
            let size = r.output_shape.reduce(1, *)
            guard size == r.neurons, size > 0 else { throw ConversionError("\(specPath): layer \(k) has inconsistent shapes") }
            var l = SpikingLayer(name: r.name, kind: r.kind, annIndex: r.ann_index, absorbed: r.absorbed, inputShape: r.input_shape,
                                 outputShape: r.output_shape, kernel: r.kernel, stride: r.stride, padding: r.padding,
                                 weights: [], bias: [], scale: r.scale, isOutput: r.is_output)
            let inC = r.input_shape.first ?? 0, outC = r.output_shape.first ?? 0
            switch r.kind {
            case .conv:
                guard r.kernel.count == 2 else { throw ConversionError("\(specPath): layer \(k) (conv) needs a kernel [kh, kw]") }
                l.weights = try floats("layers.\(k).weight", r.kernel[0] * r.kernel[1] * inC * outC)
                l.bias = try floats("layers.\(k).bias", outC)
            case .dense:
                l.weights = try floats("layers.\(k).weight", r.input_shape.reduce(1, *) * outC)
                l.bias = try floats("layers.\(k).bias", outC)
            case .avgPool:
                guard r.kernel.count == 2 else { throw ConversionError("\(specPath): layer \(k) (avgPool) needs a kernel") }
                l.weights = try floats("layers.\(k).weight", r.kernel[0] * r.kernel[1] * inC)
            case .maxPool:
                guard r.kernel.count == 2 else { throw ConversionError("\(specPath): layer \(k) (maxPool) needs a kernel") }
            }
            guard l.scale.count == 1 || l.scale.count == outC else { throw ConversionError("\(specPath): layer \(k) has \(l.scale.count) scales for \(outC) channels") }
            layers.append(l)
        }
        guard !layers.isEmpty, layers.last!.isOutput else { throw ConversionError("\(specPath): no output layer") }
        let fs = rec.first_layer_shape
        let first: LayerSpec
        switch rec.first_layer {
        case "conv2d":
            guard fs.count == 4 else { throw ConversionError("\(specPath): first_layer_shape must be [out, in, kh, kw]") }
            first = .conv2d(inChannels: fs[1], outChannels: fs[0], kernel: Size2(fs[2], fs[3]), stride: Size2(rec.first_layer_stride),
                            padding: Size2(rec.first_layer_padding), bias: true)
        case "dense":
            guard fs.count == 2 else { throw ConversionError("\(specPath): first_layer_shape must be [out, in]") }
            first = .dense(inFeatures: fs[1], outFeatures: fs[0], bias: true)
        default:
            throw ConversionError("\(specPath): first_layer '\(rec.first_layer)' must be conv2d or dense")
        }
        return ConvertedNetwork(layers: layers, options: rec.options, inputShape: rec.input_shape, classes: rec.classes,
                                inputNormalization: rec.input_normalization, firstLayer: first,
                                firstWeights: try floats("first.weight", fs.reduce(1, *)),
                                firstBias: try floats("first.bias", fs[0]),
                                firstLayerOffset: try floats("first.offset", layers[0].size), source: rec.source)
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
