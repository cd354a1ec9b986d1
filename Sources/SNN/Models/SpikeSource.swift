import Foundation

/// `spike_source`: emits given spikes: one list of times (ms) per neuron, each >= dt (a spike is stamped
/// at the end of a step) and rounded to the grid: a time t is the spike of update round(t/dt) - 1.
/// Engine: `Sources/CEngine/models/spike_source.c` (the data block `spike_steps`).
public struct SpikeSourceParameters: NeuronModelKind {
    /// Spike times (ms), one list per neuron.
    public var times: [[Double]] = []
    public init() {}
    public init(times: [[Double]]) { self.times = times }

    public static let name = "spike_source"
    public static var summary: String { "emits given spike times (one list per neuron)" }
    public static var parameters: [ModelParameter<Self>] { [
        .init("spike_times", timeLists: \.times, "one list of spike times per neuron, e.g. [[10 ms, 20 ms], []]", required: true),
    ] }
    public static var variables: [StateVariable] { [] }
    public static var receptors: [Receptor] { [] }
    public static var weightDimensions: [Dimension] { [] }

    public func engineParameters(dt: Double) -> [(name: String, value: Double)] { [] }

    public func problem(size: Int, rates: [Double]?, dt: Double) -> String? {
        if rates != nil { return "per-neuron rates need the poisson model" }
        return times.count == size ? nil : "spike_times has \(times.count) lists of times but the population has \(size) neurons"
    }
    /// The emitting steps per neuron as CSR: ptr[n + 1], then the steps (ascending per neuron).
    public func engineBlocks(size: Int, dt: Double) -> [EngineBlock] {
        var ptr: [Int64] = [0], steps: [Int64] = []
        for tl in times {
            steps += tl.map { Int64((($0 / dt).rounded())) - 1 }.sorted()   // validated: 1 ... Network.maxSteps
            ptr.append(Int64(steps.count))
        }
        return [EngineBlock(name: "spike_steps", values: ptr + steps)]
    }
    /// The engine's CSR of emitting steps and each neuron's position: 16 B per neuron and 24 B per spike
    /// (with the copy made while it is built).
    public func extraBytes(size: Int, rates: [Double]?) -> Double {
        16 * Double(size) + 24 * Double(times.reduce(0) { $0 + $1.count })
    }
    public func expectedSpikes(size: Int, neurons: [Int]?, rates: [Double]?, steps: Double, dt: Double) -> Double {
        let end = steps * dt
        let selected = neurons.map { Set($0) }
        var expected = 0.0
        for (i, ts) in times.enumerated() where selected?.contains(i) ?? true {
            expected += Double(ts.reduce(0) { $0 + ($1 <= end ? 1 : 0) })
        }
        return expected
    }
}

extension NeuronModel {
    /// A spike source emitting `times` (ms), one list per neuron.
    public static func spikeSource(times: [[Double]]) -> NeuronModel { NeuronModel(SpikeSourceParameters(times: times)) }
}
