import Foundation

/// A residual block (He et al. 2016, "Deep residual learning for image recognition"): two branches
/// applied to the same input and summed, y = body(x) + shortcut(x), where `shortcut` is the identity
/// when it has no layers (or e.g. a strided 1×1 convolution and BatchNorm to change the shape). The
/// ReLU that usually follows the sum is the next layer of the enclosing `Sequential`.
///
/// State-dict keys of the branches' tensors: `<index>.body.<j>.<name>` and
/// `<index>.shortcut.<j>.<name>` (j: the layer's position in its branch). Backward: dL/dx is the sum
/// of both branches' input gradients (the identity branch passes dL/dy through).
public final class Residual: Layer {
    public let body: [Layer]
    public let shortcut: [Layer]
    private var trained = false

    /// Branch layers are renamed in place (their parameters get the `body.<j>.` / `shortcut.<j>.` prefix).
    public init(body: [Layer], shortcut: [Layer]) {
        self.body = body
        self.shortcut = shortcut
        for (prefix, branch) in [("body", body), ("shortcut", shortcut)] {
            for (j, l) in branch.enumerated() {
                for p in l.parameters { p.name = "\(prefix).\(j).\(p.name)" }
            }
        }
    }

    public var spec: LayerSpec { .residual(body: body.map(\.spec), shortcut: shortcut.map(\.spec)) }
    public var parameters: [Parameter] { (body + shortcut).flatMap(\.parameters) }

    public var buffers: [(name: String, value: StateValue)] {
        var out: [(name: String, value: StateValue)] = []
        for (prefix, branch) in [("body", body), ("shortcut", shortcut)] {
            for (j, l) in branch.enumerated() { out += l.buffers.map { ("\(prefix).\(j).\($0.name)", $0.value) } }
        }
        return out
    }

    public func setBuffer(_ name: String, _ value: StateValue) throws {
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, let j = Int(parts[1]) else { throw ANNError.invalidModel("residual has no buffer '\(name)'") }
        let branch = parts[0] == "body" ? body : parts[0] == "shortcut" ? shortcut : []
        guard j >= 0 && j < branch.count else { throw ANNError.invalidModel("residual has no buffer '\(name)'") }
        try branch[j].setBuffer(parts[2], value)
    }

    /// Every branch layer's output for `x` (evaluation mode), for calibration: (body outputs, shortcut
    /// outputs, block output).
    public func branchActivations(_ x: Tensor, threads: Int) -> (body: [Tensor], shortcut: [Tensor], output: Tensor) {
        let ctx = ForwardContext.eval(threads: threads)
        var b: [Tensor] = [], s: [Tensor] = []
        var h = x
        for l in body { h = l.forward(h, ctx); b.append(h) }
        var k = x
        for l in shortcut { k = l.forward(k, ctx); s.append(k) }
        return (b, s, Self.sum(h, k))
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        var h = x
        for l in body { h = l.forward(h, ctx) }
        var s = x
        for l in shortcut { s = l.forward(s, ctx) }
        trained = ctx.training
        return Self.sum(h, s)
    }

    public func backward(_ dy: Tensor, needInputGradient: Bool, threads: Int) -> Tensor? {
        precondition(trained, "Residual.backward without a training-mode forward")
        func back(_ branch: [Layer]) -> Tensor? {
            var g: Tensor? = dy
            for (j, l) in branch.enumerated().reversed() {
                g = l.backward(g!, needInputGradient: j > 0 || needInputGradient, threads: threads)
            }
            return g
        }
        let gb = back(body)
        let gs = back(shortcut)
        trained = false
        guard needInputGradient, let gb, let gs else { return nil }
        return Self.sum(gb, gs)
    }

    static func sum(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "Residual: body output \(a.shape) and shortcut output \(b.shape) differ")
        var y = Tensor(uninitialized: a.shape)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in for i in 0..<ap.count { yp[i] = ap[i] + bp[i] } }
            }
        }
        return y
    }
}
