// swift-tools-version:6.1
// libFuzzer target over the batch decoder and the segment scanner. Built by `make fuzz`
// (Tests/Fuzz/run.sh) with -sanitize=fuzzer, outside the `make test` build.
import Foundation
import PackageDescription

// A path dependency is identified by its directory's name, which depends on where the
// repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "ReservoirFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "ReservoirFuzz",
            dependencies: [
                .product(name: "Reservoir", package: root),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ReservoirFuzz"
        ),
    ]
)
