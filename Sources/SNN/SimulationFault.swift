import CEngine

/// Why the engine stopped a run: the network itself cannot be simulated meaningfully any more.
///
/// - `nonFinite`: a state variable became NaN or infinite. The engine checks the state of every neuron
///   each `NM_CHECK_STEPS` (16) steps and at the end of every run, so the fault gives a window
///   (`fromMs`, `toMs`]: the state was finite at `fromMs` and `neuron` was the first non-finite one
///   (population, then variable, then neuron order) at `toMs`. The AdEx solver reports the exact step.
/// - `solverSteps`: the AdEx solver (RKF45) needed more than `NM_ADEX_MAX_STEPS` (1,000) internal steps
///   for one neuron within one time step (its step size collapsed: a neuron driven to fire thousands
///   of times per step).
/// - `solverFailed`: the AdEx solver returned an error.
/// - `spikesPerStep`: an AdEx neuron reached V_peak a second time within one time step (t_ref < dt and an
///   enormous drive); the engine records one spike per neuron and step and would lose spikes.
///
/// The description is one sentence naming population, variable, neuron and time, e.g.
/// `exc.v became NaN between t = 3.2 ms and t = 6.4 ms, neuron 17 (...)`; `input` (the config or file
/// being simulated) is put in front when set.
public struct SimulationFault: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable { case nonFinite, solverSteps, solverFailed, spikesPerStep }
    public let kind: Kind
    public let population: String
    /// The state variable that became non-finite (nil for solver faults).
    public let variable: String?
    public let neuron: Int
    /// The fault arose after `fromMs` and by `toMs` (ms).
    public let fromMs: Double
    public let toMs: Double
    /// The engine's sentence (names filled in).
    public let message: String
    /// The config or file being simulated, put in front of the message when set.
    public var input: String?

    public var description: String { (input.map { "\($0): " } ?? "") + "simulation stopped: " + message }

    /// The fault that stopped the last run of `engine`, named after `network`, or nil if there was none.
    init?(engine: OpaquePointer, network: Network) {
        var f = nm_fault()
        guard nm_engine_fault(engine, &f) != 0, f.pop >= 0, Int(f.pop) < network.populations.count else { return nil }
        let pop = network.populations[Int(f.pop)]
        let vars = pop.model.variables
        let variable = f.var >= 0 && Int(f.var) < vars.count ? vars[Int(f.var)].name : nil
        switch Int(f.kind) {
        case Int(NM_FAULT_NONFINITE.rawValue): kind = .nonFinite
        case Int(NM_FAULT_SOLVER_STEPS.rawValue): kind = .solverSteps
        case Int(NM_FAULT_SPIKES_PER_STEP.rawValue): kind = .spikesPerStep
        default: kind = .solverFailed
        }
        population = pop.name
        self.variable = variable
        neuron = Int(f.neuron)
        fromMs = Double(f.step_lo) * network.dt
        toMs = Double(f.step_hi) * network.dt
        var buf = [CChar](repeating: 0, count: 1024)
        _ = pop.name.withCString { pn in
            if let variable {
                return variable.withCString { vn in nm_fault_describe(engine, &f, pn, vn, &buf, buf.count) }
            }
            return nm_fault_describe(engine, &f, pn, nil, &buf, buf.count)
        }
        message = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
