import CEngine
import Foundation
import XCTest
@testable import SNN

/// Statistics shared by the Poisson tests: the exact laws (computed here, independently of the engine's
/// tables), sample moments and Pearson's χ² test.
enum CountLaw {
    /// P(X = k), k = 0 ... kmax, of Poisson(λ) (log-space terms, so large λ are fine).
    static func poisson(_ lambda: Double, upTo kmax: Int) -> [Double] {
        (0...kmax).map { k in exp(Double(k) * log(lambda) - lambda - lgamma(Double(k) + 1)) }
    }
    /// P(X = k), k = 0 ... n, of Binomial(n, p).
    static func binomial(_ n: Int, _ p: Double) -> [Double] {
        let N = Double(n), lp = log(p), lq = log1p(-p)
        return (0...n).map { k -> Double in
            let x = Double(k)
            let logChoose: Double = lgamma(N + 1) - lgamma(x + 1) - lgamma(N - x + 1)
            return exp(logChoose + x * lp + (N - x) * lq)
        }
    }
    /// Mean and unbiased variance.
    static func moments(_ xs: [Int]) -> (mean: Double, variance: Double) {
        let n = Double(xs.count)
        let m = xs.reduce(0.0) { $0 + Double($1) } / n
        let v = xs.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / (n - 1)
        return (m, v)
    }
    /// Pearson's χ² of the counts against `pmf` (bins pooled from the top until each expects >= 5; the
    /// last bin takes the whole upper tail) and the 99.9 % point of χ² with its degrees of freedom
    /// (Wilson–Hilferty).
    static func chiSquare(_ xs: [Int], _ pmf: [Double]) -> (chi2: Double, critical: Double, bins: Int) {
        let n = Double(xs.count)
        var last = pmf.count - 1
        while last > 0 && n * (1 - pmf[0..<last].reduce(0, +)) < 5 { last -= 1 }
        var first = 0
        while first < last && n * pmf[0...first].reduce(0, +) < 5 { first += 1 }
        var observed = [Double](repeating: 0, count: last - first + 1)
        for x in xs { observed[min(max(x, first), last) - first] += 1 }
        var expected = (first...last).map { n * pmf[$0] }
        expected[0] = n * pmf[0...first].reduce(0, +)
        expected[expected.count - 1] = n * max(0, 1 - pmf[0..<last].reduce(0, +))
        let chi2 = zip(observed, expected).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) / $1.1 }
        let df = Double(observed.count - 1), z = 3.0902
        let critical = df * pow(1 - 2 / (9 * df) + z * (2 / (9 * df)).squareRoot(), 3)
        return (chi2, critical, observed.count)
    }
    /// Checks mean and variance (each within 5 standard errors of the law's: SE of the variance from the
    /// fourth central moment) and the χ² test at the 0.1 % level.
    static func check(_ xs: [Int], pmf: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let mean = pmf.enumerated().reduce(0.0) { $0 + Double($1.offset) * $1.element }
        let variance = pmf.enumerated().reduce(0.0) { $0 + (Double($1.offset) - mean) * (Double($1.offset) - mean) * $1.element }
        let mu4 = pmf.enumerated().reduce(0.0) { $0 + pow(Double($1.offset) - mean, 4) * $1.element }
        let n = Double(xs.count)
        let (m, v) = moments(xs)
        XCTAssertEqual(m, mean, accuracy: 5 * (variance / n).squareRoot(), "\(what): mean", file: file, line: line)
        XCTAssertEqual(v, variance, accuracy: 5 * ((mu4 - variance * variance) / n).squareRoot(), "\(what): variance", file: file, line: line)
        let c = chiSquare(xs, pmf)
        XCTAssertLessThan(c.chi2, c.critical, "\(what): chi2 over \(c.bins) bins", file: file, line: line)
        XCTAssertGreaterThanOrEqual(c.bins, 3, "\(what): bins", file: file, line: line)
    }
}

/// Poisson drive as NEST and Brian2 define it (issue 14): the `poisson` source's count per step (any
/// rate, several spikes per step, each delivered and recorded), its Bernoulli option, and the
/// aggregated `PoissonInput` (counts, timing, membrane statistics against explicit sources and closed
/// forms, determinism across threads and vector paths, saved networks).
final class PoissonDriveTests: XCTestCase {
    /// Spike counts per (step, neuron) of a recording of `n` neurons over `steps` steps (zeros included).
    func counts(_ sp: SpikeTrain, n: Int, steps: Int) -> [Int] {
        var c = [Int](repeating: 0, count: n * steps)
        for (s, i) in zip(sp.steps, sp.ids) { c[(Int(s) - 1) * n + Int(i)] += 1 }
        return c
    }

    /// `poisson`: the count of a neuron in a step follows Poisson(rate·dt) — mean, variance, χ² — at a
    /// rate below, near and far above 1/dt, and counts of successive steps are uncorrelated (lag-1
    /// correlation within 5/√N of 0).
    func testPoissonSourceCountsFollowThePoissonLaw() throws {
        for rateHz in [3_000.0, 15_000.0, 80_000.0] {
            let n = 200, steps = 2000
            let sim = try makeSim([Population(name: "p", size: n, model: .poisson(rateHz: rateHz))], seed: 11)
            try sim.recordSpikes("p")
            try sim.run(steps: Int64(steps), threads: 1)
            let c = counts(sim.spikes("p"), n: n, steps: steps)
            let lambda = rateHz * 0.1 / 1000
            CountLaw.check(c, pmf: CountLaw.poisson(lambda, upTo: Int(lambda + 12 * lambda.squareRoot() + 12)), "poisson \(rateHz) Hz")
            XCTAssertEqual(Int64(c.reduce(0, +)), sim.spikeCount("p"))
            let (m, v) = CountLaw.moments(c)
            var lag = 0.0
            for s in 1..<steps { for i in 0..<n { lag += (Double(c[s * n + i]) - m) * (Double(c[(s - 1) * n + i]) - m) } }
            let r = lag / Double(n * (steps - 1)) / v
            XCTAssertEqual(r, 0, accuracy: 5 / Double(n * steps).squareRoot(), "poisson \(rateHz) Hz: lag-1 correlation")
        }
    }

    /// `draw: bernoulli`: at most one spike per step with probability rate·dt (Binomial(1, p) per step);
    /// a rate above 1/dt is refused, any rate is accepted with the Poisson draw.
    func testBernoulliDrawSpikesAtMostOncePerStep() throws {
        let n = 200, steps = 2000
        let sim = try makeSim([Population(name: "p", size: n, model: .poisson(rateHz: 3_000, bernoulli: true))], seed: 5)
        try sim.recordSpikes("p")
        try sim.run(steps: Int64(steps), threads: 1)
        let c = counts(sim.spikes("p"), n: n, steps: steps)
        XCTAssertEqual(c.max(), 1)
        let m = CountLaw.moments(c).mean
        XCTAssertEqual(m, 0.3, accuracy: 5 * (0.21 / Double(n * steps)).squareRoot())
        XCTAssertThrowsError(try makeSim([Population(name: "p", size: 2, model: .poisson(rateHz: 20_000, bernoulli: true))])) { e in
            XCTAssertTrue("\(e)".contains("more than 1/dt"), "\(e)")
        }
        XCTAssertNoThrow(try makeSim([Population(name: "p", size: 2, model: .poisson(rateHz: 20_000))]))
        XCTAssertThrowsError(try makeSim([Population(name: "p", size: 2, model: .poisson(rateHz: 2e10))])) { e in
            XCTAssertTrue("\(e)".contains("must be at most 1e+06 spikes per step"), "\(e)")
        }
    }

    /// A neuron spiking k times in a step is k entries everywhere: spike recordings (as NEST's
    /// spike_recorder: adjacent repeats of the id, with a recording mask too), per-neuron and total counts,
    /// synaptic events (k x fan-out), and delivery: a one-to-one target integrates exactly w x (spikes
    /// arrived), a dense target Σ w_ij x k_i (sparse and dense delivery).
    func testSeveralSpikesPerStepAreDeliveredAndRecordedOncePerSpike() throws {
        var sink = IFParameters(); sink.threshold = .infinity
        let n = 40, steps = 300
        var w: [Float] = []
        for i in 0..<n { for j in 0..<8 { w.append(Float((i * 7 + j * 3) % 11) * 0.125 - 0.5) } }
        let net = Network(dt: 0.1, populations: [
            Population(name: "src", size: n, model: .poisson(rateHz: 20_000)),
            Population(name: "one", size: n, model: .integrateAndFire(sink)),
            Population(name: "dense", size: 8, model: .integrateAndFire(sink)),
        ], projections: [
            Projection(pre: "src", post: "one", kind: .sparse(.oneToOne), weight: .constant(0.5), delay: .constant(0.1)),
            Projection(pre: "src", post: "dense", kind: .dense(weights: w), delay: .constant(0.1)),
        ])
        for threads in [1, 3] {
            let sim = try Simulator(CompiledNetwork(net, seed: 3))
            try sim.recordSpikes("src")
            let masked = try Simulator(CompiledNetwork(net, seed: 3))
            try masked.recordSpikes("src", neurons: [1, 4, 9])
            try sim.run(steps: Int64(steps), threads: threads)
            try masked.run(steps: Int64(steps), threads: threads)
            let sp = sim.spikes("src")
            // repeats are adjacent entries of the same (step, id)
            var maxRun = 1, run = 1
            for k in 1..<sp.count {
                if sp.steps[k] == sp.steps[k - 1] && sp.ids[k] == sp.ids[k - 1] { run += 1; maxRun = max(maxRun, run) } else { run = 1 }
                XCTAssertTrue(sp.steps[k] > sp.steps[k - 1] || (sp.steps[k] == sp.steps[k - 1] && sp.ids[k] >= sp.ids[k - 1]), "order at \(k)")
            }
            XCTAssertGreaterThanOrEqual(maxRun, 5, "a mean of 2 per step gives counts of 5 and more")
            XCTAssertEqual(Int64(sp.count), sim.spikeCount("src"))
            let m = masked.spikes("src")
            let sel = zip(sp.steps, sp.ids).filter { [1, 4, 9].contains($0.1) }
            XCTAssertEqual(m.steps, sel.map(\.0)); XCTAssertEqual(m.ids, sel.map(\.1))
            var perNeuron = [Int32](repeating: 0, count: n)
            for i in sp.ids { perNeuron[Int(i)] += 1 }
            XCTAssertEqual(Array(sim.spikeCounts(population: 0)), perNeuron)
            XCTAssertEqual(sim.synapticEvents(projection: 0), Int64(sp.count))
            XCTAssertEqual(sim.synapticEvents(projection: 1), Int64(sp.count) * 8)
            // a spike of update s (recorded at step s + 1) with a delay of one step acts in update s + 2:
            // spikes recorded at steps <= steps - 2 have arrived
            var arrived = [Int](repeating: 0, count: n)
            for (s, i) in zip(sp.steps, sp.ids) where s <= Int64(steps - 2) { arrived[Int(i)] += 1 }
            let v = sim.state(population: 1, variable: 0)
            for i in 0..<n { XCTAssertEqual(v[i], 0.5 * Float(arrived[i]), "one-to-one target \(i)") }
            let vd = sim.state(population: 2, variable: 0)
            for j in 0..<8 {
                let expected = (0..<n).reduce(0.0) { $0 + Double(w[$1 * 8 + j]) * Double(arrived[$1]) }
                XCTAssertEqual(Double(vd[j]), expected, accuracy: 1e-3 * max(1, abs(expected)), "dense target \(j)")
            }
        }
    }

    /// Convolution and max-pool delivery need one spike per neuron and step: a Poisson-draw source is
    /// refused with the reason, its Bernoulli draw accepted.
    func testStructuredProjectionsNeedTheBernoulliDraw() throws {
        var relay = IFParameters(); relay.threshold = 1
        let g = ConvGeometry(inHeight: 4, inWidth: 4, inChannels: 1, outChannels: 2, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)
        func net(_ bernoulli: Bool) -> Network {
            Network(dt: 1, populations: [Population(name: "in", size: 16, model: .poisson(rateHz: 100, bernoulli: bernoulli)),
                                         Population(name: "c", size: 32, model: .integrateAndFire(relay))],
                    projections: [Projection(pre: "in", post: "c", kind: .conv(g, kernel: [Float](repeating: 0.3, count: 18)), delay: .constant(0))])
        }
        XCTAssertThrowsError(try Simulator(CompiledNetwork(net(false), seed: 1))) { e in
            XCTAssertTrue("\(e)".contains("may spike several times per step") && "\(e)".contains("bernoulli"), "\(e)")
        }
        XCTAssertNoThrow(try Simulator(CompiledNetwork(net(true), seed: 1)).run(steps: 10, threads: 1))
    }

    // MARK: Poisson inputs

    /// A network of non-leaky sinks (`if`, threshold +inf) driven by `input`, with v sampled every step.
    func sinkNetwork(_ n: Int, _ inputs: [PoissonInput], dt: Double = 0.1) -> Network {
        var sink = IFParameters(); sink.threshold = .infinity
        return Network(dt: dt, populations: [Population(name: "t", size: n, model: .integrateAndFire(sink))], poissonInputs: inputs)
    }

    /// The counts a sink population received per step (differences of v sampled every step, weight 1):
    /// update k's sample minus update k-1's is the count drawn in update k - 2 (k >= 2).
    func inputCounts(_ net: Network, steps: Int, seed: UInt64 = 8, threads: Int = 1) throws -> (counts: [Int], sim: Simulator) {
        let sim = try Simulator(CompiledNetwork(net, seed: seed))
        let n = net.populations[0].size
        let mon = try sim.recordState("t", variable: "v", neurons: Array(0..<n), everyMs: net.dt)
        try sim.run(steps: Int64(steps), threads: threads)
        let v = sim.trace(mon).values
        var c: [Int] = []
        c.reserveCapacity(n * (steps - 2))
        for k in 2..<steps { for i in 0..<n { c.append(Int(v[k][i] - v[k - 1][i])) } }
        return (c, sim)
    }

    /// `poisson_input`: the count per neuron and step follows Poisson(sources·rate·dt) — mean, variance,
    /// χ² — for a small mean (table scanned from the start) and a large one (guided table), and
    /// Binomial(sources, rate·dt) with `draw: binomial`; the input's event count is the sum of the counts
    /// delivered.
    func testPoissonInputCountsFollowTheirLaws() throws {
        let cases: [(PoissonInput, [Double], String)] = [
            (PoissonInput(population: "t", sources: 1000, rateHz: 20, weight: 1), CountLaw.poisson(2, upTo: 40), "Poisson(2)"),
            (PoissonInput(population: "t", sources: 1000, rateHz: 500, weight: 1), CountLaw.poisson(50, upTo: 160), "Poisson(50)"),
            (PoissonInput(population: "t", sources: 40, rateHz: 500, weight: 1, draw: .binomial), CountLaw.binomial(40, 0.05), "Binomial(40, 0.05)"),
            (PoissonInput(population: "t", sources: 3, rateHz: 9000, weight: 1, draw: .binomial), CountLaw.binomial(3, 0.9), "Binomial(3, 0.9)"),
        ]
        for (input, pmf, what) in cases {
            let n = 133, steps = 2500
            let (c, sim) = try inputCounts(sinkNetwork(n, [input]), steps: steps)
            CountLaw.check(c, pmf: pmf, what)
            let received = Int64(sim.state(population: 0, variable: 0).reduce(0) { $0 + Double($1) })
            XCTAssertEqual(sim.inputEvents(input: 0), received, what)
        }
        // a very large mean (guided table of ~2000 entries): mean and variance
        let big = PoissonInput(population: "t", sources: 1_000_000, rateHz: 200, weight: 1)   // λ = 20000
        let (c, _) = try inputCounts(sinkNetwork(64, [big]), steps: 120)
        let (m, v) = CountLaw.moments(c)
        let nn = Double(c.count)
        XCTAssertEqual(m, 20000, accuracy: 5 * (20000 / nn).squareRoot())
        XCTAssertEqual(v, 20000, accuracy: 5 * 20000 * (2 / nn).squareRoot())
    }

    /// Timing: a Poisson input acts when an explicit source connected with the minimum delay (dt) would:
    /// its first counts in update 2 (the sample at t = 3 dt) for `if`, in update 1 for `lif_delta`
    /// (inputs act in the step ending at their arrival), the same for both; a mean of 1000 per step leaves
    /// no step without input.
    func testPoissonInputArrivesLikeAnExplicitSourceWithTheMinimumDelay() throws {
        var sink = IFParameters(); sink.threshold = .infinity
        var delta = LIFDeltaParameters(); delta.threshold = .infinity; delta.refractoryPeriod = 0
        for (model, first) in [(NeuronModel.integrateAndFire(sink), 2), (.lifDelta(delta), 1)] {
            let net = Network(dt: 0.1, populations: [
                Population(name: "src", size: 4, model: .poisson(rateHz: 1e7)),
                Population(name: "explicit", size: 4, model: model),
                Population(name: "input", size: 4, model: model),
            ], projections: [Projection(pre: "src", post: "explicit", kind: .sparse(.oneToOne), weight: .constant(0.001), delay: .constant(0.1))],
               poissonInputs: [PoissonInput(population: "input", sources: 1000, rateHz: 10_000, weight: 0.001)])
            let sim = try Simulator(CompiledNetwork(net, seed: 2))
            let a = try sim.recordState("explicit", variable: "v", neurons: [0, 1, 2, 3], everyMs: 0.1)
            let b = try sim.recordState("input", variable: "v", neurons: [0, 1, 2, 3], everyMs: 0.1)
            try sim.run(steps: 6, threads: 1)
            let rest = Float(model.parameters.initialValue(of: 0))
            for (mon, what) in [(a, "explicit source"), (b, "poisson input")] {
                let v = sim.trace(mon).values
                let firstMoved = v.firstIndex { $0.allSatisfy { $0 != rest } }
                XCTAssertEqual(firstMoved, first, "\(model.name), \(what): first update with input")
                XCTAssertTrue(v[..<first].allSatisfy { $0.allSatisfy { $0 == rest } }, "\(model.name), \(what): nothing before")
            }
        }
    }

    /// The same drive built two ways — a Poisson input of 1000 trains at 20 Hz, and 1000 explicit
    /// `poisson` sources at 20 kHz, one per neuron (their sum is a Poisson process of that rate) — gives
    /// the same membrane mean and variance of a leaky neuron (lif_delta, τ = 20 ms, no threshold), and
    /// both equal the closed forms of shot noise, u' = p22 u + w c: mean w λ/(1 − p22), variance
    /// w² λ/(1 − p22²). A binomial input of 40 trains at 500 Hz has the binomial variance
    /// w² N p (1 − p)/(1 − p22²), 5 % below the Poisson one (11 standard errors). Standard errors from
    /// the AR(1) correlation of samples 1 ms apart (ρ = e^{−1/20}): mean σ √((1+ρ)/(1−ρ)/N), variance
    /// σ² √(2(1+ρ²)/(1−ρ²)/N).
    func testPoissonInputEqualsExplicitSourcesInMembraneMeanAndVariance() throws {
        var p = LIFDeltaParameters()
        p.capacitance = 1; p.tauMembrane = 20; p.restingPotential = 0; p.resetPotential = 0
        p.threshold = .infinity; p.refractoryPeriod = 0
        let n = 1500, w = 0.1
        let net = Network(dt: 0.1, populations: [
            Population(name: "src", size: n, model: .poisson(rateHz: 20_000)),
            Population(name: "explicit", size: n, model: .lifDelta(p)),
            Population(name: "input", size: n, model: .lifDelta(p)),
            Population(name: "binomial", size: n, model: .lifDelta(p)),
        ], projections: [Projection(pre: "src", post: "explicit", kind: .sparse(.oneToOne), weight: .constant(w), delay: .constant(0.1))],
           poissonInputs: [PoissonInput(population: "input", sources: 1000, rateHz: 20, weight: w),
                           PoissonInput(population: "binomial", sources: 40, rateHz: 500, weight: w, draw: .binomial)])
        let sim = try Simulator(CompiledNetwork(net, seed: 21))
        try sim.run(milliseconds: 200, threads: 2)   // 10 membrane time constants: stationary
        let mons = try ["explicit", "input", "binomial"].map { try sim.recordState($0, variable: "v", neurons: Array(0..<n), everyMs: 1) }
        try sim.run(milliseconds: 800, threads: 2)
        let p22 = exp(-0.1 / 20), rho = exp(-1.0 / 20)
        var stats: [(mean: Double, variance: Double, samples: Double)] = []
        for mon in mons {
            let v = sim.trace(mon).values.joined().map(Double.init)
            let m = v.reduce(0, +) / Double(v.count)
            stats.append((m, v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1), Double(v.count)))
        }
        for (k, (lambda, varFactor)) in [(2.0, 1.0), (2.0, 1.0), (2.0, 0.95)].enumerated() {
            let mean = w * lambda / (1 - p22), variance = w * w * lambda * varFactor / (1 - p22 * p22)
            let seMean = (variance * (1 + rho) / (1 - rho) / stats[k].samples).squareRoot()
            let seVar = variance * (2 * (1 + rho * rho) / (1 - rho * rho) / stats[k].samples).squareRoot()
            XCTAssertEqual(stats[k].mean, mean, accuracy: 5 * seMean, "population \(k): mean (closed form \(mean) mV)")
            XCTAssertEqual(stats[k].variance, variance, accuracy: 5 * seVar, "population \(k): variance (closed form \(variance) mV^2)")
            if k == 2 { XCTAssertGreaterThan(abs(stats[k].variance - w * w * lambda / (1 - p22 * p22)), 5 * seVar, "binomial below Poisson") }
        }
        XCTAssertEqual(stats[0].mean, stats[1].mean, accuracy: 5 * 2.0.squareRoot() * (stats[0].variance * (1 + rho) / (1 - rho) / stats[0].samples).squareRoot())
        XCTAssertEqual(stats[0].variance, stats[1].variance, accuracy: 5 * 2.0.squareRoot() * stats[0].variance * (2 * (1 + rho * rho) / (1 - rho * rho) / stats[0].samples).squareRoot())
        // the same input spikes on average: explicit synaptic events vs the input's counts
        let ev = Double(sim.synapticEvents(projection: 0)), iv = Double(sim.inputEvents(input: 0))
        XCTAssertEqual(ev, iv, accuracy: 6 * (2 * ev).squareRoot())
    }

    /// A small Brunel network (lif_delta, recurrent fixed in-degrees, Poisson inputs — one over a subset
    /// of neurons given as a list, one binomial onto the inhibitory port's sign — plus a Poisson source
    /// of mean 1.5 per step into it), sizes leaving partial 16-lane blocks: spikes, states, synaptic and
    /// input events are bit-identical on every vector path and on 1, 2 and 3 threads; another seed
    /// changes them.
    func testPoissonDriveIsDeterministicAcrossThreadsAndPaths() throws {
        var p = LIFDeltaParameters()
        p.capacitance = 1; p.tauMembrane = 20; p.restingPotential = 0; p.resetPotential = 10; p.threshold = 20; p.refractoryPeriod = 2
        let net = Network(dt: 0.1, populations: [
            Population(name: "exc", size: 301, model: .lifDelta(p), initial: ["v": .uniform(low: 0, high: 19)]),
            Population(name: "inh", size: 77, model: .lifDelta(p)),
            Population(name: "burst", size: 50, model: .poisson(rateHz: 15_000)),
        ], projections: [
            Projection(pre: "exc", post: "exc", kind: .sparse(.fixedIndegree(40)), weight: .constant(0.2), delay: .constant(1.5)),
            Projection(pre: "exc", post: "inh", kind: .sparse(.fixedIndegree(40)), weight: .constant(0.2), delay: .constant(1.5)),
            Projection(pre: "inh", post: "exc", kind: .sparse(.fixedIndegree(10)), weight: .constant(-1), delay: .constant(1.5)),
            Projection(pre: "burst", post: "exc", kind: .sparse(.fixedIndegree(2)), weight: .constant(0.05), delay: .uniform(low: 0.1, high: 0.6)),
        ], poissonInputs: [
            PoissonInput(name: "drive_e", population: "exc", sources: 1000, rateHz: 20, weight: 0.1),
            PoissonInput(name: "drive_i", population: "inh", sources: 1000, rateHz: 20, weight: 0.1),
            PoissonInput(name: "some", population: "exc", neurons: Array(stride(from: 3, to: 301, by: 7)), sources: 200, rateHz: 100, weight: 0.05),
            PoissonInput(name: "noise", population: "inh", sources: 50, rateHz: 300, weight: -0.1, draw: .binomial),
        ])
        struct Outcome: Equatable { var spikes: [SpikeTrain]; var v: [[UInt32]]; var events: [Int64]; var inputs: [Int64] }
        func run(threads: Int, seed: UInt64 = 17) throws -> Outcome {
            let sim = try Simulator(CompiledNetwork(net, seed: seed))
            for q in net.populations { try sim.recordSpikes(q.name) }
            try sim.run(milliseconds: 60, threads: threads)
            return Outcome(spikes: net.populations.map { sim.spikes($0.name) },
                           v: (0..<2).map { i in sim.state(population: i, variable: 0).map(\.bitPattern) },
                           events: (0..<net.projections.count).map { sim.synapticEvents(projection: $0) },
                           inputs: (0..<net.poissonInputs.count).map { sim.inputEvents(input: $0) })
        }
        var reference: Outcome?
        try onEveryPath("poisson drive") { path in
            for threads in [1, 2, 3] {
                let o = try run(threads: threads)
                if let r = reference {
                    XCTAssertEqual(o.spikes, r.spikes, "\(path), \(threads) threads: spikes")
                    XCTAssertEqual(o.v, r.v, "\(path), \(threads) threads: v")
                    XCTAssertEqual(o.events, r.events, "\(path), \(threads) threads: synaptic events")
                    XCTAssertEqual(o.inputs, r.inputs, "\(path), \(threads) threads: input events")
                } else {
                    reference = o
                    XCTAssertGreaterThan(o.spikes[0].count, 300, "exc should fire")
                    XCTAssertGreaterThan(o.spikes[1].count, 50, "inh should fire")
                    XCTAssertTrue(o.inputs.allSatisfy { $0 > 0 })
                }
            }
        }
        let other = try run(threads: 1, seed: 18)
        XCTAssertNotEqual(other.spikes[0], reference!.spikes[0])
        XCTAssertNotEqual(other.inputs, reference!.inputs)
    }

    /// A masked input with large counts (Binomial(200, 0.99), about 198 per step: the SSE2 form's offset of a
    /// masked lane, -(kmin + Kp), is large) over 3000 neurons (many blocks per sum of events): its events
    /// are the counts the neurons received (an IF sink's v, weight 1), masked neurons receive none, and
    /// v and the events are identical on every vector path.
    func testMaskedLargeCountInputEventsAreTheCountsOnEveryPath() throws {
        let n = 3000, neurons = Array(stride(from: 1, to: n, by: 3))
        let net = sinkNetwork(n, [PoissonInput(name: "dense", population: "t", neurons: neurons, sources: 200, rateHz: 9_900, weight: 1,
                                               draw: .binomial)])
        var reference: (v: [UInt32], events: Int64)?
        try onEveryPath("masked large counts") { path in
            let sim = try Simulator(CompiledNetwork(net, seed: 3))
            try sim.run(steps: 20, threads: 1)
            let v = Array(sim.state(population: 0, variable: 0)), events = sim.inputEvents(input: 0)
            XCTAssertEqual(events, Int64(v.reduce(0.0) { $0 + Double($1) }), "\(path): events = the counts received")
            XCTAssertGreaterThan(events, Int64(15 * neurons.count * 190), "\(path): ~198 per neuron and step")
            let masked = Set(neurons)
            XCTAssertTrue((0..<n).allSatisfy { masked.contains($0) || v[$0] == 0 }, "\(path): masked neurons receive nothing")
            if let r = reference {
                XCTAssertEqual(v.map(\.bitPattern), r.v, "\(path): v")
                XCTAssertEqual(events, r.events, "\(path): events")
            } else { reference = (v.map(\.bitPattern), events) }
        }
    }

    /// Resetting continues the input's streams (as Poisson sources do); reseeding restarts them: the same
    /// seed gives the same counts again, another seed other counts.
    func testPoissonInputReseedAndReset() throws {
        let net = sinkNetwork(50, [PoissonInput(population: "t", sources: 100, rateHz: 100, weight: 1)])
        let sim = try Simulator(CompiledNetwork(net, seed: 4))
        func drive() throws -> [Float] {
            sim.initializeState()
            try sim.run(steps: 50, threads: 1)
            return Array(sim.state(population: 0, variable: 0))
        }
        let first = try drive()
        let second = try drive()
        XCTAssertNotEqual(first, second, "reset continues the streams")
        sim.reseed(4)
        XCTAssertEqual(try drive(), first, "reseeding with the run seed restarts them")
        sim.reseed(5)
        XCTAssertNotEqual(try drive(), first)
    }

    /// Networks built in code are checked like configs: target and receptor, sources, rate, draw,
    /// mean per step, weight and neuron list.
    func testPoissonInputsAreValidated() throws {
        let base = PoissonInput(population: "t", sources: 10, rateHz: 20, weight: 1)
        func refuse(_ change: (inout PoissonInput) -> Void, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            var p = base
            change(&p)
            XCTAssertThrowsError(try sinkNetwork(20, [p]).validate(), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains("poisson input") && "\(e)".contains(needle), "\(e)", file: file, line: line)
            }
        }
        XCTAssertNoThrow(try sinkNetwork(20, [base]).validate())
        refuse({ $0.population = "nope" }, "unknown population 'nope'")
        refuse({ $0.receptor = .inhibitory }, "has no inh receptor")
        refuse({ $0.sources = 0 }, "sources must be")
        refuse({ $0.sources = Int(Int32.max) + 1 }, "sources must be")
        refuse({ $0.rateHz = -1 }, "rate must be finite and >= 0")
        refuse({ $0.rateHz = .nan }, "rate must be finite")
        refuse({ $0.rateHz = 20_000; $0.draw = .binomial }, "more than 1/dt")
        refuse({ $0.sources = 2_000_000_000; $0.rateHz = 1e6 }, "spikes per neuron and step is more than 1e+07")
        refuse({ $0.weight = .infinity }, "weight")
        refuse({ $0.neurons = [] }, "the neuron list is empty")
        refuse({ $0.neurons = [3, 20] }, "neuron 20 out of range")
        let src = Network(populations: [Population(name: "s", size: 3, model: .poisson(rateHz: 1))],
                          poissonInputs: [PoissonInput(population: "s", sources: 1, rateHz: 1, weight: 1)])
        XCTAssertThrowsError(try src.validate()) { e in XCTAssertTrue("\(e)".contains("spike source"), "\(e)") }
        var cond = LIFCondExpParameters(); cond.threshold = -50
        let neg = Network(populations: [Population(name: "c", size: 3, model: .lifCondExp(cond))],
                          poissonInputs: [PoissonInput(population: "c", sources: 1, rateHz: 1, weight: -1)])
        XCTAssertThrowsError(try neg.validate()) { e in XCTAssertTrue("\(e)".contains("conductance weights must be >= 0"), "\(e)") }
    }

    /// The memory estimate counts the inputs (16 B streams per pair of target neurons, the tables) and
    /// the lists of a Poisson source with several spikes per step; a Poisson input stores no synapses.
    /// The estimate covers what the engine allocates for the input (the engine's count with and without
    /// it) and exceeds it by less than 5 KB (its tables are bounded, not counted).
    func testEstimateCoversPoissonDrive() throws {
        let net = sinkNetwork(10_000, [PoissonInput(population: "t", sources: 1000, rateHz: 20, weight: 1)])
        let e = MemoryEstimate.network(net, threads: 1)
        let part = try XCTUnwrap(e.parts.first { $0.name == "poisson inputs" })
        XCTAssertGreaterThanOrEqual(part.bytes, 8 * 10_000)
        XCTAssertLessThan(part.bytes, 8 * 10_100 + 5000)
        let sim = try Simulator(CompiledNetwork(net, seed: 1))
        let bare = try Simulator(CompiledNetwork(sinkNetwork(10_000, []), seed: 1))
        XCTAssertEqual(sim.totalSynapses, 0)
        let engine = Double(sim.engineBytes - bare.engineBytes)
        XCTAssertGreaterThanOrEqual(engine, 8 * 10_000)
        XCTAssertGreaterThanOrEqual(part.bytes, engine)
        XCTAssertLessThan(part.bytes - engine, 5000)
        // a source with a mean of 20 per step needs ~20 entries per neuron and step, not 1
        let loud = Network(populations: [Population(name: "s", size: 1000, model: .poisson(rateHz: 200_000))])
        let quiet = Network(populations: [Population(name: "s", size: 1000, model: .poisson(rateHz: 200_000 / 1000))])
        func lists(_ n: Network) -> Double { MemoryEstimate.network(n, threads: 1).parts.first { $0.name == "spike lists" }!.bytes }
        XCTAssertGreaterThan(lists(loud), 20 * lists(quiet))
    }

    /// Saved networks keep Poisson inputs (with their names and neuron masks) and Poisson sources: the
    /// loaded engine gives the same spikes and input events; every input field changed in the file (the
    /// checksum re-sealed) is refused naming the input and what is wrong.
    func testSavedPoissonInputsRoundTripAndAreValidated() throws {
        var sink = IFParameters(); sink.threshold = 3
        let net = Network(dt: 0.1, populations: [
            Population(name: "src", size: 20, model: .poisson(rateHz: 25_000)),
            Population(name: "t", size: 37, model: .integrateAndFire(sink)),
        ], projections: [Projection(pre: "src", post: "t", kind: .sparse(.fixedIndegree(3)), weight: .constant(0.1), delay: .constant(0.2))],
           poissonInputs: [PoissonInput(name: "drive", population: "t", neurons: Array(0..<30), sources: 100, rateHz: 200, weight: 0.2),
                           PoissonInput(name: "bin", population: "t", sources: 10, rateHz: 1000, weight: -0.1, draw: .binomial)])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nm-pin-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pin.nmnet").path
        let sim = try Simulator(CompiledNetwork(net, seed: 6))
        for p in ["src", "t"] { try sim.recordSpikes(p) }
        try sim.saveNetwork(to: path)
        try sim.run(steps: 400, threads: 2)
        var err = [CChar](repeating: 0, count: 512)
        var meta = nm_net_meta()
        let e = try XCTUnwrap(nm_engine_load(path, &meta, &err, err.count), cMessage(err))
        defer { nm_engine_free(e) }
        XCTAssertEqual(nm_engine_ninputs(e), 2)
        XCTAssertEqual(String(cString: meta.input_names[0]!), "drive")
        XCTAssertEqual(nm_engine_run(e, 400, 1), 0)
        for (i, p) in ["src", "t"].enumerated() {
            let n = Int(nm_rec_count(e, Int32(i)))
            XCTAssertEqual(Array(UnsafeBufferPointer(start: nm_rec_ids(e, Int32(i)), count: n)), sim.spikes(p).ids, p)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: nm_rec_steps(e, Int32(i)), count: n)), sim.spikes(p).steps, p)
        }
        XCTAssertGreaterThan(sim.spikes("t").count, 50)
        XCTAssertEqual(nm_input_events(e, 0), sim.inputEvents(input: 0))
        XCTAssertEqual(nm_input_events(e, 1), sim.inputEvents(input: 1))

        let f = NetFile(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(f.inputs.count, 2)
        XCTAssertEqual(f.end + 8, f.bytes.count, "layout: the end marker follows the monitors")
        let q = f.inputs[0]
        func refused(_ needle: String, line: UInt = #line, _ change: (inout NetFile) -> Void) {
            var g = f
            change(&g)
            g.reseal()
            var err = [CChar](repeating: 0, count: 512)
            if let x = nm_engine_load_buffer(g.bytes, g.bytes.count, "case.nmnet", nil, &err, err.count) {
                nm_engine_free(x)
                return XCTFail("loaded, expected \(needle)", line: line)
            }
            let msg = cMessage(err)
            XCTAssertTrue(msg.hasPrefix("case.nmnet: poisson input 0") && msg.contains(needle), msg, line: line)
        }
        refused("population 5 does not exist") { $0.set32(q.header, 5) }
        refused("population 0 is a spike source") { $0.set32(q.header, 0) }
        refused("no receptor port 1") { $0.set32(q.header + 4, 1) }
        refused("0 sources") { $0.set32(q.header + 8, 0) }
        refused("binomial must be 0 or 1") { $0.set32(q.header + 12, 2) }
        refused("unknown flags") { $0.set32(q.header + 16, 3) }
        refused("must be finite and >= 0") { $0.setF64(q.p, .nan) }
        refused("must be finite and >= 0") { $0.setF64(q.p, -0.5) }
        refused("must be finite and >= 0") { $0.setF64(q.p, .infinity) }
        refused("a binomial draw needs p = 1.5 <= 1") { $0.set32(q.header + 12, 1); $0.setF64(q.p, 1.5) }
        refused("more than 1e+07") { $0.setF64(q.p, 2e5) }
        refused("the weight is not finite") { $0.setF32(q.weight, .infinity) }
        refused("mask entry 3 is 2") { $0.bytes[q.mask! + 3] = 2 }
        refused("contains '/'") { $0.bytes[q.start + 4] = UInt8(ascii: "/") }
    }
}
