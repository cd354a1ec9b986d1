import ANN
import Datasets
import Foundation
import SNN

extension ConvertedNetwork {
    /// Name of the input population (Poisson encoding only).
    public static let inputPopulation = "input"

    /// The converted network as an ordinary SNN `Network` (dt = 1 ms: one time step per ms, so a
    /// per-step probability u is a rate of 1000 u Hz): one population of IF neurons per spiking layer
    /// (threshold 1, reset by subtraction or to 0, capacitance 1 so a current of 1 adds 1 per step),
    /// conv/dense/pooling projections with weight-shared kernels delivering within the step (delay 0: a
    /// spike reaches the next layer in the same time step, as in time-stepped converters). With analog
    /// input the first layer has no projection: it receives the ANN's first-layer output as a current.
    /// The output layer does not fire when decoding by membrane potential.
    public func makeNetwork() -> Network {
        var pops: [Population] = []
        var projs: [Projection] = []
        let inputSize = inputShape.reduce(1, *)
        if options.encoding == .poisson {
            // Bernoulli: a pixel of intensity x spikes with probability x per step (rate coding as SNN
            // Toolbox and SpikingJelly do it; the conv delivery needs one spike per neuron and step)
            pops.append(Population(name: Self.inputPopulation, size: inputSize, model: .poisson(rateHz: 0, bernoulli: true),
                                   shape: [inputShape[1], inputShape[2], inputShape[0]]))
        }
        var prevName = options.encoding == .poisson ? Self.inputPopulation : ""
        for l in layers {
            var p = IFParameters()
            p.threshold = 1
            p.resetPotential = 0
            p.resetBySubtraction = options.resetBySubtraction
            p.capacitance = 1
            let membraneOut = l.isOutput && options.decoding == .membrane
            if membraneOut { p.threshold = .infinity }
            let v0 = membraneOut ? 0 : options.initialPotential
            let shape = l.outputShape.count == 3 ? [l.outputShape[1], l.outputShape[2], l.outputShape[0]] : l.outputShape
            pops.append(Population(name: l.name, size: l.size, model: .integrateAndFire(p), initial: ["v": .constant(v0)], shape: shape))
            let ins = l.inputShape
            if !prevName.isEmpty {
                switch l.kind {
                case .conv:
                    let g = ConvGeometry(inHeight: ins[1], inWidth: ins[2], inChannels: ins[0], outChannels: l.outputShape[0],
                                         kernelHeight: l.kernel[0], kernelWidth: l.kernel[1], stride: l.stride, padding: l.padding)
                    projs.append(Projection(name: "\(prevName)->\(l.name)", pre: prevName, post: l.name, kind: .conv(g, kernel: l.weights), delay: .constant(0)))
                case .dense:
                    projs.append(Projection(name: "\(prevName)->\(l.name)", pre: prevName, post: l.name, kind: .dense(weights: l.weights), delay: .constant(0)))
                case .avgPool:
                    let g = ConvGeometry(inHeight: ins[1], inWidth: ins[2], inChannels: ins[0], outChannels: ins[0],
                                         kernelHeight: l.kernel[0], kernelWidth: l.kernel[1], stride: l.stride, depthwise: true)
                    projs.append(Projection(name: "\(prevName)->\(l.name)", pre: prevName, post: l.name, kind: .conv(g, kernel: l.weights), delay: .constant(0)))
                case .maxPool:
                    let g = ConvGeometry(inHeight: ins[1], inWidth: ins[2], inChannels: ins[0], outChannels: ins[0],
                                         kernelHeight: l.kernel[0], kernelWidth: l.kernel[1], stride: l.stride, padding: l.padding, depthwise: true)
                    projs.append(Projection(name: "\(prevName)->\(l.name)", pre: prevName, post: l.name, kind: .maxPool(g), weight: .constant(1), delay: .constant(0)))
                }
            }
            if let sk = l.skip {
                // residual shortcut: a second projection into the join layer (see Converter)
                let src = layers[sk.source].name
                let si = sk.inputShape
                let g = ConvGeometry(inHeight: si[1], inWidth: si[2], inChannels: si[0], outChannels: l.outputShape[0],
                                     kernelHeight: sk.kernel[0], kernelWidth: sk.kernel[1], stride: sk.stride, padding: sk.padding,
                                     depthwise: sk.kind == .identity)
                projs.append(Projection(name: "\(src)->\(l.name)", pre: src, post: l.name, kind: .conv(g, kernel: sk.weights), delay: .constant(0)))
            }
            prevName = l.name
        }
        return Network(dt: 1, populations: pops, projections: projs)
    }

    /// Constant current of every neuron of layer `k` that does not depend on the input: its bias (the
    /// first layer's is part of the per-image current, or of `firstLayerOffset` for Poisson input).
    public func biasCurrents(_ k: Int) -> [Float] {
        let l = layers[k]
        if k == 0 { return options.encoding == .poisson ? firstLayerOffset : [Float](repeating: 0, count: l.size) }
        guard !l.bias.isEmpty else { return [Float](repeating: 0, count: l.size) }
        return (0..<l.size).map { l.bias[l.channel(of: $0)] }
    }
}

/// What a spiking evaluation measured, per time-step count T.
public struct SpikingEvaluation: Sendable {
    public struct AtT: Sendable {
        public var timesteps: Int
        public var correct: Int
        public var accuracy: Double
        /// Spikes per image, per spiking layer (input spikes not included).
        public var spikesPerLayer: [Double]
        /// Synaptic events per image, per spiking layer (events of the projection into it; 0 for an
        /// analog-input first layer).
        public var sopsPerLayer: [Double]
        /// Input spikes per image (Poisson encoding).
        public var inputSpikes: Double
        public var spikesPerImage: Double { spikesPerLayer.reduce(0, +) }
        public var sopsPerImage: Double { sopsPerLayer.reduce(0, +) }
        /// Predicted class per image.
        public var predictions: [Int32]
    }
    public var images: Int
    public var results: [AtT]
    public var wallSeconds: Double
    public var threads: Int
    /// Images per second at the largest T (all checkpoints are produced by one run to that T).
    public var imagesPerSecond: Double { Double(images) / wallSeconds }
}

/// Runs a converted network on many images with the spiking engine: one `Simulator` per thread over a
/// shared `CompiledNetwork`, images distributed round-robin; every image gets its own Poisson seed, so
/// results do not depend on the thread count.
public final class SpikingClassifier: @unchecked Sendable {
    public let converted: ConvertedNetwork
    public let compiled: CompiledNetwork
    let seed: UInt64

    public init(_ converted: ConvertedNetwork, seed: UInt64 = 1) throws {
        self.converted = converted
        self.seed = seed
        compiled = try CompiledNetwork(converted.makeNetwork(), seed: seed)
        var v0: [Int: [Float]] = [:]
        for (k, l) in converted.layers.enumerated() where !l.initialPotential.isEmpty {
            v0[k] = (0..<l.size).map { l.initialPotential[l.channel(of: $0)] }
        }
        initialPotentials = v0
    }

    /// Population index of spiking layer k.
    func popIndex(_ k: Int) -> Int { converted.options.encoding == .poisson ? k + 1 : k }

    /// Per-neuron initial potentials of the layers whose channels have their own (potential correction).
    let initialPotentials: [Int: [Float]]

    /// Puts `sim` at t = 0 for image `img`: state initialized (corrected initial potentials included),
    /// the first layer's analog current (`currents[offset...]`) or the Poisson input rates (seeded per
    /// image), and every layer's bias current.
    func start(_ sim: Simulator, image img: Int, pixels: [Float], currents: [Float], offset: Int, biases: [[Float]]) throws {
        sim.initializeState()
        for (k, v0) in initialPotentials {
            let v = sim.state(population: popIndex(k), variable: 0)
            _ = v.update(fromContentsOf: v0)
        }
        let analog = converted.options.encoding == .analog
        for k in converted.layers.indices {
            let ext = sim.externalCurrent(population: popIndex(k))
            if k == 0 && analog {
                _ = ext.update(fromContentsOf: currents[offset..<(offset + converted.layers[0].size)])
            } else {
                _ = ext.update(fromContentsOf: biases[k])
            }
        }
        if !analog {
            sim.reseed(seed &+ UInt64(img) &* 0x9E3779B97F4A7C15)
            let size = converted.inputShape.reduce(1, *)
            let (C, H, W) = (converted.inputShape[0], converted.inputShape[1], converted.inputShape[2])
            let rates = (0..<size).map { q -> Float in
                // engine order (HWC) from CHW pixels
                let c = q % C, pix = q / C, x = pix % W, y = pix / W
                return pixels[img * size + (c * H + y) * W + x] * 1000
            }
            try sim.setPoissonRates(population: 0, hz: rates)
        }
    }

    /// Mean firing rate (spikes per step) of every channel of spiking layer `layer` after `steps` steps,
    /// over `images` (pixels in [0, 1]) and the layer's positions: one run per image, summed in image
    /// order (the same result whatever the thread count).
    public func channelRates(layer: Int, pixels: [Float], count n: Int, steps: Int, threads: Int) throws -> [Double] {
        let l = converted.layers[layer]
        let C = l.channels
        let size = converted.inputShape.reduce(1, *)
        guard steps > 0, n > 0, pixels.count == n * size else { throw ConversionError("channelRates: \(n) images of \(converted.inputShape) and steps > 0 expected") }
        let nt = max(1, min(threads, n))
        let sims = try (0..<nt).map { _ in try Simulator(compiled) }
        let pop = popIndex(layer)
        for sim in sims { sim.countSpikesPerNeuron(population: pop, true) }
        let biases = converted.layers.indices.map { converted.biasCurrents($0) }
        let counts = SharedBuffer<Double>(n * C, 0)
        let currents = converted.options.encoding == .analog ? converted.firstLayerCurrents(pixels: pixels, count: n, threads: threads) : []
        let l0size = converted.layers[0].size
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: nt) { w in
            let sim = sims[w]
            var img = w
            while img < n {
                do {
                    try self.start(sim, image: img, pixels: pixels, currents: currents, offset: img * l0size, biases: biases)
                    try sim.run(steps: Int64(steps), threads: 1)
                } catch {
                    errors.set(error)
                    return
                }
                let cnt = sim.spikeCounts(population: pop)
                for q in 0..<l.size { counts[img * C + l.channel(of: q)] += Double(cnt[q]) }
                img += nt
            }
        }
        if let e = errors.error { throw e }
        var rates = [Double](repeating: 0, count: C)
        for img in 0..<n { for c in 0..<C { rates[c] += counts[img * C + c] } }
        let per = Double(n) * Double(l.size / C) * Double(steps)
        return rates.map { $0 / per }
    }

    /// Evaluates `images` (pixels in [0, 1], i.e. without mean/std normalization) at each T in
    /// `timesteps` (ascending), in one run per image to the largest T.
    public func evaluate(pixels: [Float], labels: [Int32], timesteps: [Int], threads: Int,
                         progress: ((Int) -> Void)? = nil) throws -> SpikingEvaluation {
        let ts = timesteps.sorted()
        guard let first = ts.first, first > 0 else { throw ConversionError("timesteps must be positive") }
        let n = labels.count
        let size = converted.inputShape.reduce(1, *)
        guard pixels.count == n * size else { throw ConversionError("pixels do not match \(n) images of \(converted.inputShape)") }
        let nl = converted.layers.count
        let nt = max(1, min(threads, n))
        // per image, per checkpoint: prediction, spikes per layer, events per layer, input spikes
        let nc = ts.count
        let predP = SharedBuffer<Int32>(n * nc, -1), spP = SharedBuffer<Double>(n * nc * nl, 0)
        let evP = SharedBuffer<Double>(n * nc * nl, 0), inP = SharedBuffer<Double>(n * nc, 0)
        let sims = try (0..<nt).map { _ in try Simulator(compiled) }
        let biases = (0..<nl).map { converted.biasCurrents($0) }
        // every projection into layer k (a residual join has two)
        let projOf: [[Int]] = (0..<nl).map { k in compiled.network.projections.indices.filter { compiled.network.projections[$0].post == converted.layers[k].name } }
        let analog = converted.options.encoding == .analog
        let outIdx = popIndex(nl - 1)
        let membrane = converted.options.decoding == .membrane
        let classes = converted.layers[nl - 1].size
        // only the read-out (spike-count decoding) needs per-neuron counts; max-pool gates keep theirs
        for sim in sims {
            for p in 0..<compiled.network.populations.count where membrane || p != outIdx {
                sim.countSpikesPerNeuron(population: p, false)
            }
        }
        let t0 = Date()
        // analog currents are computed in batches with the ANN first layer
        let chunk = 256
        let done = ManagedCounter()
        var next = 0
        while next < n {
            let c0 = next
            let cn = min(chunk, n - c0)
            let currents: [Float] = analog
                ? converted.firstLayerCurrents(pixels: Array(pixels[(c0 * size)..<((c0 + cn) * size)]), count: cn, threads: threads)
                : []
            let l0size = converted.layers[0].size
            let errors = ErrorBox()
            DispatchQueue.concurrentPerform(iterations: nt) { w in
                let sim = sims[w]
                var img = c0 + w
                while img < c0 + cn {
                    do {
                        try self.start(sim, image: img, pixels: pixels, currents: currents, offset: (img - c0) * l0size, biases: biases)
                        var prevT = 0
                        for (ci, t) in ts.enumerated() {
                            try sim.run(steps: Int64(t - prevT), threads: 1)
                            prevT = t
                            let slot = img * nc + ci
                            if membrane {
                                let v = sim.state(population: outIdx, variable: 0)
                                var best = 0
                                for q in 1..<classes where v[q] > v[best] { best = q }
                                predP[slot] = Int32(best)
                            } else {
                                let cnt = sim.spikeCounts(population: outIdx)
                                let v = sim.state(population: outIdx, variable: 0)
                                var best = 0
                                for q in 1..<classes where cnt[q] > cnt[best] || (cnt[q] == cnt[best] && v[q] > v[best]) { best = q }
                                predP[slot] = Int32(best)
                            }
                            for k in 0..<nl {
                                spP[slot * nl + k] = Double(sim.spikeCount(population: popIndex(k)))
                                evP[slot * nl + k] = projOf[k].reduce(0.0) { $0 + Double(sim.synapticEvents(projection: $1)) }
                            }
                            if !analog { inP[slot] = Double(sim.spikeCount(population: 0)) }
                        }
                    } catch {
                        errors.set(error)
                        return
                    }
                    done.increment()
                    img += nt
                }
            }
            if let e = errors.error { throw e }
            next = c0 + cn
            progress?(done.value)
        }
        let wall = Date().timeIntervalSince(t0)
        let preds = predP.array, spikes = spP.array, events = evP.array, inSpikes = inP.array
        var results: [SpikingEvaluation.AtT] = []
        for (ci, t) in ts.enumerated() {
            var correct = 0
            var sp = [Double](repeating: 0, count: nl), ev = [Double](repeating: 0, count: nl)
            var inp = 0.0
            var pr = [Int32](repeating: 0, count: n)
            for img in 0..<n {
                let slot = img * nc + ci
                pr[img] = preds[slot]
                if preds[slot] == labels[img] { correct += 1 }
                for k in 0..<nl { sp[k] += spikes[slot * nl + k]; ev[k] += events[slot * nl + k] }
                inp += inSpikes[slot]
            }
            let d = Double(max(n, 1))
            results.append(.init(timesteps: t, correct: correct, accuracy: Double(correct) / d,
                                 spikesPerLayer: sp.map { $0 / d }, sopsPerLayer: ev.map { $0 / d }, inputSpikes: inp / d, predictions: pr))
        }
        return SpikingEvaluation(images: n, results: results, wallSeconds: wall, threads: nt)
    }
}

/// A fixed-size buffer that concurrent workers write at disjoint indices.
final class SharedBuffer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    let count: Int
    init(_ count: Int, _ value: T) {
        self.count = count
        p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        p.initialize(repeating: value, count: count)
    }
    deinit { p.deinitialize(count: count); p.deallocate() }
    subscript(i: Int) -> T {
        get { p[i] }
        set { p[i] = newValue }
    }
    var array: [T] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

/// Thread-safe first-error holder for concurrent loops.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func set(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}

/// Thread-safe counter for progress.
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
