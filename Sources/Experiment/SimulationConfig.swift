import Foundation
import SNN

/// A simulation described in YAML: run settings, populations, projections, current inputs and
/// monitors. Everything is checked before anything runs; every error names file:line, the key and
/// what was expected. Units are explicit (`20 ms`, `0.6 nS`); see README "Config format".
public struct SimulationConfig: Sendable {
    public var name: String
    public var network: Network
    public var durationMs: Double
    public var seed: UInt64
    /// Threads (0 = all cores).
    public var threads: Int
    public var spikeMonitors: [SpikeMonitorSpec]
    public var stateMonitors: [StateMonitorSpec]
    /// Population-rate bin (ms).
    public var rateBinMs: Double
    /// Populations whose rates (`rates_<pop>.npy`, the plot's rate panel) are written: `monitors.rates`'s
    /// `populations`, by default the populations whose spikes are monitored; none when `monitors` has no
    /// `rates`; every population when the config has no `monitors` at all.
    public var ratePopulations: [String]

    public struct SpikeMonitorSpec: Sendable, Equatable {
        public var population: String
        /// nil: every neuron.
        public var selection: NeuronSelection?
        /// The selected indices (expands a range: read them after the memory check).
        public var neurons: [Int]? { selection?.indices }

        public init(population: String, selection: NeuronSelection?) {
            self.population = population
            self.selection = selection
        }
        public init(population: String, neurons: [Int]?) { self.init(population: population, selection: neurons.map { .list($0) }) }
    }

    public struct StateMonitorSpec: Sendable, Equatable {
        public var population: String
        public var variables: [String]
        public var selection: NeuronSelection
        public var everyMs: Double
        /// The selected indices (expands a range: read them after the memory check).
        public var neurons: [Int] { selection.indices }

        public init(population: String, variables: [String], selection: NeuronSelection, everyMs: Double) {
            self.population = population
            self.variables = variables
            self.selection = selection
            self.everyMs = everyMs
        }
        public init(population: String, variables: [String], neurons: [Int], everyMs: Double) {
            self.init(population: population, variables: variables, selection: .list(neurons), everyMs: everyMs)
        }
    }

    /// Loads and validates a config file.
    public static func load(path: String) throws -> SimulationConfig {
        try parse(ConfigNode.load(path: path))
    }

    public static func parse(_ root: ConfigNode) throws -> SimulationConfig {
        let top = try root.mapping()
        let name = try top.string("name", default: URL(fileURLWithPath: root.file).deletingPathExtension().lastPathComponent)
        _ = top.node("description")

        // run
        var dt = 0.1, duration = 1000.0, seed: UInt64 = 1, threads = 0
        if let runNode = top.node("run") {
            let run = try runNode.mapping()
            dt = try run.quantity("dt", .time, default: 0.1)
            try run.checked("dt", dt, dt > 0 && dt <= 10, "dt must be > 0 ms and at most 10 ms")
            duration = try run.quantity("duration", .time, default: 1000)
            try run.checked("duration", duration, duration > 0, "duration must be > 0")
            try run.checked("duration", duration, fitsSteps(duration, dt, Network.maxSteps),
                            "duration must be at most \(Network.maxSteps) steps of dt (\(fmt(dt)) ms)")
            if let s = run.node("seed") {
                let v = try s.int()
                guard v >= 0 else { throw s.error("seed must be a whole number >= 0, found \(v)") }
                seed = UInt64(v)
            }
            if let t = run.node("threads") {
                if try t.scalarText() == "auto" { threads = 0 } else {
                    threads = try t.int()
                    guard threads >= 1 && threads <= 1024 else { throw t.error("threads must be 'auto' or a whole number >= 1, found \(threads)") }
                }
            }
            try run.finish()
        }

        // populations
        let popsNode = try top.require("populations", "a mapping of population names to their definitions")
        let popsMap = try popsNode.mapping()
        var populations: [Population] = []
        var popNodes: [String: ConfigNode] = [:]
        for (pname, pnode) in popsMap.all() {
            guard pname.range(of: "^[A-Za-z_][A-Za-z0-9_\\-]*$", options: .regularExpression) != nil else {
                throw pnode.error("population names must start with a letter or '_' and contain only letters, digits, '_' or '-'")
            }
            populations.append(try parsePopulation(pname, pnode, dt: dt))
            popNodes[pname] = pnode
        }
        guard !populations.isEmpty else { throw popsNode.error("at least one population is needed") }
        func population(_ n: ConfigNode) throws -> Population {
            let s = try n.string()
            guard let p = populations.first(where: { $0.name == s }) else {
                throw n.error("unknown population '\(s)'; defined: \(populations.map(\.name).joined(separator: ", "))\(Suggest.hint(s, populations.map(\.name)))")
            }
            return p
        }

        // projections
        var projections: [Projection] = []
        if let projNode = top.node("projections") {
            for pn in try projNode.sequence() {
                let m = try pn.mapping()
                let preNode = try m.require("pre", "the presynaptic population's name")
                let postNode = try m.require("post", "the postsynaptic population's name")
                let pre = try population(preNode), post = try population(postNode)
                if post.model.isSource { throw postNode.error("'\(post.name)' is a spike source (\(post.model.name)) and cannot receive synapses") }
                let pname = try m.string("name", default: "\(pre.name)->\(post.name)")
                let receptors = post.model.receptors.map(\.rawValue)
                let receptor = Receptor(rawValue: try m.choice("receptor", receptors, default: "exc"))!
                let conn = try parseConnectivity(try m.require("connect", "a connection rule, e.g. {rule: fixed_probability, p: 0.02}"), pre: pre, post: post, dt: dt, weightDim: weightDimensions(post.model), weightScale: weightScale(post.model))
                let weightNode = try m.require("weight", "a weight in \(post.model.weightUnit), e.g. '\(post.model.weightUnit == "nS" ? "6 nS" : "1.6 mV")' or a distribution")
                let weight = try parseWeight(weightNode, post.model)
                if let why = weight.problem { throw weightNode.error("weight: \(why)") }
                if post.model.weightUnit == "nS", weight.lowerBound < 0 {
                    throw weightNode.error("conductance weights must be >= 0 (use receptor: inh for inhibition)")
                }
                let delayNode = m.node("delay")
                let delay = try delayNode.map { try parseDistribution($0, .time) } ?? .constant(dt)
                if let why = delay.problem { throw (delayNode ?? pn).error("delay: \(why)") }
                if delay.lowerBound < dt - 1e-9 {
                    throw (delayNode ?? pn).error("delays must be >= dt (\(fmt(dt)) ms); found a minimum of \(fmt(delay.lowerBound)) ms")
                }
                if delay.upperBound / dt >= 65535 {
                    throw (delayNode ?? pn).error("delays must be shorter than 65535 steps (\(fmt(65535 * dt)) ms)")
                }
                try m.finish()
                projections.append(Projection(name: pname, pre: pre.name, post: post.name, receptor: receptor, kind: .sparse(conn), weight: weight, delay: delay))
            }
        }

        // inputs (currents, Poisson inputs)
        var currents: [CurrentInput] = []
        var poissonInputs: [PoissonInput] = []
        if let inNode = top.node("inputs") {
            for (k, cn) in try inNode.sequence().enumerated() {
                let m = try cn.mapping()
                let kind = try m.choice("kind", ["constant_current", "step_current", "poisson_input"])
                let tnode = try m.require("target", "a population name")
                let target = try population(tnode)
                if kind == "poisson_input" {
                    let input = try parsePoissonInput(m, node: cn, index: k, target: target, targetNode: tnode, dt: dt)
                    if poissonInputs.contains(where: { $0.name == input.name }) {
                        throw (m.node("name") ?? cn).error("the input name '\(input.name)' is used twice")
                    }
                    poissonInputs.append(input)
                    continue
                }
                if target.model.isSource { throw tnode.error("'\(target.name)' is a spike source; currents need a neuron model") }
                let neurons = try m.node("neurons").flatMap { try parseNeuronSelection($0, size: target.size) }
                var times: [Double] = [], amps: [Double] = []
                if kind == "constant_current" {
                    let amp = try m.quantity("amplitude", .current)
                    let start = try m.quantity("start", .time, default: 0)
                    try m.checked("start", start, start >= 0, "start must be >= 0")
                    times = [start]; amps = [amp]
                    if let stopNode = m.node("stop") {
                        let stop = try stopNode.quantity(.time)
                        guard stop > start else { throw stopNode.error("stop must be after start (\(fmt(start)) ms)") }
                        times.append(stop); amps.append(0)
                    }
                    if start > 0 { times.insert(0, at: 0); amps.insert(0, at: 0) }
                    for key in ["start", "stop"] {
                        if let tn = m.node(key), let t = try? tn.quantity(.time), !fitsSteps(t, dt, Network.maxSteps) {
                            throw tn.error("\(key) must be at most \(Network.maxSteps) steps of dt (\(fmt(dt)) ms)")
                        }
                    }
                } else {
                    let tn = try m.require("times", "a list of times, e.g. [0 ms, 50 ms]")
                    let an = try m.require("amplitudes", "a list of currents, e.g. [100 pA, 0 pA]")
                    times = try tn.sequence().map { try $0.quantity(.time) }
                    amps = try an.sequence().map { try $0.quantity(.current) }
                    guard times.count == amps.count, !times.isEmpty else { throw an.error("needs as many amplitudes as times (\(times.count)), at least one") }
                    guard zip(times, times.dropFirst()).allSatisfy({ $0 < $1 }), times[0] >= 0 else { throw tn.error("times must be >= 0 and strictly increasing") }
                    guard fitsSteps(times[times.count - 1], dt, Network.maxSteps) else {
                        throw tn.error("times must be at most \(Network.maxSteps) steps of dt (\(fmt(dt)) ms)")
                    }
                }
                let cname = try m.string("name", default: "input\(k)")
                try m.finish()
                currents.append(CurrentInput(name: cname, population: target.name, neurons: neurons, times: times, amplitudes: amps))
            }
        }

        // monitors
        var spikeMons: [SpikeMonitorSpec] = []
        var stateMons: [StateMonitorSpec] = []
        var rateBin = 1.0
        var ratePops: [String] = []
        if let monNode = top.node("monitors") {
            let mm = try monNode.mapping()
            if let sn = mm.node("spikes") {
                if sn.isScalar {
                    let v = try sn.string()
                    if v == "all" { spikeMons = populations.map { SpikeMonitorSpec(population: $0.name, neurons: nil) } }
                    else if v == "none" { spikeMons = [] }
                    else { spikeMons = [SpikeMonitorSpec(population: try population(sn).name, neurons: nil)] }
                } else {
                    for e in try sn.sequence() {
                        if e.isScalar { spikeMons.append(SpikeMonitorSpec(population: try population(e).name, neurons: nil)) }
                        else {
                            let em = try e.mapping()
                            let p = try population(try em.require("population"))
                            let ns = try em.node("neurons").flatMap { try parseSelection($0, size: p.size, allIsNil: true) }
                            try em.finish()
                            spikeMons.append(SpikeMonitorSpec(population: p.name, selection: ns))
                        }
                    }
                }
            }
            if let st = mm.node("state") {
                for e in try st.sequence() {
                    let em = try e.mapping()
                    let pn = try em.require("population")
                    let p = try population(pn)
                    let vn = try em.require("variables", "a list of state variables, e.g. [v]")
                    let vars = vn.isScalar ? [try vn.string()] : try vn.sequence().map { try $0.string() }
                    let known = p.model.variables.map(\.name)
                    for v in vars where !known.contains(v) {
                        throw vn.error("model \(p.model.name) has no variable '\(v)'; it has: \(known.joined(separator: ", "))\(Suggest.hint(v, known))")
                    }
                    let ns = try parseSelection(try em.require("neurons", "a list of neuron indices or a range 'a:b'"), size: p.size, allIsNil: false)!
                    let every = try em.quantity("every", .time, default: dt)
                    try em.checked("every", every, every >= dt - 1e-9, "the sampling interval must be >= dt (\(fmt(dt)) ms)")
                    try em.checked("every", every, fitsSteps(every, dt, Int64(Int32.max)), "the sampling interval must be at most 2^31 - 1 steps of dt (\(fmt(dt)) ms)")
                    try em.finish()
                    stateMons.append(StateMonitorSpec(population: p.name, variables: vars, selection: ns, everyMs: every))
                }
            }
            if let rn = mm.node("rates") {
                let rm = try rn.mapping()
                rateBin = try rm.quantity("bin", .time, default: 1)
                try rm.checked("bin", rateBin, rateBin >= dt - 1e-9, "the rate bin must be >= dt")
                try rm.checked("bin", rateBin, fitsSteps(rateBin, dt, Network.maxSteps), "the rate bin must be at most \(Network.maxSteps) steps of dt (\(fmt(dt)) ms)")
                if let pn = rm.node("populations") {
                    if pn.isScalar, try pn.string() == "all" { ratePops = populations.map(\.name) }
                    else if pn.isScalar, try pn.string() == "none" { ratePops = [] }
                    else {
                        for e in pn.isScalar ? [pn] : try pn.sequence() {
                            let name = try population(e).name
                            if ratePops.contains(name) { throw e.error("population '\(name)' is listed twice") }
                            ratePops.append(name)
                        }
                    }
                } else {   // the populations whose spikes are monitored
                    for m in spikeMons where !ratePops.contains(m.population) { ratePops.append(m.population) }
                }
                try rm.finish()
            }
            try mm.finish()
        } else {
            spikeMons = populations.map { SpikeMonitorSpec(population: $0.name, neurons: nil) }
            ratePops = populations.map(\.name)
        }
        try top.finish()

        let network = Network(dt: dt, populations: populations, projections: projections, currents: currents, poissonInputs: poissonInputs)
        do { try network.validate() } catch let e as NetworkError { throw root.error(e.message) }
        return SimulationConfig(name: name, network: network, durationMs: duration, seed: seed, threads: threads,
                                spikeMonitors: spikeMons, stateMonitors: stateMons, rateBinMs: rateBin, ratePopulations: ratePops)
    }

    /// `{kind: poisson_input, target, sources, rate, weight, receptor?, draw?, neurons?, name?}`: every
    /// value checked at its own line (sources a whole number in 1 ... 2^31 - 1, rate finite and >= 0,
    /// binomial rates at most 1/dt, sources x rate x dt at most 10^7 per step, one finite weight in the
    /// target model's unit, conductances >= 0, a receptor of the target).
    static func parsePoissonInput(_ m: ConfigMapping, node: ConfigNode, index k: Int, target: Population, targetNode: ConfigNode,
                                  dt: Double) throws -> PoissonInput {
        if target.model.isSource { throw targetNode.error("'\(target.name)' is a spike source (\(target.model.name)) and receives no input; a poisson_input needs a neuron model") }
        let sn = try m.require("sources", "the number of independent Poisson trains per target neuron, e.g. 1000")
        let sources = try sn.int()
        guard sources >= 1, sources <= Int(Int32.max) else { throw sn.error("sources must be a whole number from 1 to 2^31 - 1, found \(sources)") }
        let rn = try m.require("rate", "the rate of each train, e.g. 10 Hz")
        let rate = try rn.quantity(.frequency)
        guard rate >= 0 else { throw rn.error("rate must be >= 0 Hz, found \(fmt(rate)) Hz") }
        let draw = PoissonInput.Draw(rawValue: try m.choice("draw", PoissonInput.Draw.allCases.map(\.rawValue), default: "poisson"))!
        if draw == .binomial, rate * dt / 1000 > 1 {
            throw rn.error("rate must be at most 1/dt (\(fmt(1000 / dt)) Hz) with draw: binomial (one spike per train and step at most); draw: poisson takes any rate")
        }
        let lambda = Double(sources) * rate * dt / 1000
        if !(lambda <= PoissonInput.maxMeanPerStep) {
            throw rn.error("sources x rate x dt = \(fmt(lambda)) spikes per neuron and step is more than \(fmt(PoissonInput.maxMeanPerStep))")
        }
        let receptors = target.model.receptors.map(\.rawValue)
        let receptor = Receptor(rawValue: try m.choice("receptor", receptors, default: receptors.first ?? "exc"))!
        let wn = try m.require("weight", "a weight in \(target.model.weightUnit) added per input spike, e.g. '\(target.model.weightUnit == "nS" ? "1 nS" : "0.1 mV")'")
        let wd = try parseWeight(wn, target.model)
        guard let weight = wd.constantValue else { throw wn.error("a poisson_input takes one weight, not a distribution") }
        if let why = wd.problem { throw wn.error("weight: \(why)") }
        if target.model.weightUnit == "nS", weight < 0 { throw wn.error("conductance weights must be >= 0 (use receptor: inh for inhibition)") }
        let neurons = try m.node("neurons").flatMap { try parseNeuronSelection($0, size: target.size) }
        let name = try m.string("name", default: "input\(k)")
        guard name.range(of: "^[A-Za-z_][A-Za-z0-9_\\-]*$", options: .regularExpression) != nil else {
            throw (m.node("name") ?? node).error("input names must start with a letter or '_' and contain only letters, digits, '_' or '-'")
        }
        try m.finish()
        let input = PoissonInput(name: name, population: target.name, neurons: neurons, sources: sources, rateHz: rate, weight: weight,
                                 receptor: receptor, draw: draw)
        if let why = input.problem(target: target, dt: dt) { throw node.error(why) }
        return input
    }

    // MARK: pieces

    static func fmt(_ x: Double) -> String { String(format: "%g", x) }

    /// `ms` is a whole number of at most `max` steps of `dt`.
    static func fitsSteps(_ ms: Double, _ dt: Double, _ max: Int64) -> Bool {
        let s = (ms / dt).rounded()
        return s.isFinite && s <= Double(max)
    }

    /// Neuron indices; nil for `all` (every neuron, without listing them).
    static func parseNeuronSelection(_ n: ConfigNode, size: Int) throws -> [Int]? {
        try parseSelection(n, size: size, allIsNil: true)?.indices
    }

    /// Neurons: a list, a range `a:b` (checked against `size`, kept as bounds) or `all` (nil with
    /// `allIsNil`, else the range 0..<size). Nothing is expanded here: monitors allocate their index
    /// lists after the memory estimate.
    static func parseSelection(_ n: ConfigNode, size: Int, allIsNil: Bool) throws -> NeuronSelection? {
        if n.isScalar {
            let t = try n.string().trimmingCharacters(in: .whitespaces)
            if t == "all" { return allIsNil ? nil : .range(0..<size) }
            let parts = t.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let a = Int(parts[0].trimmingCharacters(in: .whitespaces)), let b = Int(parts[1].trimmingCharacters(in: .whitespaces)), a < b else {
                throw n.error("expected a list of indices, 'all', or a range 'a:b' (a < b, b excluded), found '\(ConfigNode.clip(t))'")
            }
            guard a >= 0, b <= size else { throw n.error("the range \(a):\(b) is out of range 0..<\(size) (b is excluded)") }
            return .range(a..<b)
        }
        let out = try n.sequence().map { try $0.int() }
        for i in out where i < 0 || i >= size { throw n.error("neuron index \(i) is out of range 0..<\(size)") }
        guard !out.isEmpty else { throw n.error("the neuron list is empty") }
        return .list(out)
    }

    /// Dimensions a weight onto `m` may be given in (the model's).
    static func weightDimensions(_ m: NeuronModel) -> [Dimension] { m.weightDimensions }

    /// Factor from a weight in `dim` to the model's internal weight unit.
    static func weightScale(_ m: NeuronModel) -> (Dimension) -> Double { { dim in m.weightScale(for: dim) } }

    static func parseWeight(_ n: ConfigNode, _ m: NeuronModel) throws -> Distribution {
        let dims = weightDimensions(m)
        var lastError: ConfigError?
        for d in dims {
            do { return try parseDistribution(n, d).scaled(weightScale(m)(d)) } catch let e as ConfigError { lastError = lastError ?? e }
        }
        let units = dims.map { "\($0.rawValue) (\($0.canonicalUnit))" }.joined(separator: " or ")
        throw n.error("expected a weight as a \(units) for model \(m.name)" + (lastError.map { " — \($0.message)" } ?? ""))
    }

    /// A constant with a unit (`6 nS`) or a one-key mapping: `normal: {mean, std, min?, max?}`,
    /// `uniform: {low, high}`, `exponential: {mean, min?, max?}`, `lognormal: {mu, sigma, min?, max?}`
    /// (mu and sigma of ln(value in the canonical unit)).
    static func parseDistribution(_ n: ConfigNode, _ dim: Dimension) throws -> Distribution {
        if n.isScalar { return .constant(try n.quantity(dim)) }
        let m = try n.mapping()
        guard m.keys.count == 1, let kind = m.keys.first else {
            throw n.error("expected a value like '\(dim.example)' or one distribution: normal, uniform, exponential or lognormal")
        }
        guard let body = m.node(kind) else { throw n.error("empty distribution") }
        let b = try body.mapping()
        let dist: Distribution
        switch kind {
        case "normal":
            let mean = try b.quantity("mean", dim), sd = try b.quantity("std", dim)
            try b.checked("std", sd, sd >= 0, "std must be >= 0")
            dist = .normal(mean: mean, std: sd, min: try b.node("min").map { try $0.quantity(dim) }, max: try b.node("max").map { try $0.quantity(dim) })
        case "uniform":
            let lo = try b.quantity("low", dim), hi = try b.quantity("high", dim)
            try b.checked("high", hi, hi >= lo, "high must be >= low (\(fmt(lo)))")
            dist = .uniform(low: lo, high: hi)
        case "exponential":
            let mean = try b.quantity("mean", dim)
            try b.checked("mean", mean, mean > 0, "mean must be > 0")
            dist = .exponential(mean: mean, min: try b.node("min").map { try $0.quantity(dim) }, max: try b.node("max").map { try $0.quantity(dim) })
        case "lognormal":
            let mu = try b.double("mu"), sg = try b.double("sigma")
            try b.checked("sigma", sg, sg >= 0, "sigma must be >= 0")
            dist = .lognormal(mu: mu, sigma: sg, min: try b.node("min").map { try $0.quantity(dim) }, max: try b.node("max").map { try $0.quantity(dim) })
        default:
            throw n.error("unknown distribution '\(kind)'; expected normal, uniform, exponential or lognormal\(Suggest.hint(kind, ["normal", "uniform", "exponential", "lognormal"]))")
        }
        try b.finish()
        if dist.lowerBound > dist.upperBound { throw n.error("min must be <= max") }
        return dist
    }

    static func parseConnectivity(_ n: ConfigNode, pre: Population, post: Population, dt: Double,
                                  weightDim: [Dimension], weightScale: (Dimension) -> Double) throws -> Connectivity {
        let m = try n.mapping()
        let rules = ["all_to_all", "one_to_one", "fixed_probability", "fixed_indegree", "fixed_outdegree", "list"]
        let rule = try m.choice("rule", rules)
        let c: Connectivity
        switch rule {
        case "all_to_all":
            c = .allToAll(autapses: try m.bool("autapses", default: false))
        case "one_to_one":
            if pre.size != post.size { throw n.error("one_to_one needs equal sizes, got \(pre.size) (\(pre.name)) and \(post.size) (\(post.name))") }
            c = .oneToOne
        case "fixed_probability":
            let p = try m.double("p")
            try m.checked("p", p, p >= 0 && p <= 1, "p must be a probability in [0, 1]")
            c = .fixedProbability(p, autapses: try m.bool("autapses", default: false))
        case "fixed_indegree", "fixed_outdegree":
            let k = try m.int("k")
            let multi = try m.bool("multapses", default: true)
            let aut = try m.bool("autapses", default: false)
            let limit = rule == "fixed_indegree" ? pre.size : post.size
            try m.checked("k", Double(k), k >= 0, "k must be >= 0")
            try m.checked("k", Double(k), k <= Int(Int32.max), "k must be at most 2^31 - 1")
            if !multi && k > limit { throw (m.node("k") ?? n).error("k = \(k) exceeds the \(limit) available neurons without multapses") }
            if limit == 0 && k > 0 { throw (m.node("k") ?? n).error("k = \(k) but the population is empty") }
            c = rule == "fixed_indegree" ? .fixedIndegree(k, autapses: aut, multapses: multi) : .fixedOutdegree(k, autapses: aut, multapses: multi)
        default: // list
            let pn = try m.require("pairs", "a list of [pre, post] index pairs")
            var pairs: [(Int, Int)] = []
            for e in try pn.sequence() {
                let xy = try e.sequence()
                guard xy.count == 2 else { throw e.error("expected a [pre, post] pair") }
                let i = try xy[0].int(), j = try xy[1].int()
                guard i >= 0, i < pre.size else { throw xy[0].error("pre index \(i) out of range 0..<\(pre.size)") }
                guard j >= 0, j < post.size else { throw xy[1].error("post index \(j) out of range 0..<\(post.size)") }
                pairs.append((i, j))
            }
            var weights: [Double]? = nil
            if let wn = m.node("weights") {
                var ws: [Double] = []
                for e in try wn.sequence() {
                    var got: Double? = nil
                    for d in weightDim { if let v = try? e.quantity(d) { got = v * weightScale(d); break } }
                    guard let v = got else { throw e.error("expected a weight with a unit (\(weightDim.map(\.canonicalUnit).joined(separator: " or ")))") }
                    if let why = Distribution.constant(v).problem { throw e.error("weight: \(why)") }
                    ws.append(v)
                }
                guard ws.count == pairs.count else { throw wn.error("\(ws.count) weights for \(pairs.count) pairs") }
                weights = ws
            }
            var delays: [Double]? = nil
            if let dn = m.node("delays") {
                let ds = try dn.sequence().map { try $0.quantity(.time) }
                guard ds.count == pairs.count else { throw dn.error("\(ds.count) delays for \(pairs.count) pairs") }
                if let bad = ds.first(where: { $0 < dt - 1e-9 }) { throw dn.error("delay \(fmt(bad)) ms is shorter than dt (\(fmt(dt)) ms)") }
                if let bad = ds.first(where: { $0 / dt >= 65535 }) { throw dn.error("delay \(fmt(bad)) ms is longer than 65534 steps (\(fmt(65534 * dt)) ms)") }
                delays = ds
            }
            c = .list(pairs: pairs, weights: weights, delays: delays)
        }
        try m.finish()
        return c
    }
}
