import CCore
import Foundation

/// Weight initialisers, drawn from GSL's mt19937 seeded by (seed, stream = layer index) so a seed
/// fixes every weight. fan_in = in·kh·kw, fan_out = out·kh·kw. Biases start at zero.
/// - heNormal: N(0, 2/fan_in) (He et al. 2015, for ReLU nets).
/// - heUniform: U(±√(6/fan_in)).
/// - glorotNormal: N(0, 2/(fan_in+fan_out)); glorotUniform: U(±√(6/(fan_in+fan_out))) (Glorot & Bengio 2010).
/// - pytorch: U(±1/√fan_in), PyTorch's default for Linear/Conv2d (kaiming_uniform with a = √5).
public enum WeightInit: String, CaseIterable, Sendable {
    case heNormal = "he_normal", heUniform = "he_uniform", glorotNormal = "glorot_normal", glorotUniform = "glorot_uniform"
    case pytorch

    /// Fills a weight tensor of shape [out, in, ...].
    public func fill(_ t: inout Tensor, fanIn: Int, fanOut: Int, seed: UInt64, stream: UInt64) {
        guard let rng = nm_rng_new(seed, stream) else { fatalError("WeightInit: cannot create RNG") }
        defer { nm_rng_free(rng) }
        let n = Int64(t.count)
        let p = t.writePointer()
        let fi = Double(fanIn), fo = Double(fanOut)
        switch self {
        case .heNormal: nm_rng_fill_normal(rng, p, n, 0, (2 / fi).squareRoot())
        case .heUniform: let a = (6 / fi).squareRoot(); nm_rng_fill_uniform(rng, p, n, -a, a)
        case .glorotNormal: nm_rng_fill_normal(rng, p, n, 0, (2 / (fi + fo)).squareRoot())
        case .glorotUniform: let a = (6 / (fi + fo)).squareRoot(); nm_rng_fill_uniform(rng, p, n, -a, a)
        case .pytorch: let a = 1 / fi.squareRoot(); nm_rng_fill_uniform(rng, p, n, -a, a)
        }
    }
}
