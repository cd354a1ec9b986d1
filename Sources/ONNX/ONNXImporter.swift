import ANN
import Common
import Datasets
import Foundation
import SwiftProtobuf

/// What `ONNXImporter` was told beyond the file: values the graph does not carry or that override it.
public struct ONNXImportOptions: Sendable {
    /// Per-sample input shape [C, H, W] or [F]; nil: from the graph input (its non-batch dimensions
    /// must then be fixed sizes).
    public var inputShape: [Int]?
    /// Pixel preprocessing the network was trained with (ONNX graphs do not record it); nil: [0, 1]
    /// pixels (`Normalization.unit`).
    public var normalization: Normalization?

    public init(inputShape: [Int]? = nil, normalization: Normalization? = nil) {
        self.inputShape = inputShape
        self.normalization = normalization
    }
}

/// An imported model and where its settings came from.
public struct ONNXImportResult {
    public var model: Sequential
    /// "graph" or "flag": where the input shape came from.
    public var inputShapeSource: String
    /// "flag" or "default ([0, 1] pixels)".
    public var normalizationSource: String
    /// Default-domain opset of the file.
    public var opset: Int
    /// `producer_name producer_version` of the file.
    public var producer: String
    /// Nodes of the graph (Constant nodes included).
    public var nodeCount: Int
}

/// Imports an ONNX model (as PyTorch's exporters write it: `torch.onnx.export(..., dynamo=False)`,
/// opset 17 by default, or `dynamo=True`, opsets 18+, weights in `MODEL.onnx.data`) into a
/// `Sequential`, so that `eval`, `convert` and `compare` work on it.
///
/// Supported (default domain, opset 13 and later): Conv (any stride, symmetric padding, group 1,
/// dilation 1), Gemm, MatMul (+ Add of a constant bias), Relu, Clip (both bounds constant, or lower 0
/// = ReLU), MaxPool (padding allowed) and AveragePool (no padding), GlobalAveragePool, ReduceMean over H and W, Flatten
/// (axis 1), Reshape to [N, -1], BatchNormalization (inference), Add of two branches (a residual
/// block: the graph forks at one tensor into two chains that meet at the Add), Identity, Dropout,
/// Constant. Everything else is refused naming the node, its op type and the reason, before anything
/// is written.
public enum ONNXImporter {
    /// Largest .onnx file read (protobuf's own limit is 2 GiB).
    public static let maxFileBytes = 2_000_000_000

    /// Reads and imports `path`.
    public static func importFile(_ path: String, options: ONNXImportOptions = ONNXImportOptions()) throws -> ONNXImportResult {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw ONNXError("\(path): no such ONNX file")
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxFileBytes else { throw ONNXError("\(path): the file has \(size) bytes, more than the \(maxFileBytes) an ONNX protobuf can hold") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ONNXError("\(path): cannot read the file") }
        return try importData(data, path: path, options: options)
    }

    /// Imports an ONNX model held in `data`; `path` names it in messages and locates external data.
    public static func importData(_ data: Data, path: String, options: ONNXImportOptions = ONNXImportOptions()) throws -> ONNXImportResult {
        if data.isEmpty { throw ONNXError("\(path): the file is empty, not an ONNX model") }
        if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            throw ONNXError("\(path): this is a zip archive (a PyTorch .pt/.pth checkpoint?), not an ONNX model; export one with torch.onnx.export")
        }
        if data.starts(with: Array("{".utf8)) || data.starts(with: [0x89, 0x48, 0x44, 0x46]) {
            throw ONNXError("\(path): this is a JSON or HDF5 file, not an ONNX model (a protobuf ModelProto)")
        }
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw ONNXError("\(path): not a valid ONNX model: the protobuf does not decode (\(describe(error))); the file is truncated, corrupted or of another format")
        }
        guard proto.hasGraph, !proto.graph.node.isEmpty else {
            throw ONNXError("\(path): not an ONNX model: it has no graph (or an empty one)")
        }
        let opsets = proto.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let opset = opsets.map({ Int($0.version) }).max() else {
            throw ONNXError("\(path): the model imports no default-domain opset; expected opset 13 or later")
        }
        guard opset >= 13 else {
            throw ONNXError("\(path): opset \(opset) is not supported; expected 13 or later (PyTorch 2.x writes 17 or 18+), re-export with opset_version=17")
        }
        var builder = GraphBuilder(graph: proto.graph, path: path, opset: opset, reader: ONNXTensorReader(modelPath: path))
        let (inputShape, shapeSource) = try builder.inputShape(override: options.inputShape)
        let items = try builder.build(inputShape: inputShape)
        let norm = options.normalization ?? .unit
        var specs: [LayerSpec] = []
        var state: [String: StateValue] = [:]
        for (i, item) in items.enumerated() {
            specs.append(item.spec)
            for (k, t) in item.tensors { state["\(i).\(k)"] = .float(t) }
        }
        let shapes: [[Int]]
        do {
            shapes = try ModelSpec(inputShape: inputShape, layers: specs, normalization: norm, classes: 2).shapes()
        } catch let e as ANNError {
            throw ONNXError("\(path): the imported layers do not chain: \(e.description)")
        }
        guard let out = shapes.last, out.count == 1, out[0] >= 2 else {
            throw ONNXError("\(path): the graph output has per-sample shape \(shapes.last ?? []); expected one vector of class scores [classes], classes >= 2")
        }
        let spec = ModelSpec(inputShape: inputShape, layers: specs, normalization: norm, classes: out[0])
        let model: Sequential
        do {
            try spec.validate()
            model = try Sequential(spec: spec, seed: 0)
            try model.loadState(state, source: path)
        } catch let e as ANNError {
            throw ONNXError("\(path): \(e.description)")
        }
        return ONNXImportResult(model: model, inputShapeSource: shapeSource,
                                normalizationSource: options.normalization == nil ? "default ([0, 1] pixels)" : "flag",
                                opset: opset, producer: "\(proto.producerName) \(proto.producerVersion)".trimmingCharacters(in: .whitespaces),
                                nodeCount: proto.graph.node.count)
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? BinaryDecodingError {
            switch e {
            case .truncated: return "it ends in the middle of a field"
            case .malformedProtobuf: return "malformed field encoding"
            case .trailingGarbage: return "bytes after the last field"
            case .invalidUTF8: return "a string is not valid UTF-8"
            case .messageDepthLimit: return "messages nested too deeply"
            default: return "\(e)"
            }
        }
        return "\(error)"
    }
}

/// One imported layer and its tensors (state-dict names relative to the layer).
struct ImportedLayer {
    var spec: LayerSpec
    var tensors: [(String, Tensor)]
    /// The node it came from (for messages).
    var node: String
}

/// Walks an ONNX graph from its input to its output, turning nodes into layers.
struct GraphBuilder {
    let graph: Onnx_GraphProto
    let path: String
    let opset: Int
    var reader: ONNXTensorReader
    var constants: [String: Onnx_TensorProto] = [:]
    var consumers: [String: [Int]] = [:]
    var visited = Set<Int>()
    var inputName = ""
    var outputName = ""
    /// The graph input's batch size when it is fixed (a model exported for batch 1 reshapes to [1, -1]).
    var staticBatch: Int?

    init(graph: Onnx_GraphProto, path: String, opset: Int, reader: ONNXTensorReader) {
        self.graph = graph
        self.path = path
        self.opset = opset
        self.reader = reader
        for t in graph.initializer { constants[t.name] = t }
    }

    func nodeName(_ i: Int) -> String {
        let n = graph.node[i]
        return "node '\(n.name.isEmpty ? "#\(i)" : n.name)' (\(n.opType))"
    }

    func fail(_ i: Int, _ message: String) -> ONNXError { ONNXError("\(path): \(nodeName(i)): \(message)") }

    /// The single graph input that is not an initializer, and the per-sample shape.
    mutating func inputShape(override: [Int]?) throws -> ([Int], String) {
        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1 else {
            throw ONNXError("\(path): the graph has \(inputs.count) inputs (\(inputs.map(\.name))); expected exactly one image or feature input")
        }
        guard graph.output.count == 1 else {
            throw ONNXError("\(path): the graph has \(graph.output.count) outputs (\(graph.output.map(\.name))); expected exactly one (the class scores)")
        }
        inputName = inputs[0].name
        outputName = graph.output[0].name
        let tt = inputs[0].type.tensorType
        if tt.elemType != 0 && tt.elemType != 1 {
            throw ONNXError("\(path): the graph input '\(inputName)' has element type \(ONNXTensorReader.typeName(tt.elemType)); expected float32")
        }
        let dims: [Int?] = tt.shape.dim.map { d in
            if case .dimValue(let v)? = d.value, v > 0 { return Int(v) }
            return nil
        }
        staticBatch = dims.first ?? nil
        if let o = override {
            guard o.count == 1 || o.count == 3, o.allSatisfy({ $0 > 0 && $0 <= LayerSpec.maxSize }) else {
                throw ONNXError("--input-shape must be [C, H, W] or [F] with sizes in 1...\(LayerSpec.maxSize), found \(o)")
            }
            if tt.hasShape {
                guard dims.count == o.count + 1 else {
                    throw ONNXError("\(path): the graph input '\(inputName)' has \(dims.count) dimensions; --input-shape \(o) needs \(o.count + 1) (batch first)")
                }
                for (k, d) in dims.dropFirst().enumerated() where d != nil && d != o[k] {
                    throw ONNXError("\(path): the graph input '\(inputName)' has size \(d!) in dimension \(k + 1), --input-shape says \(o[k])")
                }
            }
            return (o, "flag")
        }
        guard tt.hasShape, dims.count == 4 || dims.count == 2 else {
            throw ONNXError("\(path): the graph input '\(inputName)' has no [N, C, H, W] or [N, F] shape; give it with --input-shape C,H,W")
        }
        let sample = Array(dims.dropFirst())
        guard sample.allSatisfy({ $0 != nil && $0! <= LayerSpec.maxSize }) else {
            throw ONNXError("\(path): the graph input '\(inputName)' has dynamic sizes \(tt.shape.dim.dropFirst().map { d -> String in if case .dimValue(let v)? = d.value { return "\(v)" }; return "?" }) besides the batch; give the shape with --input-shape C,H,W")
        }
        return (sample.map { $0! }, "graph")
    }

    /// Imports every node on the path from the input to the output.
    mutating func build(inputShape: [Int]) throws -> [ImportedLayer] {
        for (i, n) in graph.node.enumerated() {
            guard n.domain.isEmpty || n.domain == "ai.onnx" else {
                throw fail(i, "is in the operator domain '\(n.domain)'; only the default ONNX domain is supported")
            }
            for t in n.input where !t.isEmpty {
                if consumers[t]?.last != i { consumers[t, default: []].append(i) }
            }
            if n.opType == "Constant" {
                guard n.output.count == 1 else { throw fail(i, "must have one output") }
                constants[n.output[0]] = try constantValue(i)
                visited.insert(i)
            }
            // an Identity of a constant (shared weights) is that constant
            if n.opType == "Identity", n.input.count == 1, n.output.count == 1, let t = constants[n.input[0]] {
                constants[n.output[0]] = t
                visited.insert(i)
            }
        }
        var shape = inputShape
        var cur = inputName
        var items: [ImportedLayer] = []
        while cur != outputName {
            let cons = consumers[cur] ?? []
            if cons.count == 2 {
                let (layer, out, s) = try residualBlock(from: cur, consumers: cons, shape: shape)
                items.append(layer)
                cur = out
                shape = s
                continue
            }
            guard cons.count == 1 else {
                throw ONNXError("\(path): tensor '\(cur)' is used by \(cons.count) nodes; expected one (a chain) or two (a residual block)\(cons.isEmpty ? ", and it is not the graph output" : "")")
            }
            let i = cons[0]
            if isJoin(i) { throw fail(i, "adds two tensors that do not come from one residual block (the graph must fork at one tensor and meet again at this Add)") }
            let (new, out, s) = try emit(i, input: cur, shape: shape)
            items += new
            cur = out
            shape = s
        }
        for i in graph.node.indices where !visited.contains(i) {
            throw fail(i, "is not on the path from the input '\(inputName)' to the output '\(outputName)'; only single-input, single-output graphs are supported")
        }
        return items
    }

    /// An `Add` of two computed tensors (not a constant bias).
    func isJoin(_ i: Int) -> Bool {
        let n = graph.node[i]
        return n.opType == "Add" && n.input.count == 2 && constants[n.input[0]] == nil && constants[n.input[1]] == nil
    }

    /// A residual block starting at `start` (used by two nodes): both chains up to the Add that joins them.
    mutating func residualBlock(from start: String, consumers cons: [Int], shape: [Int]) throws -> (ImportedLayer, String, [Int]) {
        var branches: [(layers: [ImportedLayer], join: Int, shape: [Int])] = []
        for c in cons {
            var cur = start, s = shape, layers: [ImportedLayer] = []
            var i = c
            while !isJoin(i) {
                let (new, out, ns) = try emit(i, input: cur, shape: s)
                layers += new
                cur = out
                s = ns
                let next = consumers[cur] ?? []
                if next.isEmpty {
                    throw ONNXError("\(path): tensor '\(cur)' is used by no node: a branch of the residual block that starts at '\(start)' ends without reaching the Add that should join it")
                }
                guard next.count == 1 else {
                    throw ONNXError("\(path): tensor '\(cur)' inside the residual block that starts at '\(start)' is used by \(next.count) nodes; nested branches are not supported")
                }
                i = next[0]
            }
            branches.append((layers, i, s))
        }
        guard branches[0].join == branches[1].join else {
            throw ONNXError("\(path): the two branches that start at tensor '\(start)' end at different Add nodes (\(nodeName(branches[0].join)), \(nodeName(branches[1].join))); a residual block must meet again at one Add")
        }
        let join = branches[0].join
        guard branches[0].shape == branches[1].shape else {
            throw fail(join, "adds tensors of shapes \(branches[0].shape) and \(branches[1].shape) per sample; residual branches must give the same shape")
        }
        // the longer chain is the body (an empty chain is the identity shortcut)
        let (b, s) = branches[0].layers.count >= branches[1].layers.count ? (branches[0], branches[1]) : (branches[1], branches[0])
        guard !b.layers.isEmpty else { throw fail(join, "adds a tensor to itself; expected a residual block") }
        visited.insert(join)
        var tensors: [(String, Tensor)] = []
        for (prefix, branch) in [("body", b.layers), ("shortcut", s.layers)] {
            for (j, l) in branch.enumerated() { tensors += l.tensors.map { ("\(prefix).\(j).\($0.0)", $0.1) } }
        }
        let layer = ImportedLayer(spec: .residual(body: b.layers.map(\.spec), shortcut: s.layers.map(\.spec)), tensors: tensors,
                                  node: graph.node[join].name)
        return (layer, graph.node[join].output[0], b.shape)
    }

    // MARK: nodes

    func attr(_ i: Int, _ name: String) -> Onnx_AttributeProto? { graph.node[i].attribute.first { $0.name == name } }
    func ints(_ i: Int, _ name: String) -> [Int]? { attr(i, name).map { $0.ints.map { Int($0) } } }
    func int(_ i: Int, _ name: String) -> Int? { attr(i, name).map { Int($0.i) } }
    func float(_ i: Int, _ name: String) -> Float? { attr(i, name).map { $0.f } }
    func string(_ i: Int, _ name: String) -> String? { attr(i, name).map { String(decoding: $0.s, as: UTF8.self) } }

    /// A constant input of node `i` (float32), checked to be finite.
    mutating func constFloats(_ i: Int, _ k: Int, _ what: String) throws -> (shape: [Int], values: [Float]) {
        let n = graph.node[i]
        guard k < n.input.count, !n.input[k].isEmpty else { throw fail(i, "has no \(what) input") }
        guard let t = constants[n.input[k]] else {
            throw fail(i, "its \(what) '\(n.input[k])' is computed in the graph; it must be a constant (an initializer), as in an exported inference model")
        }
        let v = try reader.floats(t, "\(nodeName(i)), \(what) '\(n.input[k])'")
        if let j = FiniteCheck.firstNonFinite(v.values) {
            throw fail(i, "its \(what) '\(n.input[k])' holds \(FiniteCheck.describe(v.values[j])) at index \(j); a model needs finite weights")
        }
        return v
    }

    mutating func constInts(_ i: Int, _ k: Int, _ what: String) throws -> [Int] {
        let n = graph.node[i]
        guard k < n.input.count, !n.input[k].isEmpty, let t = constants[n.input[k]] else {
            throw fail(i, "its \(what) must be a constant input")
        }
        return try reader.ints(t, "\(nodeName(i)), \(what) '\(n.input[k])'")
    }

    mutating func constantValue(_ i: Int) throws -> Onnx_TensorProto {
        let n = graph.node[i]
        guard let a = n.attribute.first else { throw fail(i, "has no value") }
        var t = Onnx_TensorProto()
        switch a.name {
        case "value": return a.t
        case "value_float": t.dataType = 1; t.floatData = [a.f]
        case "value_floats": t.dataType = 1; t.floatData = a.floats; t.dims = [Int64(a.floats.count)]
        case "value_int": t.dataType = 7; t.int64Data = [a.i]
        case "value_ints": t.dataType = 7; t.int64Data = a.ints; t.dims = [Int64(a.ints.count)]
        default: throw fail(i, "has a '\(a.name)' value; expected a tensor, float(s) or int(s)")
        }
        return t
    }

    /// Imports node `i` (whose data input is `input`, per-sample shape `shape`); returns its layers,
    /// the tensor it leaves (after any node it absorbed) and that tensor's per-sample shape.
    mutating func emit(_ i: Int, input: String, shape: [Int]) throws -> ([ImportedLayer], String, [Int]) {
        let n = graph.node[i]
        guard !visited.contains(i) else { throw fail(i, "is reached twice; cycles and re-used nodes are not supported") }
        visited.insert(i)
        guard n.input.first == input else {
            throw fail(i, "takes '\(input)' as input \(n.input.firstIndex(of: input) ?? -1), expected its first (data) input")
        }
        guard let out = n.output.first, !out.isEmpty else { throw fail(i, "has no output") }
        for extra in n.output.dropFirst() where !extra.isEmpty && consumers[extra] != nil {
            throw fail(i, "its second output '\(extra)' is used; only the first output is supported (inference graph)")
        }
        func layer(_ spec: LayerSpec, _ tensors: [(String, Tensor)] = []) throws -> ([ImportedLayer], String, [Int]) {
            do {
                try spec.validate()
                let s = try spec.outputShape(shape)
                return ([ImportedLayer(spec: spec, tensors: tensors, node: n.name)], out, s)
            } catch let e as ANNError {
                throw fail(i, "\(e.description.replacingOccurrences(of: "invalid model: ", with: "")) (input per-sample shape \(shape))")
            }
        }
        func needImage() throws {
            guard shape.count == 3 else { throw fail(i, "needs an image input [N, C, H, W], got per-sample shape \(shape)") }
        }
        func noDilation() throws {
            if let d = ints(i, "dilations"), d.contains(where: { $0 != 1 }) { throw fail(i, "dilations \(d) are not supported (only 1)") }
        }
        func pads2(_ what: String) throws -> Size2 {
            let ap = string(i, "auto_pad") ?? "NOTSET"
            guard ap == "NOTSET" || ap == "VALID" || ap.isEmpty else { throw fail(i, "auto_pad \(ap) is not supported; export with explicit pads") }
            let p = ints(i, "pads") ?? [0, 0, 0, 0]
            guard p.count == 4, p.allSatisfy({ $0 >= 0 }) else { throw fail(i, "pads \(p) must be four values >= 0 [top, left, bottom, right]") }
            guard p[0] == p[2], p[1] == p[3] else { throw fail(i, "asymmetric pads \(p) are not supported (\(what) pads top = bottom, left = right)") }
            return Size2(p[0], p[1])
        }
        func pair(_ name: String, default d: [Int]) throws -> Size2 {
            let v = ints(i, name) ?? d
            guard v.count == 2, v.allSatisfy({ $0 > 0 }) else { throw fail(i, "\(name) \(v) must be two values > 0") }
            return Size2(v[0], v[1])
        }
        switch n.opType {
        case "Conv":
            try needImage()
            try noDilation()
            if let g = int(i, "group"), g != 1 { throw fail(i, "group \(g) (grouped or depthwise convolution) is not supported (only group 1)") }
            let (ws, w) = try constFloats(i, 1, "weight")
            guard ws.count == 4 else { throw fail(i, "weight has shape \(ws); expected [out, in, kh, kw]") }
            guard ws[1] == shape[0] else { throw fail(i, "weight expects \(ws[1]) input channels, but its input has \(shape[0]) (per-sample shape \(shape)): the shapes do not chain") }
            if let k = ints(i, "kernel_shape"), k != [ws[2], ws[3]] { throw fail(i, "kernel_shape \(k) differs from the weight's \([ws[2], ws[3]])") }
            let pad = try pads2("a convolution")
            let st = try pair("strides", default: [1, 1])
            var tensors: [(String, Tensor)] = [("weight", Tensor(shape: ws, values: w))]
            let hasBias = n.input.count > 2 && !n.input[2].isEmpty
            if hasBias {
                let (bs, b) = try constFloats(i, 2, "bias")
                guard bs.reduce(1, *) == ws[0] else { throw fail(i, "bias has shape \(bs); expected [\(ws[0])]") }
                tensors.append(("bias", Tensor(shape: [ws[0]], values: b)))
            }
            return try layer(.conv2d(inChannels: ws[1], outChannels: ws[0], kernel: Size2(ws[2], ws[3]), stride: st, padding: pad, bias: hasBias), tensors)
        case "Gemm", "MatMul":
            guard shape.count == 1 else { throw fail(i, "needs a flat input [N, F], got per-sample shape \(shape) (flatten first)") }
            var (bs, b) = try constFloats(i, 1, "weight")
            guard bs.count == 2 else { throw fail(i, "weight has shape \(bs); expected a matrix") }
            var transB = false
            var alpha: Float = 1, beta: Float = 1
            if n.opType == "Gemm" {
                if let ta = int(i, "transA"), ta != 0 { throw fail(i, "transA \(ta) is not supported (the data input must not be transposed)") }
                transB = (int(i, "transB") ?? 0) != 0
                alpha = float(i, "alpha") ?? 1
                beta = float(i, "beta") ?? 1
            }
            // W [out, in]
            let (inF, outF) = transB ? (bs[1], bs[0]) : (bs[0], bs[1])
            guard inF == shape[0] else { throw fail(i, "weight expects \(inF) input features, but its input has \(shape[0]): the shapes do not chain") }
            var w = [Float](repeating: 0, count: inF * outF)
            for o in 0..<outF { for f in 0..<inF { w[o * inF + f] = alpha * (transB ? b[o * inF + f] : b[f * outF + o]) } }
            var bias: [Float]? = nil
            var last = out
            if n.opType == "Gemm", n.input.count > 2, !n.input[2].isEmpty {
                let (cs, c) = try constFloats(i, 2, "bias")
                bias = try broadcastBias(i, cs, c, outF).map { $0 * beta }
            } else if n.opType == "MatMul", let next = consumers[out], next.count == 1, graph.node[next[0]].opType == "Add",
                      graph.node[next[0]].input.count == 2 {
                // MatMul + Add of a constant: the bias
                let a = next[0], an = graph.node[a]
                let k = an.input[0] == out ? 1 : 0
                if constants[an.input[k]] != nil {
                    let (cs, c) = try constFloats(a, k, "bias")
                    bias = try broadcastBias(a, cs, c, outF)
                    visited.insert(a)
                    last = an.output[0]
                }
            }
            bs = [outF, inF]
            var tensors: [(String, Tensor)] = [("weight", Tensor(shape: bs, values: w))]
            if let bias { tensors.append(("bias", Tensor(shape: [outF], values: bias))) }
            let (ls, _, s) = try layer(.dense(inFeatures: inF, outFeatures: outF, bias: bias != nil), tensors)
            return (ls, last, s)
        case "BatchNormalization":
            if let tm = int(i, "training_mode"), tm != 0 { throw fail(i, "training_mode \(tm) is not supported; export the model in eval mode") }
            let f = shape.first ?? 0
            var tensors: [(String, Tensor)] = []
            for (k, name) in [(1, "weight"), (2, "bias"), (3, "running_mean"), (4, "running_var")] {
                let (s, v) = try constFloats(i, k, name)
                guard s.reduce(1, *) == f else { throw fail(i, "\(name) has shape \(s); expected [\(f)] for an input with \(f) channels (per-sample shape \(shape)): the shapes do not chain") }
                if name == "running_var", let j = v.firstIndex(where: { $0 < 0 }) { throw fail(i, "running_var holds the negative variance \(v[j]) at index \(j)") }
                tensors.append((name, Tensor(shape: [f], values: v)))
            }
            let eps = Double(float(i, "epsilon") ?? 1e-5)
            let m = Double(float(i, "momentum") ?? 0.9)
            return try layer(.batchNorm(features: f, spatial: shape.count == 3, eps: eps, momentum: min(max(1 - m, 0), 1)), tensors)
        case "Relu":
            return try layer(.relu)
        case "Clip":
            var lo = -Float.infinity, hi = Float.infinity
            for (k, what) in [(1, "min"), (2, "max")] where n.input.count > k && !n.input[k].isEmpty {
                guard let t = constants[n.input[k]] else { throw fail(i, "its \(what) '\(n.input[k])' must be a constant") }
                let v = try reader.floats(t, "\(nodeName(i)), \(what)").values
                guard v.count == 1, v[0].isFinite else { throw fail(i, "its \(what) must be one finite number, found \(v)") }
                if k == 1 { lo = v[0] } else { hi = v[0] }
            }
            if lo == 0 && hi == .infinity { return try layer(.relu) }
            guard lo.isFinite && hi.isFinite else { throw fail(i, "Clip with min \(lo) and max \(hi) is not supported: both bounds must be set (or min 0 alone, a ReLU)") }
            return try layer(.clip(min: Double(lo), max: Double(hi)))
        case "MaxPool", "AveragePool":
            try needImage()
            try noDilation()
            let k = try pair("kernel_shape", default: [])
            let st = try pair("strides", default: [1, 1])
            let p = try pads2("pooling")
            if n.opType == "AveragePool" {
                guard p.h == 0 && p.w == 0 else { throw fail(i, "padded average pooling (pads \(p)) is not supported (max pooling takes pads)") }
            } else if 2 * p.h > k.h || 2 * p.w > k.w {
                throw fail(i, "pads \(p) are more than half the kernel \(k)")
            }
            if let c = int(i, "ceil_mode"), c != 0 {
                let fl = [(shape[1] + 2 * p.h - k.h) / st.h + 1, (shape[2] + 2 * p.w - k.w) / st.w + 1]
                let ce = [(shape[1] + 2 * p.h - k.h + st.h - 1) / st.h + 1, (shape[2] + 2 * p.w - k.w + st.w - 1) / st.w + 1]
                guard fl == ce else { throw fail(i, "ceil_mode 1 changes the output size here (\(ce) instead of \(fl)); only floor mode is supported") }
            }
            if let so = int(i, "storage_order"), so != 0 { throw fail(i, "storage_order \(so) is not supported") }
            return try layer(n.opType == "MaxPool" ? .maxPool2d(kernel: k, stride: st, padding: p) : .avgPool2d(kernel: k, stride: st))
        case "GlobalAveragePool":
            try needImage()
            return try layer(.globalAvgPool)
        case "ReduceMean":
            try needImage()
            var axes: [Int]
            if opset >= 18 {
                axes = n.input.count > 1 && !n.input[1].isEmpty ? try constInts(i, 1, "axes") : []
            } else {
                axes = ints(i, "axes") ?? []
            }
            axes = axes.map { $0 < 0 ? $0 + 4 : $0 }.sorted()
            guard axes == [2, 3] else { throw fail(i, "reduces over axes \(axes); only the mean over H and W (axes [2, 3]) is supported") }
            let (ls, o, s) = try layer(.globalAvgPool)
            if (int(i, "keepdims") ?? 1) == 0 {
                return (ls + [ImportedLayer(spec: .flatten, tensors: [], node: n.name)], o, [s[0]])
            }
            return (ls, o, s)
        case "Flatten":
            let axis = int(i, "axis") ?? 1
            guard axis == 1 || axis == -(shape.count) else { throw fail(i, "axis \(axis) is not supported; only flattening everything after the batch (axis 1)") }
            return try layer(.flatten)
        case "Reshape":
            let target = try constInts(i, 1, "shape")
            let f = shape.reduce(1, *)
            let allowZero = (int(i, "allowzero") ?? 0) != 0
            let batchOK = target.count == 2 && (target[0] == -1 || (target[0] == 0 && !allowZero) || (staticBatch != nil && target[0] == staticBatch))
            guard batchOK, target[1] == -1 || target[1] == f, target != [-1, -1] else {
                throw fail(i, "reshapes to \(target); only a flatten to [N, -1] (or [-1, \(f)], N the batch) is supported")
            }
            return try layer(.flatten)
        case "Identity", "Dropout":
            if n.opType == "Dropout", n.input.count > 2, !n.input[2].isEmpty, let t = constants[n.input[2]] {
                if let v = try? reader.ints(t, "training_mode"), v.first ?? 0 != 0 { throw fail(i, "runs in training mode; export the model in eval mode") }
            }
            return ([], out, shape)
        case "Add":
            throw fail(i, "adds a constant that is not the bias of a MatMul; not supported")
        default:
            throw fail(i, "op type \(n.opType) is not supported (supported: Conv, Gemm, MatMul, Add, Relu, Clip, MaxPool, AveragePool, GlobalAveragePool, ReduceMean, Flatten, Reshape, BatchNormalization, Identity, Dropout, Constant)")
        }
    }

    /// A bias of shape [out], [1, out] or a scalar, as [out].
    func broadcastBias(_ i: Int, _ s: [Int], _ v: [Float], _ outF: Int) throws -> [Float] {
        if v.count == outF && s.filter({ $0 != 1 }).count <= 1 { return v }
        if v.count == 1 { return [Float](repeating: v[0], count: outF) }
        throw fail(i, "bias has shape \(s); expected [\(outF)]")
    }
}
