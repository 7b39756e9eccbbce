// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// Settings every Swift target shares.
let swiftSettings: [SwiftSetting] = [
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0335-existential-any.md
    .enableUpcomingFeature("ExistentialAny"),
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0444-member-import-visibility.md
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "FlowOrchestrator",
    products: [
        .library(name: "FlowOrchestrator", targets: ["FlowOrchestrator"]),
        .executable(name: "flowctl", targets: ["flowctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        // The protobuf benchmark peer's runtime: a dependency of FlowBenchKit only.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // SQLite, the row-per-node persistence peer of the benchmarks (FlowBenchKit only).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(name: "FBSchema"),
        .target(
            name: "FlowOrchestrator",
            dependencies: [
                "CZstd",
                "FBSchema",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FlowBenchKit",
            dependencies: [
                "FlowOrchestrator", "FBSchema", "CZstd", "CSQLite",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "flowctl",
            dependencies: [
                "FlowOrchestrator",
                "FlowBenchKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Runs one durable workflow with real side effects; the crash tests kill it at random.
        .executableTarget(
            name: "flow-crashtest",
            dependencies: ["FlowOrchestrator"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FlowOrchestratorTests",
            dependencies: [
                "FlowOrchestrator",
                "flow-crashtest",
                "FBSchema",
                "CZstd",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FlowBenchKitTests",
            dependencies: ["FlowBenchKit", "FlowOrchestrator"],
            swiftSettings: swiftSettings
        ),
        // End-to-end tests of the flowctl binary, run as a user would; they find it next to the
        // test bundle (building it when missing), so they need no dependency on the executable.
        .testTarget(
            name: "FlowCtlTests",
            dependencies: ["FlowOrchestrator"],
            swiftSettings: swiftSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)

// The benchmark suite pulls in package-benchmark and its allocator interposer; everyday builds
// and tests skip it. `FLOW_BENCHMARKS=1 swift package benchmark` turns it on.
if ProcessInfo.processInfo.environment["FLOW_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "FlowBenchmarks",
            dependencies: [
                "FlowOrchestrator",
                "FlowBenchKit",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/FlowBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}

// The DocC documentation plugin, kept out of everyday builds as the benchmarks are:
// `FLOW_DOCS=1 swift package generate-documentation --target FlowOrchestrator` (scripts/docs.sh
// runs it and fails on any warning).
if ProcessInfo.processInfo.environment["FLOW_DOCS"] != nil {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.4.0"))
}
