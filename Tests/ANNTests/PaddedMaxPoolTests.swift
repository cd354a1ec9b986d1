@testable import ANN
import Foundation
import XCTest

/// Max pooling with padding (PyTorch `nn.MaxPool2d(k, s, padding)`, ONNX `MaxPool` pads: the padding
/// counts as −∞): forward against a direct evaluation of that definition, the gradient against finite
/// differences, model.json round trip and the limits.
final class PaddedMaxPoolTests: XCTestCase {
    /// y[n,c,oy,ox] = max over the window's pixels inside the input, computed here pixel by pixel in
    /// Double from the definition (an out-of-range position is -inf).
    func reference(_ x: Tensor, k: Size2, s: Size2, p: Size2) -> [Double] {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + 2 * p.h - k.h) / s.h + 1, ow = (w + 2 * p.w - k.w) / s.w + 1
        let xs = x.scalars
        var out: [Double] = []
        for b in 0..<n * c {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var m = -Double.infinity
                    for ky in 0..<k.h {
                        for kx in 0..<k.w {
                            let y = oy * s.h + ky - p.h, xx = ox * s.w + kx - p.w
                            let v = y >= 0 && y < h && xx >= 0 && xx < w ? Double(xs[(b * h + y) * w + xx]) : -Double.infinity
                            m = max(m, v)
                        }
                    }
                    out.append(m)
                }
            }
        }
        return out
    }

    func testForwardIsTheMaximumOverPixelsInsideTheInput() {
        var rng = TestRNG(41)
        // all-negative inputs: a zero padding (instead of -inf) would win every border window
        for (shape, k, s, p) in [([2, 3, 7, 6], Size2(3), Size2(2), Size2(1)), ([1, 2, 5, 5], Size2(3), Size2(1), Size2(1)),
                                 ([1, 1, 8, 9], Size2(2, 4), Size2(2, 3), Size2(1, 2)), ([2, 2, 4, 4], Size2(2), Size2(2), Size2(0))] {
            let x = rng.tensor(shape, -3, -0.5)
            for threads in [1, 3] {
                let y = MaxPool2D(kernel: k, stride: s, padding: p).forward(x, ForwardContext(training: true, threads: threads, seed: 1, step: 0, layerIndex: 0))
                XCTAssertEqual(y.shape, [shape[0], shape[1], (shape[2] + 2 * p.h - k.h) / s.h + 1, (shape[3] + 2 * p.w - k.w) / s.w + 1])
                XCTAssertEqual(y.scalars.map(Double.init), reference(x, k: k, s: s, p: p), "\(shape) k \(k) s \(s) p \(p), \(threads) threads")
            }
        }
    }

    func testGradientMatchesFiniteDifferences() {
        // distinct values spaced further apart than 2h (no window's maximum changes), all negative (a zero
        // padding would take the border windows)
        var rng = TestRNG(42)
        func distinct(_ shape: [Int]) -> Tensor {
            var v = (0..<shape.reduce(1, *)).map { -0.1 - Float($0) * 0.05 }
            for i in stride(from: v.count - 1, to: 0, by: -1) { v.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            return Tensor(shape: shape, values: v)
        }
        gradientCheck(MaxPool2D(kernel: Size2(3), stride: Size2(2), padding: Size2(1)), input: distinct([2, 2, 7, 7]))
        gradientCheck(MaxPool2D(kernel: Size2(2, 3), stride: Size2(1, 2), padding: Size2(1, 1)), input: distinct([1, 3, 5, 6]))
    }

    func testModelJSONRoundTripAndLimits() throws {
        let spec = LayerSpec.maxPool2d(kernel: Size2(3), stride: Size2(2), padding: Size2(1))
        let data = try JSONEncoder().encode(spec)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"padding\":[1,1]"))
        XCTAssertEqual(try JSONDecoder().decode(LayerSpec.self, from: data), spec)
        // files without padding (all models before it existed) read as padding 0 and are written unchanged
        let old = Data(#"{"type":"maxpool2d","kernel_size":[2,2],"stride":[2,2]}"#.utf8)
        let plain = try JSONDecoder().decode(LayerSpec.self, from: old)
        XCTAssertEqual(plain, .maxPool2d(kernel: Size2(2), stride: Size2(2)))
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("padding"))
        XCTAssertEqual(try spec.outputShape([4, 28, 28]), [4, 14, 14])   // the ResNet stem's pooling
        XCTAssertThrowsError(try LayerSpec.maxPool2d(kernel: Size2(3), stride: Size2(1), padding: Size2(2)).validate()) {
            XCTAssertTrue("\($0)".contains("half the kernel"), "\($0)")
        }
        XCTAssertThrowsError(try JSONDecoder().decode(LayerSpec.self, from: Data(#"{"type":"avgpool2d","kernel_size":[2,2],"padding":[1,1]}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("padded average pooling"), "\($0)")
        }
    }
}
