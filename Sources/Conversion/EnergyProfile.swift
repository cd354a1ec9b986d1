import Foundation

/// Energy per operation of one hardware model (all costs in pJ), used to estimate what an ANN and its
/// converted SNN pay per image. Operation counts are exact (the engine counts synaptic events and
/// spikes); the costs are literature figures, cited in `sources`.
///
/// Counting (per image; `EnergyProfile.estimate`):
///
///     ANN  = MACs · (mac + annWeightRead + activationRead) + outputs · activationWrite
///     SNN  = SOPs · (synapticOp + snnWeightRead + potentialRead + potentialWrite)
///          + neurons · T · (neuronUpdate + potentialRead + potentialWrite)
///          + spikes · spike
///          + first layer in ANN form (analog input: its MACs once per image, priced as the ANN)
///
/// MACs and outputs count the conv/dense layers; SOPs are synaptic events (a spike × its fan-out);
/// neurons are all IF neurons of the converted network (pooling populations included), updated every
/// step. Pooling arithmetic of the ANN is not counted (as before).
public struct EnergyProfile: Codable, Equatable, Sendable {
    public var name: String
    /// One line: what hardware this stands for.
    public var summary: String
    /// ANN multiply-accumulate.
    public var mac: Double
    /// SNN synaptic operation (an accumulate; on Loihi the whole synaptic spike operation).
    public var synapticOp: Double
    /// Neuron state update, per neuron per time step (integrate the bias, compare with the threshold).
    public var neuronUpdate: Double
    /// Per emitted spike (writing/sending the event).
    public var spike: Double
    /// Read of one weight: ANN per MAC, SNN per synaptic operation (0 where the synaptic op includes it).
    public var annWeightRead: Double
    public var snnWeightRead: Double
    /// ANN: read of one input activation per MAC; write of one output activation per neuron.
    public var activationRead: Double
    public var activationWrite: Double
    /// SNN: read and write of a membrane potential, per synaptic operation and per neuron per step.
    public var potentialRead: Double
    public var potentialWrite: Double
    /// Where each figure comes from.
    public var sources: [String]

    /// Energy per image (µJ) of the ANN and of the SNN at one T, from the counts of a comparison.
    public struct Counts: Sendable {
        public var macs: Double, annOutputs: Double
        public var sops: Double, spikes: Double, neurons: Double, timesteps: Double
        public var firstLayerMacs: Double, firstLayerOutputs: Double
        public init(macs: Double, annOutputs: Double, sops: Double, spikes: Double, neurons: Double, timesteps: Double,
                    firstLayerMacs: Double, firstLayerOutputs: Double) {
            self.macs = macs; self.annOutputs = annOutputs; self.sops = sops; self.spikes = spikes; self.neurons = neurons
            self.timesteps = timesteps; self.firstLayerMacs = firstLayerMacs; self.firstLayerOutputs = firstLayerOutputs
        }
    }

    /// (ANN, SNN) energy per image in µJ.
    public func estimate(_ c: Counts) -> (ann: Double, snn: Double) {
        let perMAC = mac + annWeightRead + activationRead
        let ann = c.macs * perMAC + c.annOutputs * activationWrite
        let first = c.firstLayerMacs * perMAC + c.firstLayerOutputs * activationWrite
        let snn = c.sops * (synapticOp + snnWeightRead + potentialRead + potentialWrite)
            + c.neurons * c.timesteps * (neuronUpdate + potentialRead + potentialWrite)
            + c.spikes * spike + first
        return (ann * 1e-6, snn * 1e-6)
    }

    /// What is out of range (nil when usable): every cost finite, >= 0 and at most
    /// `EnergyModel.maxPicojoules`, MAC and synaptic op > 0.
    public var problem: String? {
        let all: [(String, Double)] = [("mac", mac), ("synaptic op", synapticOp), ("neuron update", neuronUpdate), ("spike", spike),
                                      ("ANN weight read", annWeightRead), ("SNN weight read", snnWeightRead), ("activation read", activationRead), ("activation write", activationWrite),
                                      ("potential read", potentialRead), ("potential write", potentialWrite)]
        for (n, v) in all where !(v >= 0 && v <= EnergyModel.maxPicojoules) {
            return "profile \(name): the energy per \(n) must be a finite number in [0, \(Int(EnergyModel.maxPicojoules))] pJ, found \(v)"
        }
        if !(mac > 0 && synapticOp > 0) { return "profile \(name): MAC and synaptic-op energies must be > 0" }
        return nil
    }

    // MARK: Named profiles

    /// Horowitz (ISSCC 2014), 45 nm, 0.9 V: fp32 add 0.9 pJ, fp32 multiply 3.7 pJ (MAC 4.6 pJ); an 8 kB
    /// SRAM read of 64 bits 10 pJ, so 5 pJ per 32-bit word.
    static let horowitzArithmetic = "Horowitz, \"Computing's energy problem (and what we can do about it)\", ISSCC 2014, 45 nm: fp32 add 0.9 pJ, fp32 mult 3.7 pJ (MAC = 4.6 pJ)"
    static let horowitzSRAM = "Horowitz ISSCC 2014, 45 nm: 8 kB SRAM, 64-bit read 10 pJ, taken as 5 pJ per 32-bit word"

    /// Today's operation counts (MAC vs accumulate) plus the fetch of every weight used from a small
    /// local SRAM; no neuron state and no activation traffic.
    public static let horowitz45 = EnergyProfile(
        name: "horowitz45", summary: "45 nm digital, operations + weight fetch from an 8 kB SRAM (Horowitz 2014)",
        mac: 4.6, synapticOp: 0.9, neuronUpdate: 0, spike: 0, annWeightRead: 5, snnWeightRead: 5, activationRead: 0, activationWrite: 0,
        potentialRead: 0, potentialWrite: 0, sources: [horowitzArithmetic, horowitzSRAM])

    /// Memory-aware accounting after Lemaire et al. (2022): besides operations and weights, the SNN reads
    /// and writes a membrane potential per synaptic operation and per neuron per step, updates every
    /// neuron every step (bias add + threshold compare: two fp32 adds) and writes its spikes; the ANN
    /// reads an input activation per MAC and writes each output. 45 nm figures of Horowitz 2014.
    public static let lemaire22 = EnergyProfile(
        name: "lemaire22", summary: "memory-aware 45 nm digital after Lemaire et al. 2022 (potentials, activations, spikes in 8 kB SRAMs)",
        mac: 4.6, synapticOp: 0.9, neuronUpdate: 1.8, spike: 5, annWeightRead: 5, snnWeightRead: 5, activationRead: 5, activationWrite: 5,
        potentialRead: 5, potentialWrite: 5,
        sources: ["Lemaire, Cordone, Castagnetti, Novac, Courtois & Miramond, \"An analytical estimation of spiking neural networks energy efficiency\", ICONIP 2022 (arXiv 2210.13107): counting structure (operations, parameters, potentials, spikes)",
                  horowitzArithmetic, horowitzSRAM])

    /// Intel Loihi (14 nm), Davies et al., IEEE Micro 38(1), 2018, Table 2: energy per synaptic spike
    /// operation (min) 23.6 pJ, per neuron update 52 pJ (inactive; 81 pJ active), within-tile spike
    /// energy 1.7 pJ. Synaptic memory reads and potential updates are inside these figures. The ANN
    /// it is compared with runs on the 45 nm digital hardware of `horowitz45` (Loihi runs no ANN), and
    /// the analog first layer is priced the same way.
    public static let loihi = EnergyProfile(
        name: "loihi", summary: "Intel Loihi, 14 nm (Davies et al. 2018); ANN as horowitz45",
        mac: 4.6, synapticOp: 23.6, neuronUpdate: 52, spike: 1.7, annWeightRead: 5, snnWeightRead: 0, activationRead: 0, activationWrite: 0,
        potentialRead: 0, potentialWrite: 0,
        sources: ["Davies et al., \"Loihi: a neuromorphic manycore processor with on-chip learning\", IEEE Micro 38(1), 2018, Table 2: synaptic spike op (min) 23.6 pJ, neuron update 52 pJ inactive / 81 pJ active (52 used), within-tile spike 1.7 pJ",
                  "ANN side: " + horowitzArithmetic + "; " + horowitzSRAM + " (weights only, as horowitz45)"])

    public static let all: [EnergyProfile] = [horowitz45, lemaire22, loihi]
    public static var names: [String] { all.map(\.name) }

    /// The profile called `name`, or nil.
    public static func named(_ name: String) -> EnergyProfile? { all.first { $0.name == name } }
}
