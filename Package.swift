// swift-tools-version:5.9
// synx — power-quality monitoring daemon. GPL-3.0-or-later (see COPYING).
import PackageDescription

let package = Package(
    name: "synx",
    products: [
        .executable(name: "synxd", targets: ["synxd"]),
        .executable(name: "synxctl", targets: ["synxctl"]),
        .executable(name: "synx-sim", targets: ["synx-sim"]),
        .executable(name: "synx-analyze", targets: ["synx-analyze"]),
        .executable(name: "synx-bench", targets: ["synx-bench"]),
        .executable(name: "synx-report", targets: ["synx-report"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C libraries, wrapped once (STYLE habit 5).
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),

        // Leaves and the one-way chain: CModbus → SynxModbus → SynxMeters.
        // TOML 1.0.0 by our own parser (TOMLKit leaked and toml++ aborted on some inputs: docs/design.md).
        .target(name: "SynxTOML"),
        // Clocks (and a condition variable that waits on the monotonic one), named threads and errno: the one place
        // time is read and threads are started.
        .target(name: "SynxSystem", dependencies: ["CLinux"]),
        .target(name: "SynxModbus", dependencies: ["CModbus", "CLinux", "SynxSystem"]),
        .target(name: "SynxMeters", dependencies: ["SynxModbus", "SynxTOML"]),
        .target(name: "SynxStore", dependencies: ["CSQLite", "CLinux", "SynxSystem"]),
        .target(name: "SynxControl"),
        // The aligned-table and CSV renderer the command-line clients share.
        .target(name: "SynxTables"),
        // The version every binary prints.
        .target(name: "SynxVersion"),
        // Pure IEC 61000-4-30 / 61000-4-7 processing: no I/O, no clock, no logging.
        .target(name: "SynxDSP", dependencies: ["CFFTW"]),
        // IEEE C37.111 (COMTRADE) recordings: reader and writer.
        .target(name: "SynxComtrade"),
        // Prometheus / OpenMetrics exposition and the naming of synx's measurements as metrics: pure text.
        .target(name: "SynxMetrics"),
        // MQTT client over libmosquitto: connects, publishes, driven by its owner's thread.
        .target(name: "SynxMQTT", dependencies: ["CMosquitto"]),
        // The MQTT topics and payloads synxd publishes, Home Assistant discovery included: pure text.
        .target(name: "SynxHomeAssistant"),
        // Compliance reports (EN 50160, event curves) from the store's values: read-only over SynxStore.
        .target(name: "SynxReports", dependencies: ["SynxStore", "SynxTables"]),
        // Only the daemon wires everything.
        .target(name: "SynxDaemon", dependencies: [
            "SynxModbus", "SynxMeters", "SynxStore", "SynxControl", "SynxTOML", "SynxDSP", "SynxComtrade", "CSystemd", "CLinux",
            "SynxSystem", "SynxTables", "SynxVersion", "SynxReports", "SynxMetrics", "SynxMQTT", "SynxHomeAssistant",
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "synxd", dependencies: [
            "SynxDaemon", "SynxMeters", "SynxTOML", "SynxVersion", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "synxctl", dependencies: [
            "SynxControl", "SynxTables", "SynxVersion", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "synx-sim", dependencies: [
            "CModbus", "CLinux", "SynxModbus", "SynxMeters", "SynxSystem", "SynxTOML", "SynxComtrade", "SynxVersion",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "synx-analyze", dependencies: [
            "SynxDSP", "SynxComtrade", "SynxTables", "SynxVersion",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "synx-report", dependencies: [
            "SynxReports", "SynxStore", "SynxVersion", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "synx-bench", dependencies: [
            "SynxStore", "CSQLite", "SynxControl", "CModbus", "SynxDSP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "benchmarks/synx-bench"),

        .testTarget(name: "SynxModbusTests", dependencies: ["SynxModbus", "SynxSystem"]),
        .testTarget(name: "SynxSystemTests", dependencies: ["SynxSystem"]),
        .testTarget(name: "SynxTOMLTests", dependencies: ["SynxTOML"]),
        .testTarget(name: "SynxMetersTests", dependencies: ["SynxMeters", "SynxModbus", "SynxTOML"]),
        .testTarget(name: "SynxStoreTests", dependencies: ["SynxStore", "CSQLite"]),
        .testTarget(name: "SynxControlTests", dependencies: ["SynxControl"]),
        .testTarget(name: "SynxDSPTests", dependencies: ["SynxDSP"]),
        .testTarget(name: "SynxComtradeTests", dependencies: ["SynxComtrade"]),
        .testTarget(name: "SynxReportsTests", dependencies: ["SynxReports", "SynxStore"]),
        .testTarget(name: "SynxMetricsTests", dependencies: ["SynxMetrics"]),
        .testTarget(name: "SynxHomeAssistantTests", dependencies: ["SynxHomeAssistant", "SynxMeters"]),
        .testTarget(name: "SynxDaemonTests", dependencies: [
            "SynxDaemon", "SynxControl", "SynxDSP", "SynxMeters", "SynxMetrics", "SynxModbus", "SynxReports", "SynxStore",
            "SynxSystem", "SynxTOML", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EndToEndTests", dependencies: ["SynxControl", "SynxComtrade", "SynxStore", "CSQLite"]),
    ]
)
