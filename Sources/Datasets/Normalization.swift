import Foundation

/// Pixel preprocessing: `x = (byte * scale - mean) / std`. With the defaults (`scale` = 1/255,
/// mean 0, std 1) pixels land in [0, 1]. Fashion-MNIST's training-set statistics are
/// mean 0.2860, std 0.3530 (of the [0, 1] pixels).
public struct Normalization: Codable, Equatable, Sendable {
    public var scale: Double
    public var mean: Double
    public var std: Double

    public init(scale: Double = 1.0 / 255.0, mean: Double = 0, std: Double = 1) {
        self.scale = scale
        self.mean = mean
        self.std = std
    }

    /// [0, 1] pixels.
    public static let unit = Normalization()
    /// Fashion-MNIST's training-set mean and standard deviation.
    public static let fashionMNIST = Normalization(mean: 0.2860, std: 0.3530)

    /// What is wrong with these values (nil when usable): std and scale must be finite and > 0, mean finite,
    /// and the normalized pixels (bytes 0 and 255) finite in float32 (std = 1e-300 would make them ±inf).
    public var problem: String? {
        if !(std > 0 && std.isFinite) { return "std must be a finite number > 0, found \(std)" }
        if !mean.isFinite { return "mean must be finite, found \(mean)" }
        if !(scale > 0 && scale.isFinite) { return "scale must be a finite number > 0, found \(scale)" }
        let extreme = max(abs((0 - mean) / std), abs((255 * scale - mean) / std))
        if !(extreme <= Double(Float.greatestFiniteMagnitude)) {
            return String(format: "scale %g, mean %g and std %g normalize a pixel to %g, beyond float32", scale, mean, std, extreme)
        }
        return nil
    }
}
