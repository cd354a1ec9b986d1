import Foundation

/// How an ANN is turned into a spiking network and how that network is read out.
public struct ConversionOptions: Codable, Equatable, Sendable {
    /// How activations are scaled to firing rates (data-based normalization, Diehl et al. 2015;
    /// Rueckauer et al. 2017): the scale of a layer is a percentile of its positive activations over
    /// calibration images, per layer or per channel.
    public enum NormalizationMode: String, Codable, Sendable, CaseIterable {
        case layer, channel
    }

    /// Input encoding: the first layer receives its exact pre-activation as a constant current
    /// (analog, default), or the pixels in [0, 1] become Poisson spike trains with that probability per
    /// step (a Bernoulli draw per step: the `poisson` model with `draw: bernoulli`).
    public enum InputEncoding: String, Codable, Sendable, CaseIterable {
        case analog, poisson
    }

    /// Output decoding: the class with the most output spikes, or the highest membrane potential of a
    /// non-spiking output layer that integrates its input (ties broken by lowest index).
    public enum OutputDecoding: String, Codable, Sendable, CaseIterable {
        case spikes, membrane
    }

    /// Max pooling: gate spikes by accumulated spike count (the window's most active neuron passes,
    /// Rueckauer et al. 2017), or refuse (`refuse`). Average pooling is always exact.
    public enum MaxPoolStrategy: String, Codable, Sendable, CaseIterable {
        case gate, refuse
    }

    /// Average pooling: a layer of IF neurons fed by a fixed depthwise projection (1/k², default; a
    /// pooled spike is an event), or folded into the next conv/dense layer (`fold`: its kernel becomes
    /// k·p wide with stride s·p and weights W/p², so it sees the exact mean of the spikes; no second
    /// rounding at small T, but every spike of the pooled layer reaches the next layer: ~p² × the SOPs).
    public enum AvgPoolStrategy: String, Codable, Sendable, CaseIterable {
        case neurons, fold
    }

    /// Global average pooling followed by a dense layer that is the network's output layer: folded
    /// into that layer (`fold`, default: its weights are replicated over the H·W positions of the map
    /// and divided by H·W, so the read-out integrates the exact mean of the spikes instead of the
    /// re-rounded rates of a layer of pooling neurons; every spike of the pooled map then reaches the
    /// `classes` outputs, a few SOPs), or kept as a layer of IF neurons (`neurons`). A global pooling
    /// before a hidden dense layer stays neurons unless `--avgpool fold` folds every average pooling.
    public enum GlobalPoolStrategy: String, Codable, Sendable, CaseIterable {
        case fold, neurons
    }

    /// Which activations the percentile ranks: the positive ones (SNN Toolbox, Rueckauer et al. 2017;
    /// default) or all of them, zeros of the ReLU included (SpikingJelly's `"99.9%"` mode). Counting
    /// the zeros lowers the scale of sparse channels: more spikes, less rounding error at small T.
    public enum PercentilePopulation: String, Codable, Sendable, CaseIterable {
        case positive, all
    }

    public var normalization: NormalizationMode = .channel
    /// Percentile of the activations (see `percentileOf`) used as the layer/channel scale (100 = max).
    public var percentile: Double = 99.9
    public var percentileOf: PercentilePopulation = .positive
    /// Calibration images (first N of the training set).
    public var calibrationImages: Int = 1000
    /// Reset by subtraction (default; keeps the surplus above threshold) or to zero.
    public var resetBySubtraction: Bool = true
    public var encoding: InputEncoding = .analog
    public var decoding: OutputDecoding = .membrane
    public var maxPool: MaxPoolStrategy = .gate
    public var avgPool: AvgPoolStrategy = .neurons
    public var globalPool: GlobalPoolStrategy = .fold
    /// Potential correction (layer-wise calibration in the manner of Li et al. 2021, "A free lunch from
    /// ANN: towards efficient, accurate spiking neural networks calibration", ICML): after the scales
    /// are chosen, the converted network runs `correctionSteps` steps on `correctionImages` calibration
    /// images, and layer by layer (first to last hidden conv/dense layer, each with the corrections of
    /// the layers before it) every channel's initial potential becomes
    /// `v0 + correctionSteps × (mean ANN rate − mean SNN rate)` (ANN rate = activation/λ clipped to
    /// [0, 1]; the mean over images and positions), clamped to [0, 1). The deficit it removes is
    /// mostly the charge a layer misses while its inputs start up, so one charge at t = 0 helps every T
    /// (its rate effect shrinks as 1/T). 0 steps = off (uniform `initialPotential`). Percentile recipe
    /// only (a QCFS net keeps its θ/2).
    public var correctionSteps: Int = 32
    public var correctionImages: Int = 500
    /// Initial membrane potential as a fraction of the threshold (0.5 halves the rounding error of
    /// rate coding; Bu et al. 2022).
    public var initialPotential: Double = 0.5

    public init() {}

    enum CodingKeys: String, CodingKey {
        case normalization, percentile, percentileOf, calibrationImages, resetBySubtraction, encoding, decoding,
             maxPool, initialPotential, avgPool, globalPool, correctionSteps, correctionImages
    }

    /// Largest number of steps of the potential-correction runs.
    public static let maxCorrectionSteps = 100_000

    /// Largest calibration image count (far beyond any data set in IDX form).
    public static let maxCalibrationImages = 100_000_000

    /// What is out of range (nil when the options are usable): the percentile in (0, 100], at least one
    /// calibration image, the initial potential a finite fraction in [0, 1).
    public var problem: String? {
        if !(percentile > 0 && percentile <= 100) { return "percentile must be in (0, 100], found \(percentile)" }
        if !(calibrationImages > 0 && calibrationImages <= Self.maxCalibrationImages) {
            return "calibrationImages must be in 1...\(Self.maxCalibrationImages), found \(calibrationImages)"
        }
        if !(correctionSteps >= 0 && correctionSteps <= Self.maxCorrectionSteps) {
            return "correctionSteps must be in 0...\(Self.maxCorrectionSteps) (0 = no potential correction), found \(correctionSteps)"
        }
        if !(correctionImages > 0 && correctionImages <= Self.maxCalibrationImages) {
            return "correctionImages must be in 1...\(Self.maxCalibrationImages), found \(correctionImages)"
        }
        if !(initialPotential >= 0 && initialPotential < 1) { return "initialPotential must be a fraction of the threshold in [0, 1), found \(initialPotential)" }
        return nil
    }

    /// Keys missing from a file written by an older version take their defaults (except `globalPool`
    /// and `correctionSteps`: such a file kept its global pooling as neurons and had no correction).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ConversionOptions()
        normalization = try c.decodeIfPresent(NormalizationMode.self, forKey: .normalization) ?? d.normalization
        percentile = try c.decodeIfPresent(Double.self, forKey: .percentile) ?? d.percentile
        percentileOf = try c.decodeIfPresent(PercentilePopulation.self, forKey: .percentileOf) ?? d.percentileOf
        calibrationImages = try c.decodeIfPresent(Int.self, forKey: .calibrationImages) ?? d.calibrationImages
        resetBySubtraction = try c.decodeIfPresent(Bool.self, forKey: .resetBySubtraction) ?? d.resetBySubtraction
        encoding = try c.decodeIfPresent(InputEncoding.self, forKey: .encoding) ?? d.encoding
        decoding = try c.decodeIfPresent(OutputDecoding.self, forKey: .decoding) ?? d.decoding
        maxPool = try c.decodeIfPresent(MaxPoolStrategy.self, forKey: .maxPool) ?? d.maxPool
        initialPotential = try c.decodeIfPresent(Double.self, forKey: .initialPotential) ?? d.initialPotential
        avgPool = try c.decodeIfPresent(AvgPoolStrategy.self, forKey: .avgPool) ?? d.avgPool
        // a file written before the key existed kept its global pooling as neurons
        globalPool = try c.decodeIfPresent(GlobalPoolStrategy.self, forKey: .globalPool) ?? .neurons
        // ... and had no potential correction
        correctionSteps = try c.decodeIfPresent(Int.self, forKey: .correctionSteps) ?? 0
        correctionImages = try c.decodeIfPresent(Int.self, forKey: .correctionImages) ?? d.correctionImages
    }
}

/// Energy per operation (pJ), default Horowitz (2014), 45 nm: fp32 multiply-accumulate 4.6 pJ
/// (3.7 multiply + 0.9 add), fp32 add 0.9 pJ. An ANN pays one MAC per weight use; an SNN pays one add
/// per synaptic event.
public struct EnergyModel: Codable, Equatable, Sendable {
    public var macPicojoules: Double = 4.6
    public var addPicojoules: Double = 0.9
    public init(macPicojoules: Double = 4.6, addPicojoules: Double = 0.9) {
        self.macPicojoules = macPicojoules
        self.addPicojoules = addPicojoules
    }

    /// Largest energy per operation accepted (1 µJ: six orders of magnitude above any real chip).
    public static let maxPicojoules = 1e6

    /// What is out of range (nil when usable): both energies finite, > 0 and at most `maxPicojoules`.
    public var problem: String? {
        for (name, v) in [("MAC", macPicojoules), ("add", addPicojoules)] where !(v > 0 && v <= Self.maxPicojoules) {
            return "the energy per \(name) must be a finite number in (0, \(Int(Self.maxPicojoules))] pJ, found \(v)"
        }
        return nil
    }
}

/// Conversion problems: an unsupported layer or arrangement, named with its index and the reason.
public struct ConversionError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
