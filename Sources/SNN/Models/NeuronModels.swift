import Foundation

/// The registered neuron models, one line each: what configs, the model table and saved networks know.
/// The engine registers the same names in `Sources/CEngine/models/models.h` (a test checks that both
/// tables agree: names, state variables, ports and parameter names).
public enum NeuronModels {
    public static var all: [any NeuronModelKind.Type] { [
        IFParameters.self,
        LIFExpParameters.self,
        LIFCondExpParameters.self,
        LIFAlphaParameters.self,
        LIFDeltaParameters.self,
        IzhikevichParameters.self,
        AdExParameters.self,
        HHParameters.self,
        PoissonParameters.self,
        SpikeSourceParameters.self,
    ] }

    /// Their names, in registration order.
    public static var names: [String] { all.map { $0.name } }

    /// The model named `name`, or nil.
    public static func named(_ name: String) -> (any NeuronModelKind.Type)? { all.first { $0.name == name } }
}
