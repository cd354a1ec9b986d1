import ANN
import Datasets
import Foundation

/// A training run described in YAML (`neuromorph train CONFIG`): data, model and training sections.
/// Every problem is a `ConfigError` with file:line (unknown keys, wrong types, impossible values,
/// layers whose input does not fit).
///
///     data:
///       folder: /usr/share/datasets/fashion-mnist   # any folder of MNIST-layout IDX files (default)
///       normalize: {mean: 0.2860, std: 0.3530}      # x = (byte/255 - mean)/std; or "unit" for [0, 1]
///       limit_train: 5000                            # optional: first N samples
///     model:
///       input: [1, 28, 28]
///       init: he_normal                              # he_normal he_uniform glorot_normal glorot_uniform pytorch
///       layers:
///         - conv2d: {out: 16, kernel: 5, stride: 1, padding: 0}
///         - relu                                     # or {qcfs: {levels: 8, per_channel: false, threshold: 8}}
///         - avgpool2d: {kernel: 2}
///         - flatten
///         - dense: {out: 10}
///     training:
///       epochs: 10
///       batch_size: 64
///       seed: 1
///       loss: cross_entropy                          # or mse
///       optimizer: {type: adam, lr: 1e-3}            # sgd {lr, momentum, weight_decay, nesterov}, rmsprop {lr, alpha, eps, momentum}
///       schedule: {type: cosine, min_lr: 0}          # constant | step {step_size, gamma} | cosine {min_lr, epochs}
public struct TrainingConfig {
    /// Where the IDX data come from and how pixels are scaled.
    public struct DataSettings: Equatable {
        public var folder: String
        public var prefix: String
        public var normalization: Normalization
        public var limitTrain: Int?
        public var limitTest: Int?
        public var dataset: IDXDataset { IDXDataset(folder: folder, prefix: prefix) }
    }

    /// A place in the config file (for errors found later, e.g. data that does not fit the model).
    public struct Location: Equatable, Sendable {
        public var line: Int?
        public var column: Int?
        public var key: String
    }

    public var file: String
    public var data: DataSettings
    public var model: ModelSpec
    public var options: TrainingOptions
    /// Where `model.input` and `model.classes` (or `model`, when classes is not given) are written.
    public var inputLocation = Location(line: nil, column: nil, key: "model.input")
    public var classesLocation = Location(line: nil, column: nil, key: "model.classes")

    /// Largest epoch count, batch size, step size (larger values are typing mistakes, not runs).
    public static let maxEpochs = 1_000_000
    public static let maxBatchSize = 1 << 20
    /// Largest sample limit (`limit_train`, `limit_test`).
    public static let maxSamples = 1 << 31

    public static func load(path: String) throws -> TrainingConfig {
        try build(try ConfigNode.load(path: path))
    }

    public static func parse(_ text: String, file: String) throws -> TrainingConfig {
        try build(try ConfigNode.parse(text, file: file))
    }

    static func build(_ root: ConfigNode) throws -> TrainingConfig {
        let top = try root.mapping()
        let data = try parseData(top.node("data"))
        let modelNode = try top.require("model", "the network: input and layers")
        let (spec, initializer) = try parseModel(modelNode, normalization: data.normalization)
        let trainingNode = try top.require("training", "epochs, batch_size, optimizer, ...")
        var options = try parseTraining(trainingNode)
        options.initializer = initializer
        try top.finish()
        var cfg = TrainingConfig(file: root.file, data: data, model: spec, options: options)
        let mm = try modelNode.mapping()
        if let n = mm.node("input") { cfg.inputLocation = Location(line: n.line, column: n.column, key: n.path) }
        let cn = mm.node("classes") ?? modelNode
        cfg.classesLocation = Location(line: cn.line, column: cn.column, key: cn.path)
        try cfg.checkMemory(trainingNode: trainingNode, layersNode: mm.node("layers") ?? modelNode)
        return cfg
    }

    /// Refuses a model whose training would need more memory than this machine has (estimate from
    /// `ModelSpec.trainingBytes`: weights, gradients, optimizer state, activations of a batch), blaming
    /// the layers (too large even for one sample), `batch_size` or `eval_batch_size`.
    func checkMemory(trainingNode: ConfigNode, layersNode: ConfigNode) throws {
        let tm = try trainingNode.mapping()
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        let params = model.storedValueCount.map(String.init) ?? "too many"
        let checks: [(Int, String, ConfigNode)] = [
            (1, "one sample at a time", layersNode),
            (options.batchSize, "batches of \(options.batchSize) (batch_size)", tm.node("batch_size") ?? trainingNode),
            (options.evalBatchSize, "test batches of \(options.evalBatchSize) (eval_batch_size)", tm.node("eval_batch_size") ?? trainingNode),
        ]
        for (batch, what, node) in checks {
            let bytes = model.trainingBytes(batchSize: batch)
            if let bytes, bytes <= memory { continue }
            let need = bytes.map { String(format: "about %.3g GB", Double($0) / 1e9) } ?? "more memory than can be counted"
            throw node.error("training this model (\(params) parameters) with \(what) needs \(need), more than this machine's \(String(format: "%.3g", Double(memory) / 1e9)) GB; use smaller layers or batches")
        }
    }

    /// Checks that data sets fit the model: every image of shape `model.input` and every label a
    /// class (below `model.classes`). Errors point at those keys and name the data file and index.
    public func checkData(_ sets: LabeledImages...) throws {
        for d in sets {
            guard d.sampleShape == model.inputShape else {
                throw ConfigError(file: file, line: inputLocation.line, column: inputLocation.column, key: inputLocation.key,
                                  message: "the model input is \(model.inputShape), but \(d.source) holds images of shape \(d.sampleShape); set model.input to \(d.sampleShape) (and the layers to match) or use other data")
            }
            if let (i, l) = d.firstLabel(notBelow: model.classes) {
                let most = Int(d.labels.max() ?? 0) + 1
                throw ConfigError(file: file, line: classesLocation.line, column: classesLocation.column, key: classesLocation.key,
                                  message: "the model has \(model.classes) classes (labels 0...\(model.classes - 1)), but \(d.labelsSource) has label \(l) at index \(i); set model.classes to at least \(most) and the last layer's out to match")
            }
        }
    }

    static func positive(_ m: ConfigMapping, _ key: String, default d: Int? = nil, max: Int = Int.max) throws -> Int? {
        guard let n = m.node(key) else { return d }
        let v = try n.int()
        if v <= 0 { throw n.error("must be > 0, found \(v)") }
        if v > max { throw n.error("must be at most \(max), found \(v)") }
        return v
    }

    static func parseData(_ node: ConfigNode?) throws -> DataSettings {
        var s = DataSettings(folder: IDXDataset.fashionMNISTFolder, prefix: "", normalization: .unit, limitTrain: nil, limitTest: nil)
        guard let node else { return s }
        let m = try node.mapping()
        s.folder = try m.string("folder", default: s.folder)
        s.prefix = try m.string("prefix", default: "")
        if let n = m.node("normalize") {
            if n.isScalar {
                switch try n.choice(["unit", "fashion-mnist"]) {
                case "fashion-mnist": s.normalization = .fashionMNIST
                default: s.normalization = .unit
                }
            } else {
                let nm = try n.mapping()
                let mean = try nm.double("mean", default: 0)
                let stdNode = nm.node("std")
                let std = try stdNode?.double() ?? 1
                if !(std > 0) { throw (stdNode ?? n).error("must be > 0, found \(std)") }
                try nm.finish()
                s.normalization = Normalization(mean: mean, std: std)
            }
        }
        s.limitTrain = try positive(m, "limit_train", max: maxSamples)
        s.limitTest = try positive(m, "limit_test", max: maxSamples)
        try m.finish()
        return s
    }

    static func sizePair(_ n: ConfigNode) throws -> Size2 {
        if n.isSequence {
            let v = try n.sequence()
            guard v.count == 2 else { throw n.error("expected one number or a list [height, width], found \(v.count) values") }
            for x in v {
                let i = try x.int()
                if abs(i) > LayerSpec.maxSize { throw x.error("must be at most \(LayerSpec.maxSize), found \(i)") }
            }
            return Size2(try v[0].int(), try v[1].int())
        }
        let i = try n.int()
        if abs(i) > LayerSpec.maxSize { throw n.error("must be at most \(LayerSpec.maxSize), found \(i)") }
        return Size2(i)
    }

    static func parseModel(_ node: ConfigNode, normalization: Normalization) throws -> (ModelSpec, WeightInit) {
        let m = try node.mapping()
        let inputNode = try m.require("input", "per-sample input shape, e.g. [1, 28, 28]")
        let input = try inputNode.sequence().map { try $0.int() }
        if input.isEmpty || input.contains(where: { $0 <= 0 }) { throw inputNode.error("input shape must be positive sizes, e.g. [1, 28, 28], found \(input)") }
        if input.count != 1 && input.count != 3 { throw inputNode.error("input shape must be [channels, height, width] or [features], found \(input)") }
        if input.contains(where: { $0 > LayerSpec.maxSize }) { throw inputNode.error("input sizes must be at most \(LayerSpec.maxSize), found \(input)") }
        let classesNode = m.node("classes")
        let classes = try classesNode?.int() ?? 10
        if classes < 2 || classes > ModelSpec.maxClasses { throw (classesNode ?? node).error("classes must be in 2...\(ModelSpec.maxClasses), found \(classes)") }
        let initName = try m.choice("init", WeightInit.allCases.map(\.rawValue), default: WeightInit.heNormal.rawValue)
        let layersNode = try m.require("layers", "a list of layers")
        let items = try layersNode.sequence()
        if items.isEmpty { throw layersNode.error("the model needs at least one layer") }
        var shape = input
        var specs: [LayerSpec] = []
        for (i, item) in items.enumerated() {
            let spec = try parseLayer(item, input: shape)
            do {
                try spec.validate()
                shape = try spec.outputShape(shape)
            } catch let e as ANNError {
                throw item.error("layer \(i) (\(spec.typeName)) with input \(shape): \(e.description.replacingOccurrences(of: "invalid model: ", with: ""))")
            }
            specs.append(spec)
        }
        if shape != [classes] {
            throw items.last!.error("the last layer outputs \(shape) per sample, expected [\(classes)] (one value per class; set model.classes if needed)")
        }
        try m.finish()
        return (ModelSpec(inputShape: input, layers: specs, normalization: normalization, classes: classes), WeightInit(rawValue: initName)!)
    }

    static let layerTypes = ["dense", "conv2d", "avgpool2d", "maxpool2d", "relu", "flatten", "batchnorm", "batchnorm1d", "batchnorm2d", "dropout",
                             "qcfs", "clip", "globalavgpool", "residual"]

    /// One layer: a bare name (`relu`, `flatten`, `batchnorm`) or `{type_name: {hyper-parameters}}`.
    static func parseLayer(_ item: ConfigNode, input: [Int]) throws -> LayerSpec {
        let type: String
        var params: ConfigMapping? = nil
        var paramsNode = item
        if item.isScalar {
            type = try item.choice(layerTypes)
        } else {
            let m = try item.mapping()
            guard m.keys.count == 1, let k = m.keys.first else {
                throw item.error("a layer is a name (relu) or one mapping {conv2d: {out: 16, kernel: 5}}, found keys \(m.keys)")
            }
            guard layerTypes.contains(k) else {
                throw m.node(k)!.error("unknown layer type '\(k)'; expected one of: \(layerTypes.joined(separator: ", "))\(Suggest.hint(k, layerTypes))")
            }
            type = k
            paramsNode = m.node(k)!
            if case .scalar(let s) = paramsNode.node, s.string.isEmpty || s.string == "null" || s.string == "~" {
                params = nil
            } else {
                params = try paramsNode.mapping()
            }
        }
        func req(_ key: String, _ what: String) throws -> ConfigNode {
            guard let p = params, let n = p.node(key) else { throw paramsNode.error("\(type) needs '\(key)' (\(what))") }
            return n
        }
        func posInt(_ n: ConfigNode) throws -> Int {
            let v = try n.int()
            if v <= 0 { throw n.error("must be > 0, found \(v)") }
            if v > LayerSpec.maxSize { throw n.error("must be at most \(LayerSpec.maxSize), found \(v)") }
            return v
        }
        func posPair(_ n: ConfigNode, allowZero: Bool = false) throws -> Size2 {
            let s = try sizePair(n)
            if allowZero ? (s.h < 0 || s.w < 0) : (s.h <= 0 || s.w <= 0) { throw n.error("must be \(allowZero ? ">= 0" : "> 0"), found \(s)") }
            return s
        }
        func bias() throws -> Bool { try params?.bool("bias", default: true) ?? true }
        let spec: LayerSpec
        switch type {
        case "dense":
            let out = try posInt(try req("out", "number of output features"))
            if input.count != 1 { throw item.error("dense needs a flat input, got \(input) (add a flatten layer before it)") }
            spec = .dense(inFeatures: input[0], outFeatures: out, bias: try bias())
        case "conv2d":
            let out = try posInt(try req("out", "number of output channels"))
            let k = try posPair(try req("kernel", "kernel size, e.g. 5 or [5, 5]"))
            let st = try params?.node("stride").map { try posPair($0) } ?? Size2(1)
            let pad = try params?.node("padding").map { try posPair($0, allowZero: true) } ?? Size2(0)
            if input.count != 3 { throw item.error("conv2d needs an image input [C, H, W], got \(input)") }
            spec = .conv2d(inChannels: input[0], outChannels: out, kernel: k, stride: st, padding: pad, bias: try bias())
        case "avgpool2d", "maxpool2d":
            let k = try posPair(try req("kernel", "window size, e.g. 2"))
            let st = try params?.node("stride").map { try posPair($0) } ?? k
            if type == "avgpool2d" {
                if let pn = params?.node("padding") {
                    let p = try posPair(pn, allowZero: true)
                    if p != Size2(0) { throw pn.error("padded average pooling is not supported (padding \(p)); only maxpool2d takes a padding") }
                }
                spec = .avgPool2d(kernel: k, stride: st)
            } else {
                let padNode = params?.node("padding")
                let pad = try padNode.map { try posPair($0, allowZero: true) } ?? Size2(0)
                if pad.h > k.h / 2 || pad.w > k.w / 2 { throw padNode!.error("must be at most half the kernel (\(k.h / 2)x\(k.w / 2) for kernel \(k)), found \(pad)") }
                spec = .maxPool2d(kernel: k, stride: st, padding: pad)
            }
        case "relu": spec = .relu
        case "flatten": spec = .flatten
        case "batchnorm", "batchnorm1d", "batchnorm2d":
            let spatial = type == "batchnorm2d" || (type == "batchnorm" && input.count == 3)
            let epsNode = params?.node("eps")
            let eps = try epsNode?.double() ?? 1e-5
            if !(eps > 0) { throw epsNode!.error("must be > 0, found \(eps)") }
            let momNode = params?.node("momentum")
            let mom = try momNode?.double() ?? 0.1
            if !(mom >= 0 && mom <= 1) { throw momNode!.error("must be in [0, 1], found \(mom)") }
            spec = .batchNorm(features: input.first ?? 0, spatial: spatial, eps: eps, momentum: mom)
        case "clip":
            let lo = try req("min", "lower bound, e.g. 0")
            let hi = try req("max", "upper bound, e.g. 6")
            let (a, b) = (try lo.double(), try hi.double())
            if !(a.isFinite && b.isFinite && a < b) { throw hi.error("clip needs finite min < max, found min \(a), max \(b)") }
            spec = .clip(min: a, max: b)
        case "globalavgpool":
            if input.count != 3 { throw item.error("globalavgpool needs an image input [C, H, W], got \(input)") }
            spec = .globalAvgPool
        case "residual":
            // residual: {body: [layers], shortcut: [layers]}: y = body(x) + shortcut(x), shortcut default identity
            let bodyNode = try req("body", "the layers of the residual branch, e.g. [conv2d, batchnorm, relu, conv2d, batchnorm]")
            let body = try parseBranch(bodyNode, input: input, what: "body")
            let shortcut = try params?.node("shortcut").map { try parseBranch($0, input: input, what: "shortcut", allowEmpty: true) } ?? []
            spec = .residual(body: body, shortcut: shortcut)
            do { _ = try spec.outputShape(input) } catch let e as ANNError { throw paramsNode.error("residual: \(e.description)") }
        case "dropout":
            let pNode = params?.node("p")
            let p = try pNode?.double() ?? 0.5
            if !(p >= 0 && p < 1) { throw (pNode ?? item).error("must be in [0, 1), found \(p)") }
            spec = .dropout(p: p)
        case "qcfs":
            // {qcfs: {levels: L, per_channel: false, threshold: 8}} (Bu et al. 2022)
            let lNode = try req("levels", "quantization levels L, e.g. 8")
            let l = try lNode.int()
            if !(l >= 1 && l <= LayerSpec.maxQCFSLevels) { throw lNode.error("must be in 1...\(LayerSpec.maxQCFSLevels), found \(l)") }
            let perChannel = try params?.bool("per_channel", default: false) ?? false
            let tNode = params?.node("threshold")
            let t = try tNode?.double() ?? QCFS.defaultThreshold
            if !(t > 0 && t <= 1e30) { throw tNode!.error("must be a number > 0 (the initial threshold λ), found \(t)") }
            if perChannel && input.isEmpty { throw item.error("qcfs per_channel needs an input with channels") }
            spec = .qcfs(levels: l, thresholds: perChannel ? input[0] : 1, initialThreshold: t)
        default:
            throw item.error("unknown layer type '\(type)'")
        }
        try params?.finish()
        return spec
    }

    /// The layers of a residual branch, chained from the block's input shape.
    static func parseBranch(_ node: ConfigNode, input: [Int], what: String, allowEmpty: Bool = false) throws -> [LayerSpec] {
        let items = try node.sequence()
        if items.isEmpty && !allowEmpty { throw node.error("the residual \(what) needs at least one layer") }
        var shape = input
        var specs: [LayerSpec] = []
        for (j, item) in items.enumerated() {
            let spec = try parseLayer(item, input: shape)
            do {
                try spec.validate()
                shape = try spec.outputShape(shape)
            } catch let e as ANNError {
                throw item.error("\(what) layer \(j) (\(spec.typeName)) with input \(shape): \(e.description.replacingOccurrences(of: "invalid model: ", with: ""))")
            }
            specs.append(spec)
        }
        return specs
    }

    static func parseTraining(_ node: ConfigNode) throws -> TrainingOptions {
        let m = try node.mapping()
        var o = TrainingOptions()
        o.epochs = try positive(m, "epochs", default: 10, max: maxEpochs)!
        o.batchSize = try positive(m, "batch_size", default: 64, max: maxBatchSize)!
        if let n = m.node("seed") {
            let v = try n.int()
            if v < 0 { throw n.error("must be >= 0, found \(v)") }
            o.seed = UInt64(v)
        }
        o.loss = LossKind(rawValue: try m.choice("loss", LossKind.allCases.map(\.rawValue), default: "cross_entropy"))!
        o.shuffle = try m.bool("shuffle", default: true)
        o.evalBatchSize = try positive(m, "eval_batch_size", default: 1000, max: maxBatchSize)!
        o.optimizer = try parseOptimizer(try m.require("optimizer", "e.g. {type: adam, lr: 1e-3}"))
        if let s = m.node("schedule") { o.schedule = try parseSchedule(s, epochs: o.epochs) }
        try m.finish()
        return o
    }

    static func nonNegative(_ m: ConfigMapping, _ key: String, _ d: Double, below: Double? = nil) throws -> Double {
        guard let n = m.node(key) else { return d }
        let v = try n.double()
        if v < 0 { throw n.error("must be >= 0, found \(v)") }
        if let below, v >= below { throw n.error("must be < \(below), found \(v)") }
        return v
    }

    static func parseOptimizer(_ node: ConfigNode) throws -> OptimizerSpec {
        let m = try node.mapping()
        let type = try m.choice("type", ["sgd", "adam", "rmsprop"])
        let lrNode = try m.require("lr", "learning rate, e.g. 1e-3")
        let lr = try lrNode.double()
        if !(lr > 0) { throw lrNode.error("learning rate must be > 0, found \(lr)") }
        let wd = try nonNegative(m, "weight_decay", 0)
        let spec: OptimizerSpec
        switch type {
        case "sgd":
            spec = .sgd(learningRate: lr, momentum: try nonNegative(m, "momentum", 0, below: 1), weightDecay: wd,
                        nesterov: try m.bool("nesterov", default: false))
        case "adam":
            var b1 = 0.9, b2 = 0.999
            if let bn = m.node("betas") {
                let v = try bn.sequence()
                guard v.count == 2 else { throw bn.error("betas must be a list of two numbers [beta1, beta2]") }
                b1 = try v[0].double(); b2 = try v[1].double()
                for (x, n) in [(b1, v[0]), (b2, v[1])] where !(x >= 0 && x < 1) { throw n.error("must be in [0, 1), found \(x)") }
            }
            let epsNode = m.node("eps")
            let eps = try epsNode?.double() ?? 1e-8
            if !(eps > 0) { throw epsNode!.error("must be > 0, found \(eps)") }
            spec = .adam(learningRate: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd)
        default:
            let alpha = try nonNegative(m, "alpha", 0.99, below: 1)
            let epsNode = m.node("eps")
            let eps = try epsNode?.double() ?? 1e-8
            if !(eps > 0) { throw epsNode!.error("must be > 0, found \(eps)") }
            spec = .rmsprop(learningRate: lr, alpha: alpha, eps: eps, weightDecay: wd, momentum: try nonNegative(m, "momentum", 0, below: 1))
        }
        try m.finish()
        return spec
    }

    static func parseSchedule(_ node: ConfigNode, epochs: Int) throws -> LearningRateSchedule {
        if node.isScalar {
            _ = try node.choice(["constant"])
            return .constant
        }
        let m = try node.mapping()
        let type = try m.choice("type", ["constant", "step", "cosine"])
        let s: LearningRateSchedule
        switch type {
        case "step":
            let ss = try positive(m, "step_size", max: maxEpochs)
            guard let ss else { throw node.error("step schedule needs 'step_size' (epochs between decays)") }
            let gNode = m.node("gamma")
            let g = try gNode?.double() ?? 0.1
            if !(g > 0 && g <= 1) { throw (gNode ?? node).error("gamma must be in (0, 1], found \(g)") }
            s = .step(stepSize: ss, gamma: g)
        case "cosine":
            let minLR = try nonNegative(m, "min_lr", 0)
            s = .cosine(epochs: try positive(m, "epochs", default: epochs, max: maxEpochs)!, minimum: minLR)
        default: s = .constant
        }
        try m.finish()
        return s
    }
}
