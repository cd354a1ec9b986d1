// swift-tools-version:6.0
// neuromorph — a Swift toolkit for neuromorphic computing.
//
// Layering (dependencies point downward only, see README "Architecture"):
//   neuromorph (CLI) -> Experiment -> Conversion -> ANN, SNN -> Datasets, Common -> CANN, CEngine -> CCore (C, OpenMP, GSL, OpenBLAS)
import Foundation
import PackageDescription

/// OpenMP with Swift's bundled clang: `-fopenmp` works, but `omp.h` and `libomp.so` live in the LLVM
/// folder that Debian's `libomp-dev` installs (`/usr/lib/llvm-<N>/...`), which Swift's clang does not
/// search. Resolve that folder here, at manifest time, instead of hard-coding a version: the newest
/// `/usr/lib/llvm-*/lib/libomp.so` that has an `omp.h` next to it wins. `scripts/setup.sh` installs
/// libomp-dev; without it the build stops here with a message that says so.
func findOpenMP() -> (include: String, lib: String)? {
    let fm = FileManager.default
    let root = "/usr/lib"
    guard let entries = try? fm.contentsOfDirectory(atPath: root) else { return nil }
    let llvms = entries.filter { $0.hasPrefix("llvm-") }
        .sorted { (Int($0.dropFirst(5)) ?? 0) > (Int($1.dropFirst(5)) ?? 0) }
    for llvm in llvms {
        let lib = "\(root)/\(llvm)/lib"
        guard fm.fileExists(atPath: "\(lib)/libomp.so") else { continue }
        let clangDir = "\(lib)/clang"
        let versions = ((try? fm.contentsOfDirectory(atPath: clangDir)) ?? []).sorted(by: >)
        for v in versions where fm.fileExists(atPath: "\(clangDir)/\(v)/include/omp.h") {
            return ("\(clangDir)/\(v)/include", lib)
        }
    }
    return nil
}

guard let omp = findOpenMP() else {
    fatalError("""
        neuromorph needs OpenMP (libomp-dev): no /usr/lib/llvm-*/lib/libomp.so with an omp.h was found.
        Run `bash scripts/setup.sh` (as root) to install the system packages, then build again.
        """)
}

/// Compiler flags of the C targets (see the comment at CCore below). Debug information as DWARF 4:
/// valgrind 3.19 (Debian 12) gives up on clang's DWARF 5 once an executable holds several C objects
/// (neuromorph-run since it links the engine target).
let cFlags: [CSetting] = [
    .unsafeFlags(["-O3", "-ffp-contract=off", "-gdwarf-4", "-fopenmp", "-idirafter", omp.include, "-Wall", "-Wno-unknown-pragmas", "-Wno-psabi"]),
]

let package = Package(
    name: "neuromorph",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "neuromorph", targets: ["neuromorph"]),
        .executable(name: "neuromorph-run", targets: ["neuromorph-run"]),
        .library(name: "SNN", targets: ["SNN"]),
        .library(name: "ANN", targets: ["ANN"]),
        .library(name: "Conversion", targets: ["Conversion"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // ONNX import: the runtime only; Sources/ONNX/Proto/onnx-subset.pb.swift is generated once by
        // scripts/gen-onnx-proto.sh and committed (no code generation at build time).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Hot loops in C, in three targets: CCore (shared: OpenMP thread control, GSL random streams, the
        // vector-path dispatch nm_isa/nm_vec.h, the output policy nm_output.c), CEngine (the spiking engine:
        // what neuromorph-run links) and CANN (the ANN kernels: OpenBLAS, zlib for gzip data sets).
        // No -march: the vector kernels are compiled once per path (AVX-512, AVX2, baseline) through
        // target attributes and chosen at run time (nm_isa.h), so one binary runs on every x86-64 CPU at
        // its best speed. No fused multiply-add contraction anywhere (-ffp-contract=off): every path
        // rounds the same way (bit-identical results). -Wno-psabi: 16-lane vectors passed between
        // always-inline helpers (never an ABI boundary).
        .target(
            name: "CCore",
            cSettings: cFlags,
            linkerSettings: [
                .unsafeFlags(["-L\(omp.lib)"]),
                .linkedLibrary("omp"),
                .linkedLibrary("gsl"),
                .linkedLibrary("m"),
            ]
        ),
        .target(name: "CEngine", dependencies: ["CCore"], cSettings: cFlags),
        .target(
            name: "CANN",
            dependencies: ["CCore"],
            cSettings: cFlags,
            linkerSettings: [
                .linkedLibrary("openblas"),
                .linkedLibrary("z"),  // zlib: gzip-compressed IDX data sets (ann_gz.c)
            ]
        ),
        .target(name: "Common", dependencies: ["CCore"]),
        .target(name: "Datasets", dependencies: ["Common", "CCore", "CANN"]),
        .target(name: "SNN", dependencies: ["CEngine", "CCore", "Common"]),
        .target(name: "ANN", dependencies: ["CANN", "CCore", "Common", "Datasets"]),
        .target(name: "Conversion", dependencies: ["ANN", "SNN", "Datasets", "Common"]),
        // ONNX models (PyTorch, Keras, JAX exports) read into a Sequential (Sources/ONNX).
        .target(name: "ONNX", dependencies: [
            "ANN", "Common", "Datasets",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["Proto/onnx-subset.proto"]),
        // Experiment/YAMLBudget.swift also imports `CYaml`, the libyaml copy inside Yams (Yams's own C target,
        // not a product of it; a second copy of libyaml would clash at link time). Checked with SwiftPM 6.3:
        // a transitive target's module is visible to dependents, so a clean build of a fresh clone works with
        // the native and the swiftbuild build systems, without a warning, and even
        // `--explicit-target-dependency-import-check error` accepts it (the check allows transitive
        // dependencies). The risk left is Yams renaming or restructuring CYaml in a release within the
        // version range below: YAMLBudget.swift then stops the build with an #error saying so.
        .target(name: "Experiment", dependencies: [
            "SNN", "ANN", "Conversion", "Datasets", "Common",
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "neuromorph", dependencies: [
            "Experiment", "SNN", "ANN", "Conversion", "Datasets", "Common", "CCore", "ONNX",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // C-only runner of saved networks (no Swift runtime, Foundation, BLAS or zlib in the process): the
        // engine target and what it shares (CCore), see Sources/neuromorph-run/main.c.
        .executableTarget(
            name: "neuromorph-run",
            dependencies: ["CEngine", "CCore"],
            cSettings: cFlags + [.headerSearchPath("../CEngine")],   // its recordings through snn_internal.h
            linkerSettings: [
                // SwiftPM links every executable with the Swift runtime (swiftc adds -lswiftCore before any
                // flag of ours, so --as-needed cannot drop it); linked statically, only its few referenced
                // pieces come in and libswiftCore.so (2 MB resident) is not loaded: peak RSS 7.0 vs 8.3 MiB
                // on CUBA-4000
                .unsafeFlags(["-static-stdlib"]),
            ]
        ),
        // Tests mirror the source tree.
        .testTarget(name: "CommonTests", dependencies: ["Common", "CCore"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Common", "CCore", "CANN"]),
        .testTarget(name: "SNNTests", dependencies: ["SNN", "Common", "CEngine", "CCore"]),
        .testTarget(name: "ANNTests", dependencies: ["ANN", "Datasets", "Common", "CANN", "CCore"]),
        .testTarget(name: "ConversionTests", dependencies: ["Conversion", "ANN", "SNN", "Datasets", "Common", "CCore"]),
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "ANN", "Conversion", "Datasets", "Common",
                                                  .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ExperimentTests", dependencies: ["Experiment", "SNN", "ANN", "Datasets", "Common"]),
    ]
)
