import Foundation
import SNN

/// Parsing of `populations.<name>`: size, model, params (with units) and initial values. Every model's
/// parameters are read generically from the model's own table (`NeuronModelKind.parameters`: key,
/// dimension, default, rules), so a new model needs no change here.
extension SimulationConfig {
    /// Model names accepted in configs (the registered models).
    public static var modelNames: [String] { NeuronModels.names }

    static func parsePopulation(_ name: String, _ node: ConfigNode, dt: Double) throws -> Population {
        let m = try node.mapping()
        let sizeNode = try m.require("size", "the number of neurons")
        let size = try sizeNode.int()
        guard size >= 1 && size < 100_000_000 else { throw sizeNode.error("size must be between 1 and 10^8, found \(size)") }
        let modelNode = try m.require("model", "one of: \(modelNames.joined(separator: ", "))")
        let modelName = try modelNode.choice(modelNames)
        let kind = NeuronModels.named(modelName)!
        let model = try parseModel(kind, m.node("params"), population: node, size: size, dt: dt)

        // initial values
        var initial: [String: Distribution] = [:]
        if let initNode = m.node("initial") {
            let im = try initNode.mapping()
            let vars = model.stateVariables
            for (vname, vnode) in im.all() {
                guard let v = vars.first(where: { $0.name == vname }) else {
                    let names = vars.map(\.name)
                    throw vnode.error("model \(modelName) has no state variable '\(vname)'; it has: \(names.isEmpty ? "none" : names.joined(separator: ", "))\(Suggest.hint(vname, names))")
                }
                initial[vname] = try parseDistribution(vnode, v.dimension)
                if let why = initial[vname]?.problem { throw vnode.error(why) }
            }
        }
        try m.finish()
        return Population(name: name, size: size, model: model, initial: initial)
    }

    /// `params` of a population of `M` (nil: none given): every key of the model's parameter table that
    /// is present, then each parameter's rules (reported at its line), then what the model requires of
    /// the population as a whole.
    static func parseModel<M: NeuronModelKind>(_ type: M.Type, _ node: ConfigNode?, population: ConfigNode, size: Int, dt: Double) throws -> NeuronModel {
        var p = M()
        var nodes: [String: ConfigNode] = [:]
        if let node {
            let pm = try node.mapping()
            for param in M.parameters {
                guard let n = pm.node(param.key) else { continue }
                nodes[param.key] = n
                switch param.kind {
                case .quantity(let dim, let path):
                    p[keyPath: path] = try n.quantity(dim)
                case .choice(let on, let off, let path):
                    p[keyPath: path] = try n.choice([on, off]) == on
                case .timeLists(let path):
                    var lists: [[Double]] = []
                    for l in try n.sequence() {
                        var ts: [Double] = []
                        for item in try l.sequence() {
                            let t = try item.quantity(.time)
                            if let why = ModelParameter<M>.timeProblem(t, dt: dt) { throw item.error(why) }
                            ts.append(t)
                        }
                        lists.append(ts)
                    }
                    p[keyPath: path] = lists
                }
            }
            do { try pm.finish() } catch let e as ConfigError {
                throw ConfigError(file: e.file, line: e.line, column: e.column, key: e.key,
                                  message: e.message.replacingOccurrences(of: "known keys here", with: "parameters of \(M.name)"))
            }
        }
        for param in M.parameters where param.required && nodes[param.key] == nil {
            throw (node ?? population).error("a \(M.name) population needs params: {\(param.key): ...} (\(param.doc))")
        }
        for param in M.parameters {
            guard let why = param.problem(in: p, dt: dt) else { continue }
            var value = ""
            if let x = param.number(in: p), let d = param.dimension { value = " (value \(fmt(x))\(d.canonicalUnit.isEmpty ? "" : " " + d.canonicalUnit))" }
            throw (nodes[param.key] ?? node ?? population).error("\(param.key) \(why)\(value)")
        }
        if let why = p.problem(size: size, rates: nil, dt: dt) { throw (node ?? population).error(why) }
        return NeuronModel(p)
    }
}
