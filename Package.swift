// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .define("RESERVOIR_INTERNAL_CHECKS", .when(configuration: .debug)),
]

let package = Package(
    name: "Reservoir",
    products: [
        .library(name: "Reservoir", targets: ["Reservoir"]),
        .library(name: "ReservoirKafka", targets: ["ReservoirKafka"]),
        .library(name: "ReservoirServiceLifecycle", targets: ["ReservoirServiceLifecycle"]),
        .executable(name: "reservoir", targets: ["ReservoirCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // `swift package generate-documentation`: the DocC catalogs (build tool only).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .target(name: "CCRC32C"),
        .target(name: "CReservoirSystem"),
        // JSON escaping for the command line's `--json` output, kept out of the core library.
        .target(name: "CReservoirText"),
        .target(
            name: "Reservoir",
            dependencies: [
                "CLZ4",
                "CZlib",
                "CZstd",
                "CSnappy",
                "CCRC32C",
                "CReservoirSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // Kafka's wire protocol over a store: message codecs (generated from Kafka's schemas by
        // Scripts/generate-kafka-messages.py) and the broker, on SwiftNIO.
        .target(
            name: "ReservoirKafka",
            dependencies: [
                "Reservoir",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // A store as a swift-service-lifecycle Service, kept out of the core library's dependencies.
        .target(
            name: "ReservoirServiceLifecycle",
            dependencies: [
                "Reservoir",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ReservoirCLI",
            dependencies: [
                "Reservoir",
                "ReservoirKafka",
                "CReservoirText",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReservoirTests",
            dependencies: [
                "Reservoir", "ReservoirKafka", "ReservoirServiceLifecycle", "CCRC32C", "CReservoirText",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
    ]
)
