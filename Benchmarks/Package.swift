// swift-tools-version:6.1
// The benchmark harness, kept out of the main package so that `make test` does not build it.
import Foundation
import PackageDescription

// A path dependency is identified by its directory's name, which depends on where the
// repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "ReservoirBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .systemLibrary(name: "BenchLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        // The peers Reservoir is measured against, in the same run: only this package links them.
        .systemLibrary(name: "BenchSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "BenchLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        // A plain C loop that writes the same batch bytes as the encoder: its baseline.
        .target(name: "BenchCLoop", path: "Sources/BenchCLoop", cSettings: [.unsafeFlags(["-O2"])]),
        .executableTarget(
            name: "ReservoirBenchmarks",
            dependencies: [
                .product(name: "Reservoir", package: root), "BenchLZ4", "BenchSQLite", "BenchLMDB", "BenchCLoop",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/ReservoirBenchmarks"
        ),
    ]
)
