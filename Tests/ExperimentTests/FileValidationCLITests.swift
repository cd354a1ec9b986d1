import ANN
import Datasets
import Foundation
import XCTest

/// What a user sees from the built `neuromorph` for bad model folders, bad flags and data that does
/// not fit: one `Error:` line naming the input and exit status 1 (2 for a usage error), never a trap,
/// an `EncodingError` dump or an output folder.
final class FileValidationCLITests: XCTestCase {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("neuromorph")
    }

    var tmp: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.binary.path), "neuromorph binary not built (run swift build --build-tests)")
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("nm-fvcli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let tmp { try? FileManager.default.removeItem(at: tmp) } }

    func run(_ args: [String]) throws -> (status: Int32, err: String) {
        let r = try runProcess(Self.binary, args, cwd: tmp)
        return (r.status, r.err)
    }

    func expectRefusal(_ args: [String], _ parts: [String], status: Int32 = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        XCTAssertEqual(r.status, status, "\(args): \(r.err)", file: file, line: line)
        for p in parts { XCTAssertTrue(r.err.contains(p), "\(args): '\(r.err)' lacks '\(p)'", file: file, line: line) }
        for bad in ["Fatal error", "EncodingError", "Stack dump"] { XCTAssertFalse(r.err.contains(bad), "\(args): \(r.err)", file: file, line: line) }
    }

    /// A tiny IDX folder: `n` 8x8 training and test images with the given labels.
    func idxFolder(_ name: String, labels: [UInt8], side: Int = 8) throws -> String {
        let d = tmp.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        let n = labels.count
        let px = Data((0..<(n * side * side)).map { UInt8(($0 * 37) % 256) })
        for split in ["train", "t10k"] {
            try IDXFile.encode(type: .uint8, shape: [n, side, side], payload: px).write(to: d.appendingPathComponent("\(split)-images-idx3-ubyte"))
            try IDXFile.encode(type: .uint8, shape: [n], payload: Data(labels)).write(to: d.appendingPathComponent("\(split)-labels-idx1-ubyte"))
        }
        return d.path
    }

    func config(data: String, classes: Int = 3, lr: String = "0.01", optimizer: String = "sgd") -> String {
        """
        data: {folder: \(data)}
        model:
          input: [1, 8, 8]
          classes: \(classes)
          layers:
            - flatten
            - dense: {out: 6}
            - relu
            - dense: {out: \(classes)}
        training:
          epochs: 1
          batch_size: 4
          optimizer: {type: \(optimizer), lr: \(lr)}

        """
    }

    func write(_ name: String, _ text: String) throws -> String {
        let u = tmp.appendingPathComponent(name)
        try text.write(to: u, atomically: true, encoding: .utf8)
        return u.path
    }

    /// eval, convert and compare on a model folder with a NaN weight: refused naming the tensor.
    func testNonFiniteWeightsAreRefusedByEvalConvertCompare() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [1, 8, 8], layers: [.flatten, .dense(inFeatures: 64, outFeatures: 3, bias: true)], classes: 3), seed: 1)
        model.layers[1].parameters[0].value[flat: 10] = .nan
        let dir = tmp.appendingPathComponent("nanmodel").path
        try ModelDirectory.save(model, to: dir)
        let data = try idxFolder("data", labels: [0, 1, 2, 1])
        let needle = "model.safetensors: tensor '1.weight' (layer 1, dense) holds NaN at index 10"
        try expectRefusal(["eval", dir, "--data", data], ["Error:", needle])
        try expectRefusal(["convert", dir, "--data", data, "--out", tmp.appendingPathComponent("snn").path], ["Error:", needle])
        try expectRefusal(["compare", dir, "--data", data, "--out", tmp.appendingPathComponent("cmp").path, "--timesteps", "4"], ["Error:", needle])
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("snn").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("cmp").path))
        for (flag, value) in [("--mac-pj", "inf"), ("--add-pj", "nan"), ("--mac-pj", "0"), ("--add-pj", "1e300")] {
            try expectRefusal(["compare", dir, "--out", tmp.appendingPathComponent("cmp").path, flag, value], [flag, "finite energy"], status: 2)
        }
        try expectRefusal(["convert", dir, "--out", tmp.appendingPathComponent("snn").path, "--initial-potential", "nan"], ["--initial-potential"], status: 2)
    }

    /// Finite but enormous weights (3e38: every output overflows float) pass the load-time check; eval
    /// refuses the non-finite outputs naming the model folder as well as the image (fuzz model-0314: bit
    /// flips in the weights gave an error naming only the data file).
    func testEvalNamesTheModelWhoseOutputsOverflow() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [1, 8, 8], layers: [.flatten, .dense(inFeatures: 64, outFeatures: 3, bias: true)], classes: 3), seed: 1)
        model.layers[1].parameters[0].value = Tensor(shape: [3, 64], repeating: 3e38)
        let dir = tmp.appendingPathComponent("huge").path
        try ModelDirectory.save(model, to: dir)
        let data = try idxFolder("data", labels: [0, 1, 2, 1])
        try expectRefusal(["eval", dir, "--data", data], ["Error: \(dir): image 0 of \(data)/t10k-images-idx3-ubyte: the output of layer 1 (dense) overflows to",
                                                        "are its weights far too large?"])
    }

    /// `classes: 2` with labels up to 2, and 10x10 images into an 8x8 model: refused at the config key,
    /// naming the data file; nothing is written.
    func testTrainRefusesDataThatDoesNotFit() throws {
        let data = try idxFolder("data", labels: [0, 1, 2, 1])
        let out = tmp.appendingPathComponent("run").path
        try expectRefusal(["train", try write("c2.yaml", config(data: data, classes: 2)), "--out", out],
                          ["c2.yaml:4:12: model.classes: the model has 2 classes", "train-labels-idx1-ubyte has label 2 at index 2"])
        let big = try idxFolder("big", labels: [0, 1, 2, 1], side: 10)
        try expectRefusal(["train", try write("c3.yaml", config(data: big)), "--out", out],
                          ["c3.yaml:3:10: model.input: the model input is [1, 8, 8]", "holds images of shape [1, 10, 10]"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// Data that does not fit a model or converted network is refused naming the data file, not only the
    /// shapes (fuzz idx-0003, idx-0045): 10x10 calibration images into `convert` and `compare`, 10x10
    /// test images into `compare`; and `simulate SNN_DIR` refuses a test label that is not one of the
    /// network's classes (fuzz idx-0000: it simulated and reported "true_class": 7 for a 3-class network).
    func testDataThatDoesNotFitIsRefusedNamingTheDataFile() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [1, 8, 8], layers: [.flatten, .dense(inFeatures: 64, outFeatures: 3, bias: true)], classes: 3), seed: 1)
        let dir = tmp.appendingPathComponent("model").path
        try ModelDirectory.save(model, to: dir)
        let big = try idxFolder("big", labels: [0, 1, 2, 1], side: 10)
        try expectRefusal(["convert", dir, "--data", big, "--out", tmp.appendingPathComponent("snn0").path],
                          ["Error: \(big)/train-images-idx3-ubyte: the calibration images have shape [1, 10, 10]", "expects [1, 8, 8]"])
        try expectRefusal(["compare", dir, "--data", big, "--out", tmp.appendingPathComponent("cmp").path, "--timesteps", "4"],
                          ["Error: \(big)/train-images-idx3-ubyte: the calibration images have shape [1, 10, 10]"])
        // training images fit, test images do not
        let mixed = try idxFolder("mixed", labels: [0, 1, 2, 1])
        try IDXFile.encode(type: .uint8, shape: [4, 10, 10], payload: Data(repeating: 9, count: 400))
            .write(to: URL(fileURLWithPath: mixed + "/t10k-images-idx3-ubyte"))
        try expectRefusal(["compare", dir, "--data", mixed, "--out", tmp.appendingPathComponent("cmp").path, "--timesteps", "4"],
                          ["Error: \(mixed)/t10k-images-idx3-ubyte: the images have shape [1, 10, 10], the model and the converted network expect [1, 8, 8]"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("cmp").path))

        // a converted network and test labels 0, 7, 1, 2: image 1's label is no class of the 3-class network
        let data = try idxFolder("data", labels: [0, 7, 1, 2])
        let snn = tmp.appendingPathComponent("snn").path
        XCTAssertEqual(try run(["convert", dir, "--data", data, "--out", snn]).status, 0)
        let out = tmp.appendingPathComponent("sim").path
        try expectRefusal(["simulate", snn, "--data", data, "--image", "1", "--timesteps", "4", "--out", out],
                          ["Error: \(data)/t10k-labels-idx1-ubyte: label 7 at index 1 is not a class of \(snn), which has 3 classes"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try run(["simulate", snn, "--data", data, "--image", "0", "--timesteps", "4", "--out", out]).status, 0,
                       "image 0 (label 0) runs")
    }

    /// SGD with a learning rate that overflows stops naming epoch, batch and layer (it used to end in
    /// `EncodingError.invalidValue`); a sane run of the same config succeeds.
    func testTrainStopsOnNonFiniteValues() throws {
        let data = try idxFolder("data", labels: [0, 1, 2, 1, 0, 2, 2, 1])
        try expectRefusal(["train", try write("nan.yaml", config(data: data, lr: "1.0e300")), "--out", tmp.appendingPathComponent("nan").path],
                          ["Error: epoch 1, batch 1 of 2", "layer ", "learning rate"])
        let ok = try run(["train", try write("ok.yaml", config(data: data)), "--out", tmp.appendingPathComponent("ok").path])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("ok/model.safetensors").path))
    }
}
