// swift-tools-version:6.1
// libFuzzer targets: DecoderFuzz (every decoder of bytes read from disk, in memory),
// RequestFuzz (every Kafka request decoder, in memory) and ReservoirFuzz (a store opened on each
// input: recovery, reads, consumer state). Built by
// Tests/Fuzz/run.sh with -sanitize=fuzzer,address and -enable-testing (DecoderFuzz reaches the
// library's internal decoders), outside the `make test` build.
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
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        .target(name: "FuzzDriver", path: "Sources/FuzzDriver"),
        .executableTarget(
            name: "ReservoirFuzz",
            dependencies: [
                "FuzzDriver",
                .product(name: "Reservoir", package: root),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ReservoirFuzz"
        ),
        .executableTarget(
            name: "RequestFuzz",
            dependencies: [
                "FuzzDriver",
                .product(name: "ReservoirKafka", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/RequestFuzz"
        ),
        .executableTarget(
            name: "DecoderFuzz",
            dependencies: ["FuzzDriver", .product(name: "Reservoir", package: root)],
            path: "Sources/DecoderFuzz"
        ),
    ]
)
