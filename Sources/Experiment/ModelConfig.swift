import Foundation
import SNN

/// Parsing of `populations.<name>`: size, model, params (with units) and initial values.
extension SimulationConfig {
    /// Model names accepted in configs.
    public static let modelNames = ["if", "lif_exp", "lif_cond_exp", "izhikevich", "adex", "hh", "poisson", "spike_source"]

    /// One parameter of a model: config key, dimension, and how it is stored.
    struct Param<P> {
        let key: String
        let dim: Dimension
        let path: WritableKeyPath<P, Double>
        /// nil = any finite value; otherwise returns an error message when the value is impossible.
        let check: ((Double, P) -> String?)?
        init(_ key: String, _ dim: Dimension, _ path: WritableKeyPath<P, Double>, _ check: ((Double, P) -> String?)? = nil) {
            self.key = key; self.dim = dim; self.path = path; self.check = check
        }
    }

    static func pos<P>() -> (Double, P) -> String? { { v, _ in v > 0 ? nil : "must be > 0" } }
    static func nonneg<P>() -> (Double, P) -> String? { { v, _ in v >= 0 ? nil : "must be >= 0" } }

    static func parseParams<P>(_ node: ConfigNode?, _ base: P, _ table: [Param<P>], model: String,
                               extra: ((ConfigMapping, inout P) throws -> Void)? = nil) throws -> P {
        var p = base
        guard let node else { return p }
        let m = try node.mapping()
        var nodes: [String: ConfigNode] = [:]
        for t in table {
            if let n = m.node(t.key) {
                p[keyPath: t.path] = try n.quantity(t.dim)
                nodes[t.key] = n
            }
        }
        try extra?(m, &p)
        do { try m.finish() } catch let e as ConfigError {
            throw ConfigError(file: e.file, line: e.line, column: e.column, key: e.key,
                              message: e.message.replacingOccurrences(of: "known keys here", with: "parameters of \(model)"))
        }
        for t in table {
            if let c = t.check, let msg = c(p[keyPath: t.path], p) {
                throw (nodes[t.key] ?? node).error("\(t.key) \(msg) (value \(fmt(p[keyPath: t.path])) \(t.dim.canonicalUnit))")
            }
        }
        return p
    }

    static func parsePopulation(_ name: String, _ node: ConfigNode, dt: Double) throws -> Population {
        let m = try node.mapping()
        let sizeNode = try m.require("size", "the number of neurons")
        let size = try sizeNode.int()
        guard size >= 1 && size < 100_000_000 else { throw sizeNode.error("size must be between 1 and 10^8, found \(size)") }
        let modelNode = try m.require("model", "one of: \(modelNames.joined(separator: ", "))")
        let modelName = try modelNode.choice(modelNames)
        let params = m.node("params")
        let model: NeuronModel
        switch modelName {
        case "if":
            let p = try parseParams(params, IFParameters(), [
                Param("V_th", .voltage, \.threshold), Param("V_reset", .voltage, \.resetPotential),
                Param("C_m", .capacitance, \.capacitance, pos()), Param("I_e", .current, \.biasCurrent),
                Param("t_ref", .time, \.refractoryPeriod, nonneg()),
            ], model: modelName) { pm, p in
                if let r = pm.node("reset") { p.resetBySubtraction = try r.choice(["subtract", "value"]) == "subtract" }
                if let vmin = pm.node("V_min") { p.lowerBound = try vmin.quantity(.voltage) }
            }
            if p.resetPotential >= p.threshold { throw (params ?? node).error("V_reset (\(fmt(p.resetPotential)) mV) must be below V_th (\(fmt(p.threshold)) mV)") }
            model = .integrateAndFire(p)
        case "lif_exp":
            let p = try parseParams(params, LIFExpParameters(), [
                Param("C_m", .capacitance, \.capacitance, pos()), Param("tau_m", .time, \.tauMembrane, pos()),
                Param("E_L", .voltage, \.restingPotential), Param("V_th", .voltage, \.threshold),
                Param("V_reset", .voltage, \.resetPotential, { v, p in v < p.threshold ? nil : "must be below V_th" }),
                Param("t_ref", .time, \.refractoryPeriod, nonneg()),
                Param("tau_syn_exc", .time, \.tauExc, pos()), Param("tau_syn_inh", .time, \.tauInh, pos()),
                Param("I_e", .current, \.biasCurrent),
            ], model: modelName)
            model = .lifExp(p)
        case "lif_cond_exp":
            let p = try parseParams(params, LIFCondExpParameters(), [
                Param("C_m", .capacitance, \.capacitance, pos()), Param("g_L", .conductance, \.leakConductance, pos()),
                Param("E_L", .voltage, \.restingPotential), Param("V_th", .voltage, \.threshold),
                Param("V_reset", .voltage, \.resetPotential, { v, p in v < p.threshold ? nil : "must be below V_th" }),
                Param("t_ref", .time, \.refractoryPeriod, nonneg()),
                Param("E_exc", .voltage, \.reversalExc), Param("E_inh", .voltage, \.reversalInh),
                Param("tau_syn_exc", .time, \.tauExc, pos()), Param("tau_syn_inh", .time, \.tauInh, pos()),
                Param("I_e", .current, \.biasCurrent),
            ], model: modelName)
            model = .lifCondExp(p)
        case "izhikevich":
            let p = try parseParams(params, IzhikevichParameters(), [
                Param("a", .dimensionless, \.a), Param("b", .dimensionless, \.b),
                Param("c", .voltage, \.c), Param("d", .dimensionless, \.d),
                Param("V_peak", .voltage, \.peak), Param("I_e", .current, \.biasCurrent),
            ], model: modelName) { pm, p in
                if let vmin = pm.node("V_min") { p.lowerBound = try vmin.quantity(.voltage) }
            }
            model = .izhikevich(p)
        case "adex":
            let p = try parseParams(params, AdExParameters(), [
                Param("C_m", .capacitance, \.capacitance, pos()), Param("g_L", .conductance, \.leakConductance, pos()),
                Param("E_L", .voltage, \.restingPotential), Param("V_th", .voltage, \.slopeThreshold),
                Param("Delta_T", .voltage, \.slopeFactor, nonneg()), Param("tau_w", .time, \.tauAdaptation, pos()),
                Param("a", .conductance, \.subthresholdAdaptation), Param("b", .current, \.spikeAdaptation),
                Param("V_reset", .voltage, \.resetPotential), Param("t_ref", .time, \.refractoryPeriod, nonneg()),
                Param("V_peak", .voltage, \.peak, { v, p in v > p.slopeThreshold ? nil : "must be above V_th" }),
                Param("E_exc", .voltage, \.reversalExc), Param("E_inh", .voltage, \.reversalInh),
                Param("tau_syn_exc", .time, \.tauExc, pos()), Param("tau_syn_inh", .time, \.tauInh, pos()),
                Param("I_e", .current, \.biasCurrent),
                Param("gsl_abs_tol", .dimensionless, \.absoluteTolerance, pos()),
            ], model: modelName)
            model = .adex(p)
        case "hh":
            let p = try parseParams(params, HHParameters(), [
                Param("C_m", .capacitance, \.capacitance, pos()), Param("g_L", .conductance, \.leakConductance, nonneg()),
                Param("E_L", .voltage, \.restingPotential), Param("g_Na", .conductance, \.sodiumConductance, nonneg()),
                Param("E_Na", .voltage, \.sodiumReversal), Param("g_K", .conductance, \.potassiumConductance, nonneg()),
                Param("E_K", .voltage, \.potassiumReversal), Param("V_T", .voltage, \.vT),
                Param("E_exc", .voltage, \.reversalExc), Param("E_inh", .voltage, \.reversalInh),
                Param("tau_syn_exc", .time, \.tauExc, pos()), Param("tau_syn_inh", .time, \.tauInh, pos()),
                Param("V_spike", .voltage, \.spikeThreshold), Param("t_ref", .time, \.refractoryPeriod, nonneg()),
                Param("I_e", .current, \.biasCurrent),
            ], model: modelName)
            model = .hodgkinHuxley(p)
        case "poisson":
            guard let params else { throw node.error("a poisson population needs params: {rate: ... Hz}") }
            let pm = try params.mapping()
            let rate = try pm.quantity("rate", .frequency)
            try pm.checked("rate", rate, rate >= 0 && rate * dt / 1000 <= 1, "rate must be in [0, 1/dt] (\(fmt(1000 / dt)) Hz)")
            try pm.finish()
            model = .poisson(rateHz: rate)
        default: // spike_source
            guard let params else { throw node.error("a spike_source population needs params: {spike_times: [[...], ...]} (one list per neuron)") }
            let pm = try params.mapping()
            let tn = try pm.require("spike_times", "one list of times per neuron, e.g. [[10 ms, 20 ms], []]")
            let lists = try tn.sequence()
            guard lists.count == size else { throw tn.error("has \(lists.count) lists of times but the population has \(size) neurons") }
            var times: [[Double]] = []
            for l in lists {
                let ts = try l.sequence().map { try $0.quantity(.time) }
                for (k, t) in ts.enumerated() where t < dt - 1e-9 {
                    throw try l.sequence()[k].error("spike times must be >= dt (\(fmt(dt)) ms): a spike is stamped at the end of a step")
                }
                for (k, t) in ts.enumerated() where !fitsSteps(t, dt, Network.maxSteps) {
                    throw try l.sequence()[k].error("spike times must be at most \(Network.maxSteps) steps of dt (\(fmt(dt)) ms)")
                }
                times.append(ts)
            }
            try pm.finish()
            model = .spikeSource(times: times)
        }
        // the engine counts the refractory period in 32-bit steps
        if let tr = try params?.mapping().node("t_ref"), let t = try? tr.quantity(.time), !fitsSteps(t, dt, Int64(Int32.max)) {
            throw tr.error("t_ref must be at most 2^31 - 1 steps of dt (\(fmt(dt)) ms)")
        }

        // initial values
        var initial: [String: Distribution] = [:]
        if let initNode = m.node("initial") {
            let im = try initNode.mapping()
            let vars = model.variables
            for (vname, vnode) in im.all() {
                guard let v = vars.first(where: { $0.name == vname }) else {
                    let names = vars.map(\.name)
                    throw vnode.error("model \(modelName) has no state variable '\(vname)'; it has: \(names.isEmpty ? "none" : names.joined(separator: ", "))\(Suggest.hint(vname, names))")
                }
                let dim: Dimension
                switch v.unit {
                case "mV": dim = .voltage
                case "nS": dim = .conductance
                case "pA": dim = .current
                default: dim = .dimensionless
                }
                initial[vname] = try parseDistribution(vnode, dim)
                if let why = initial[vname]?.problem { throw vnode.error(why) }
            }
        }
        try m.finish()
        return Population(name: name, size: size, model: model, initial: initial)
    }
}

