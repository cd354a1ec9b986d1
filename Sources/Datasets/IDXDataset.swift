import Foundation

/// A folder of IDX files in the MNIST layout: `*train-images-idx3-ubyte[.gz]`,
/// `*train-labels-idx1-ubyte[.gz]`, and the test split as `*t10k-...` (MNIST, Fashion-MNIST, KMNIST)
/// or `*test-...` (EMNIST). `prefix` picks one family when a folder holds several (EMNIST's
/// `emnist-balanced-`, `emnist-digits-`, ...).
public struct IDXDataset: Sendable {
    /// Debian's `dataset-fashion-mnist` package installs the files here.
    public static let fashionMNISTFolder = "/usr/share/datasets/fashion-mnist"

    /// Which half of the data set: the training files or the test (`t10k`/`test`) files.
    public enum Split: String, Sendable { case train, test }

    public let folder: String
    public let prefix: String

    public init(folder: String = IDXDataset.fashionMNISTFolder, prefix: String = "") {
        self.folder = folder
        self.prefix = prefix
    }

    /// Path of the images or labels file of a split.
    public func path(_ split: Split, labels: Bool) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError.missing(path: folder, hint: folder == Self.fashionMNISTFolder
                ? "Install Fashion-MNIST (Debian package dataset-fashion-mnist): bash scripts/setup.sh"
                : "Expected a folder of IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...).")
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let kind = labels ? "labels-idx1-ubyte" : "images-idx3-ubyte"
        let splitNames = split == .train ? ["train"] : ["t10k", "test"]
        var matches: [String] = []
        for s in splitNames {
            let stem = "\(s)-\(kind)"
            matches += files.filter { f in
                f.hasPrefix(prefix) && (f.hasSuffix(stem) || f.hasSuffix(stem + ".gz"))
            }
            if !matches.isEmpty { break }
        }
        // Prefer the raw file when both raw and .gz exist.
        if matches.count == 2, Set(matches.map { $0.replacingOccurrences(of: ".gz", with: "") }).count == 1 {
            matches = matches.filter { !$0.hasSuffix(".gz") }
        }
        guard !matches.isEmpty else {
            let want = "\(prefix)\(splitNames[0])-\(kind)[.gz]"
            throw DatasetError.missing(path: "\(folder)/\(want)", hint: folder == Self.fashionMNISTFolder
                ? "Install Fashion-MNIST (Debian package dataset-fashion-mnist): bash scripts/setup.sh"
                : "The folder must hold \(want) (MNIST file layout).")
        }
        guard matches.count == 1 else {
            throw DatasetError.mismatch("\(folder): several \(split.rawValue) \(labels ? "label" : "image") files match (\(matches.sorted().joined(separator: ", "))); choose one family with a prefix")
        }
        return "\(folder)/\(matches[0])"
    }

    /// Loads a split: images scaled by `normalization`, the first `limit` samples when given.
    public func load(_ split: Split, normalization: Normalization, limit: Int? = nil, threads: Int = 1) throws -> LabeledImages {
        let ip = try path(split, labels: false), lp = try path(split, labels: true)
        let images = try IDXFile.read(path: ip, expect: (.uint8, 3))
        let labels = try IDXFile.read(path: lp, expect: (.uint8, 1))
        return try LabeledImages(images: images, labels: labels, normalization: normalization, limit: limit,
                                 imagesPath: ip, labelsPath: lp, threads: threads)
    }
}
