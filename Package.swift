// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "syncjobs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jobs", targets: ["jobs"]),
        .library(name: "SyncJobsCore", targets: ["SyncJobsCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The system libsqlite3, through pkg-config, as GRDB and SwiftPM bind it.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "SyncJobsCore",
            dependencies: [
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "jobs",
            dependencies: [
                "SyncJobsCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SyncJobsCoreTests",
            dependencies: ["SyncJobsCore", "CSQLite"]
        ),
        .testTarget(
            name: "JobsCLITests",
            // Depends on the executable so `swift test` builds the binary these tests run.
            dependencies: ["SyncJobsCore", "jobs"]
        ),
    ]
)
