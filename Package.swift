// swift-tools-version:6.2
import PackageDescription

/// Settings shared by every Taskwire target: Swift 6 mode, explicit import visibility, and
/// warnings as errors for our own code only.
let strictSettings: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
  .enableUpcomingFeature("MemberImportVisibility"),
  .treatAllWarnings(as: .error),
]

let package = Package(
  name: "taskwire",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "taskwire", targets: ["taskwire"]),
    .library(name: "Taskwire", targets: ["Taskwire"]),
    .library(name: "TaskwireTesting", targets: ["TaskwireTesting"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
    .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
  ],
  targets: [
    // Generated from Proto/ by .ci/generate-proto.sh; package visibility.
    .target(
      name: "TaskwireProto",
      dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
      exclude: ["Generated/PROTO_SHA256"],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    .target(
      name: "TaskwireWire",
      dependencies: [
        "TaskwireProto",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: strictSettings
    ),
    .target(name: "TaskwireCore", swiftSettings: strictSettings),
    .target(name: "TaskwireStore", dependencies: ["TaskwireCore"], swiftSettings: strictSettings),
    // SQLite itself (the amalgamation, vendored: see Sources/CSQLite/README.md), built with the
    // options the store wants. Each connection is used by one thread at a time (multi-thread
    // mode); no memory statistics; lookaside on; unused features left out.
    .target(
      name: "CSQLite",
      exclude: ["README.md"],
      cSettings: [
        .define("SQLITE_THREADSAFE", to: "2"),
        .define("SQLITE_DEFAULT_MEMSTATUS", to: "0"),
        .define("SQLITE_DQS", to: "0"),
        .define("SQLITE_LIKE_DOESNT_MATCH_BLOBS"),
        .define("SQLITE_MAX_EXPR_DEPTH", to: "0"),
        .define("SQLITE_USE_ALLOCA"),
        .define("SQLITE_OMIT_DEPRECATED"),
        .define("SQLITE_OMIT_LOAD_EXTENSION"),
        .define("SQLITE_OMIT_PROGRESS_CALLBACK"),
        .define("SQLITE_OMIT_SHARED_CACHE"),
        // What SQLite's configure script finds on Linux, as Debian's build has them. Without
        // HAVE_FDATASYNC a commit calls fsync(), which also flushes the WAL's inode times (no
        // difference measured here: both cost ~0.1 ms for a commit's 48 KB on this machine).
        .define("HAVE_FDATASYNC", to: "1", .when(platforms: [.linux])),
        .define("HAVE_POSIX_FALLOCATE", to: "1", .when(platforms: [.linux])),
        .define("HAVE_MALLOC_H", to: "1", .when(platforms: [.linux])),
        .define("HAVE_MALLOC_USABLE_SIZE", to: "1", .when(platforms: [.linux])),
        .define("HAVE_STRCHRNUL", to: "1", .when(platforms: [.linux])),
        .define("HAVE_LOCALTIME_R", to: "1"),
        .define("HAVE_GMTIME_R", to: "1"),
      ]
    ),
    .target(
      name: "TaskwireSQLite",
      dependencies: [
        "TaskwireStore", "TaskwireCore", "CSQLite",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strictSettings
    ),
    .target(
      name: "TaskwireCoordinator",
      dependencies: [
        "TaskwireCore", "TaskwireStore",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strictSettings
    ),
    .target(
      name: "TaskwireServer",
      dependencies: [
        "TaskwireWire", "TaskwireCoordinator", "TaskwireProto", "TaskwireCore", "TaskwireStore",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strictSettings
    ),
    // Assembles store, coordinator and server into one running node (serve, TaskwireTesting).
    .target(
      name: "TaskwireRuntime",
      dependencies: [
        "TaskwireServer", "TaskwireSQLite", "TaskwireCoordinator", "TaskwireCore", "TaskwireStore",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strictSettings
    ),
    .target(
      name: "Taskwire",
      dependencies: [
        "TaskwireWire", "TaskwireProto",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      path: "ClientSDK/Taskwire",
      swiftSettings: strictSettings
    ),
    .target(
      name: "TaskwireTesting",
      dependencies: [
        "Taskwire", "TaskwireRuntime", "TaskwireServer", "TaskwireSQLite", "TaskwireCoordinator",
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "ClientSDK/TaskwireTesting",
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "taskwire",
      dependencies: [
        "Taskwire", "TaskwireRuntime", "TaskwireServer", "TaskwireSQLite", "TaskwireCoordinator",
        "TaskwireCore", "TaskwireStore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        "TaskwireWire", "TaskwireProto",
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "TaskwireWireTests",
      dependencies: [
        "TaskwireWire", "TaskwireProto",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOTestUtils", package: "swift-nio"),
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "TaskwireCoreTests",
      dependencies: ["TaskwireCore"],
      swiftSettings: strictSettings
    ),
    // A SQLite VFS for power-cut tests: drops every write not yet synced when told to.
    .target(
      name: "CSQLiteCrashVFS",
      dependencies: ["CSQLite"],
      path: "Tests/CSQLiteCrashVFS"
    ),
    .testTarget(
      name: "TaskwireSQLiteTests",
      dependencies: [
        "TaskwireSQLite", "TaskwireStore", "TaskwireCore", "CSQLite", "CSQLiteCrashVFS",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "TaskwireServerTests",
      dependencies: [
        "TaskwireServer", "TaskwireWire", "TaskwireProto", "TaskwireSQLite", "TaskwireCoordinator",
        "TaskwireCore", "TaskwireStore", "TaskwireRuntime",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "TaskwireTests",
      dependencies: [
        "Taskwire", "TaskwireTesting", "TaskwireWire", "TaskwireProto", "TaskwireRuntime",
        "TaskwireServer", "TaskwireCoordinator", "TaskwireStore",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "TaskwireCommandTests",
      dependencies: [
        "taskwire", "TaskwireCore", "Taskwire",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strictSettings
    ),
  ]
)
