import ArgumentParser
import Conversion
import Datasets
import Foundation

/// Conversion options shared by `convert` and `compare`.
struct ConversionFlags: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Calibration images for data-based normalization (first N of the training set).")
    var calibration: Int = 1000

    @Option(name: .long, parsing: .unconditional, help: "Percentile of the activations used as the scale (100 = max).")
    var percentile: Double = ConversionOptions().percentile

    @Option(name: .long, help: "Activations the percentile ranks: positive (SNN Toolbox) or all, zeros included (SpikingJelly).")
    var percentileOf: String = ConversionOptions().percentileOf.rawValue

    @Option(name: .long, help: "Normalization granularity: layer or channel.")
    var normalization: String = ConversionOptions().normalization.rawValue

    @Option(name: .long, help: "Reset after a spike: subtract (keeps the surplus) or zero.")
    var reset: String = "subtract"

    @Option(name: .long, help: "Input encoding: analog (constant current = the ANN's first layer) or poisson (pixel rates).")
    var encoding: String = ConversionOptions().encoding.rawValue

    @Option(name: .long, help: "Output decoding: membrane (potential of a non-spiking output layer) or spikes (spike count).")
    var decoding: String = ConversionOptions().decoding.rawValue

    @Option(name: .long, help: "Max pooling: gate (spike-count gating) or refuse.")
    var maxpool: String = "gate"

    @Option(name: .long, help: "Average pooling: neurons (a layer of IF neurons) or fold (into the next conv/dense layer: exact mean, ~k² more SOPs).")
    var avgpool: String = ConversionOptions().avgPool.rawValue

    @Option(name: .long, help: "Global average pooling before the dense output layer: fold (into it: the read-out sees the exact mean, a few more SOPs) or neurons (a layer of IF neurons).")
    var globalPool: String = ConversionOptions().globalPool.rawValue

    @Option(name: .long, parsing: .unconditional, help: "Potential correction: steps T_c of the calibration runs that set each hidden channel's initial potential (0 = off).")
    var correctionSteps: Int = ConversionOptions().correctionSteps

    @Option(name: .long, parsing: .unconditional, help: "Calibration images of the potential correction (the first N of the calibration images).")
    var correctionImages: Int = ConversionOptions().correctionImages

    @Option(name: .long, parsing: .unconditional, help: "Initial membrane potential as a fraction of the threshold.")
    var initialPotential: Double = ConversionOptions().initialPotential

    @Option(name: .long, help: "Folder of IDX files (default: Fashion-MNIST).")
    var data: String = IDXDataset.fashionMNISTFolder

    @Option(name: .long, help: "File-name prefix choosing one family in the data folder.")
    var prefix: String = ""

    func options() throws -> ConversionOptions {
        var o = ConversionOptions()
        guard calibration > 0 && calibration <= ConversionOptions.maxCalibrationImages else {
            throw ValidationError("--calibration must be in 1...\(ConversionOptions.maxCalibrationImages), got \(calibration)")
        }
        guard percentile.isFinite && percentile > 0 && percentile <= 100 else { throw ValidationError("--percentile must be in (0, 100], got \(percentile)") }
        guard let po = ConversionOptions.PercentilePopulation(rawValue: percentileOf) else { throw ValidationError("--percentile-of must be positive or all, got '\(percentileOf)'") }
        guard let n = ConversionOptions.NormalizationMode(rawValue: normalization) else { throw ValidationError("--normalization must be layer or channel, got '\(normalization)'") }
        guard reset == "subtract" || reset == "zero" else { throw ValidationError("--reset must be subtract or zero, got '\(reset)'") }
        guard let e = ConversionOptions.InputEncoding(rawValue: encoding) else { throw ValidationError("--encoding must be analog or poisson, got '\(encoding)'") }
        guard let d = ConversionOptions.OutputDecoding(rawValue: decoding) else { throw ValidationError("--decoding must be membrane or spikes, got '\(decoding)'") }
        guard let m = ConversionOptions.MaxPoolStrategy(rawValue: maxpool) else { throw ValidationError("--maxpool must be gate or refuse, got '\(maxpool)'") }
        guard let ap = ConversionOptions.AvgPoolStrategy(rawValue: avgpool) else { throw ValidationError("--avgpool must be neurons or fold, got '\(avgpool)'") }
        guard let gp = ConversionOptions.GlobalPoolStrategy(rawValue: globalPool) else { throw ValidationError("--global-pool must be fold or neurons, got '\(globalPool)'") }
        guard correctionSteps >= 0 && correctionSteps <= ConversionOptions.maxCorrectionSteps else {
            throw ValidationError("--correction-steps must be in 0...\(ConversionOptions.maxCorrectionSteps) (0 = off), got \(correctionSteps)")
        }
        guard correctionImages > 0 && correctionImages <= ConversionOptions.maxCalibrationImages else {
            throw ValidationError("--correction-images must be in 1...\(ConversionOptions.maxCalibrationImages), got \(correctionImages)")
        }
        guard initialPotential.isFinite && initialPotential >= 0 && initialPotential < 1 else { throw ValidationError("--initial-potential must be in [0, 1), got \(initialPotential)") }
        o.calibrationImages = calibration
        o.percentile = percentile
        o.percentileOf = po
        o.normalization = n
        o.resetBySubtraction = reset == "subtract"
        o.encoding = e
        o.decoding = d
        o.maxPool = m
        o.avgPool = ap
        o.globalPool = gp
        o.correctionSteps = correctionSteps
        o.correctionImages = correctionImages
        o.initialPotential = initialPotential
        if let p = o.problem { throw ValidationError("conversion flags: \(p)") }
        return o
    }
}
