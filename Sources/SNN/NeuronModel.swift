import Foundation

/// The model of a population: any registered `NeuronModelKind` with its parameter values. Build one from
/// the model's parameters (`NeuronModel(LIFExpParameters())`) or with the model's shorthand
/// (`.lifExp(p)`, `.poisson(rateHz: 10)`; each model file defines its own). Everything a population
/// needs to know about its model goes through here, generically: no code outside a model's own files
/// names a model.
public struct NeuronModel: Sendable, Equatable {
    /// The model's parameters (its type is the model).
    public let parameters: any NeuronModelKind

    public init(_ parameters: some NeuronModelKind) { self.parameters = parameters }

    public static func == (a: NeuronModel, b: NeuronModel) -> Bool { a.parameters.isEqual(to: b.parameters) }

    var kind: any NeuronModelKind.Type { type(of: parameters) }

    /// The name used in configs, saved networks and the model table.
    public var name: String { kind.name }

    /// State variables that monitors can sample, with their units.
    public var variables: [(name: String, unit: String)] { kind.variables.map { ($0.name, $0.unit) } }
    public var stateVariables: [StateVariable] { kind.variables }

    /// Receptor ports (conductance/current models: excitatory and inhibitory with their own time
    /// constants; delta models: one port, the weight's sign decides).
    public var receptors: [Receptor] { kind.receptors }

    /// Unit of a synaptic weight onto this model (the engine's; "" for spike sources).
    public var weightUnit: String { kind.weightDimensions.first?.canonicalUnit ?? "" }
    /// Dimensions a weight may be given in (the first is the engine's).
    public var weightDimensions: [Dimension] { kind.weightDimensions }
    /// Factor from a weight in `dimension` to the engine's unit.
    public func weightScale(for dimension: Dimension) -> Double { parameters.weightScale(for: dimension) }

    /// A spike source: no state, no synaptic ports.
    public var isSource: Bool { kind.receptors.isEmpty }

    /// Factor that turns the engine's stored value of variable `index` into its documented unit.
    func readoutScale(_ index: Int) -> Float { parameters.readoutScale(of: index) }

    /// Engine parameters by name (the model's C parameter struct; derived for the time step `dt`, ms).
    func cParameters(dt: Double) -> [(name: String, value: Double)] { parameters.engineParameters(dt: dt) }
}

/// Synaptic receptor port of a target neuron.
public enum Receptor: String, Sendable, Equatable, CaseIterable {
    case excitatory = "exc"
    case inhibitory = "inh"
}
