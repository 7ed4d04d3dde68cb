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
        // The mParticle destination's HTTP client; its NIO products also serve the loopback test server.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        // The PostgreSQL source and the PostgreSQL state store: the wire protocol, streamed rows
        // with backpressure, TLS. It also reaches Redshift and other Postgres-compatible warehouses.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // postgres-nio's TLS contexts (sslmode=prefer/require/verify-full); already built for it.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        // The daemon's HTTP face (`jobs daemon --listen`): the server, its metrics API and their export.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // The system libsqlite3, through pkg-config, as GRDB and SwiftPM bind it.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The system zlib, for gzipped source files (Split's webhook posts its impressions gzipped).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "SyncJobsCore",
            dependencies: [
                "CSQLite",
                "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The daemon's HTTP face: the status page, the JSON API, /metrics and the Looker Action Hub
        // (Hummingbird 2), started by `jobs daemon --listen` as one more service of its group.
        .target(
            name: "SyncJobsHTTP",
            dependencies: [
                "SyncJobsCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // In-process servers speaking the mParticle Events API and the Harness FME (Split) events API
        // over loopback (SwiftNIO HTTP/1.1, sharing one plumbing): they check auth, limits and
        // payload shape, record what they accepted, and inject faults. Used by the tests and by the
        // benchmark's sink.
        .target(
            name: "EventsAPIServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "mparticle-sink",
            dependencies: ["EventsAPIServer"]
        ),
        .executableTarget(
            name: "jobs",
            dependencies: [
                "SyncJobsCore",
                "SyncJobsHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The helpers both test targets use: temporary workspaces and projects, running the built
        // binary, loopback Events API helpers, captured output, recording destinations, log capture
        // and clocks. A regular target, so it sees only SyncJobsCore's public and `package`
        // declarations: `@testable import` here would break `swift build -c release`, which builds
        // every regular target without testability. A type these helpers need is `package`, not
        // internal.
        .target(
            name: "SyncJobsTestSupport",
            dependencies: ["SyncJobsCore", "EventsAPIServer", .product(name: "Logging", package: "swift-log"),
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/SyncJobsTestSupport"
        ),
        .testTarget(
            name: "SyncJobsCoreTests",
            // ServiceLifecycle: the daemon's tests run it in a ServiceGroup, as `jobs daemon` does;
            // its test kit triggers a graceful shutdown around a single run.
            dependencies: ["SyncJobsCore", "SyncJobsTestSupport", "CSQLite", "EventsAPIServer",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle")]
        ),
        // The HTTP face through real HTTP on loopback, and in headless Chromium.
        .testTarget(
            name: "SyncJobsHTTPTests",
            dependencies: ["SyncJobsHTTP", "SyncJobsCore", "SyncJobsTestSupport", "EventsAPIServer",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "JobsCLITests",
            // Depends on the executable so `swift test` builds the binary these tests run.
            dependencies: ["SyncJobsCore", "SyncJobsTestSupport", "jobs", "EventsAPIServer"]
        ),
    ]
)
