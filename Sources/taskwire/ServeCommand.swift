import ArgumentParser
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import TaskwireCoordinator
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import TaskwireRuntime
import TaskwireServer

/// `taskwire serve`: runs a coordinator with the embedded SQLite store.
struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the coordinator server."
  )

  @Option(
    name: .long,
    help: "JSON config file (also TASKWIRE_CONFIG); flags and TASKWIRE_* beat it."
  )
  var config: String?

  @Option(name: .long, help: "Address to listen on, HOST:PORT (port 0 picks a free one).")
  var listen: String?

  @Option(name: .long, help: "Data directory: store, dev TLS material, admin token, address file.")
  var dataDir: String?

  @Option(name: .long, help: "Store: sqlite.")
  var store: String?

  @Option(
    name: .long,
    help: "full (fsync before every ack) or relaxed (fsync at least every 50 ms)."
  )
  var durability: String?

  @Option(name: .long, help: "PEM certificate chain; default: a development CA in DATA_DIR/tls.")
  var tlsCert: String?

  @Option(name: .long, help: "PEM private key for --tls-cert.")
  var tlsKey: String?

  @Option(name: .long, help: "PEM CA for client certificates; turns on mutual TLS.")
  var clientCa: String?

  @Option(name: .long, help: "Largest frame in bytes (default 4 MiB).")
  var maxFrameBytes: Int?

  @Option(name: .long, help: "Largest payload or result in bytes (default 1 MiB).")
  var maxPayloadBytes: Int?

  @Option(name: .long, help: "Calls in flight per connection (default 100).")
  var maxConcurrentCalls: Int?

  @Option(name: .long, help: "Open connections in all (default 20000).")
  var maxConnections: Int?

  @Option(name: .long, help: "Open connections per client address (default 1024).")
  var maxConnectionsPerAddress: Int?

  @Option(name: .long, help: "TLS handshake + hello timeout in ms (default 10000).")
  var handshakeTimeoutMs: Int64?

  @Option(name: .long, help: "A started frame must complete within this many ms (default 30000).")
  var frameTimeoutMs: Int64?

  @Option(name: .long, help: "Close connections idle this many ms (default 300000).")
  var idleTimeoutMs: Int64?

  @Option(name: .long, help: "Pending tasks per queue (default 1000000).")
  var maxPendingPerQueue: Int?

  @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
  var logLevel: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Shut down gracefully once process PID (the one that started this server) exits.",
      valueName: "pid",
      visibility: .hidden
    )
  )
  var exitWithParent: Int32?

  @Flag(
    name: .long,
    help: ArgumentHelp(
      "Remove the data directory on exit (for the temporary one of `taskwire bench`).",
      visibility: .hidden
    )
  )
  var removeDataDirOnExit = false

  /// Every serve setting after precedence: flag > TASKWIRE_* environment > config file > default.
  struct Resolved {
    /// Per-queue and per-type defaults and limits (config file only).
    var queues = QueueSettings()
    var listen: String = "127.0.0.1:7433"
    var dataDir: String = "./taskwire-data"
    var store: String = "sqlite"
    var durability: String = "full"
    var tlsCert: String?
    var tlsKey: String?
    var clientCa: String?
    var maxFrameBytes: Int = 4 * 1024 * 1024
    var maxPayloadBytes: Int = 1024 * 1024
    var maxConcurrentCalls: Int = 100
    var maxConnections: Int = 20_000
    var maxConnectionsPerAddress: Int = 1_024
    var handshakeTimeoutMs: Int64 = 10_000
    var frameTimeoutMs: Int64 = 30_000
    var idleTimeoutMs: Int64 = 300_000
    var maxPendingPerQueue: Int = 1_000_000
    var logLevel: String = "info"
  }

  /// Applies the precedence rules to every setting and checks the result.
  func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> Resolved
  {
    let settings = try Settings(configPath: self.config, environment: environment)
    var resolved = Resolved()
    resolved.queues = try QueueSettings(settings.file["queues"])
    resolved.listen = try settings.string("listen", flag: self.listen, default: resolved.listen)
    resolved.dataDir = try settings.string(
      "data-dir",
      flag: self.dataDir,
      default: resolved.dataDir
    )
    resolved.store = try settings.string("store", flag: self.store, default: resolved.store)
    resolved.durability = try settings.string(
      "durability",
      flag: self.durability,
      default: resolved.durability
    )
    resolved.tlsCert = try settings.optionalString("tls-cert", flag: self.tlsCert)
    resolved.tlsKey = try settings.optionalString("tls-key", flag: self.tlsKey)
    resolved.clientCa = try settings.optionalString("client-ca", flag: self.clientCa)
    resolved.maxFrameBytes = try settings.int(
      "max-frame-bytes",
      flag: self.maxFrameBytes,
      default: resolved.maxFrameBytes
    )
    resolved.maxPayloadBytes = try settings.int(
      "max-payload-bytes",
      flag: self.maxPayloadBytes,
      default: resolved.maxPayloadBytes
    )
    resolved.maxConcurrentCalls = try settings.int(
      "max-concurrent-calls",
      flag: self.maxConcurrentCalls,
      default: resolved.maxConcurrentCalls
    )
    resolved.maxConnections = try settings.int(
      "max-connections",
      flag: self.maxConnections,
      default: resolved.maxConnections
    )
    resolved.maxConnectionsPerAddress = try settings.int(
      "max-connections-per-address",
      flag: self.maxConnectionsPerAddress,
      default: resolved.maxConnectionsPerAddress
    )
    resolved.handshakeTimeoutMs = try settings.int64(
      "handshake-timeout-ms",
      flag: self.handshakeTimeoutMs,
      default: resolved.handshakeTimeoutMs
    )
    resolved.frameTimeoutMs = try settings.int64(
      "frame-timeout-ms",
      flag: self.frameTimeoutMs,
      default: resolved.frameTimeoutMs
    )
    resolved.idleTimeoutMs = try settings.int64(
      "idle-timeout-ms",
      flag: self.idleTimeoutMs,
      default: resolved.idleTimeoutMs
    )
    resolved.maxPendingPerQueue = try settings.int(
      "max-pending-per-queue",
      flag: self.maxPendingPerQueue,
      default: resolved.maxPendingPerQueue
    )
    resolved.logLevel = try settings.string(
      "log-level",
      flag: self.logLevel,
      default: resolved.logLevel
    )
    guard ["full", "relaxed"].contains(resolved.durability) else {
      throw ValidationError("durability must be full or relaxed, got \(resolved.durability)")
    }
    guard resolved.store == "sqlite" else {
      throw ValidationError(
        "store must be sqlite (PostgreSQL arrives in a later release), got \(resolved.store)"
      )
    }
    // A get answers a task's payload and result in one frame; a lease, at least one payload.
    let payloadRoom = (resolved.maxFrameBytes - 65_536) / 2
    guard resolved.maxPayloadBytes > 0, resolved.maxPayloadBytes <= payloadRoom else {
      throw ValidationError(
        "max-payload-bytes (\(resolved.maxPayloadBytes)) must be positive and leave room for a "
          + "task's payload and result in one frame: at most (max-frame-bytes - 65536) / 2 = "
          + "\(payloadRoom) with max-frame-bytes \(resolved.maxFrameBytes)"
      )
    }
    guard (resolved.tlsCert == nil) == (resolved.tlsKey == nil) else {
      throw ValidationError("--tls-cert and --tls-key go together")
    }
    _ = try HostPort(resolved.listen)
    return resolved
  }

  func validate() throws {
    _ = try self.resolve()
  }

  func run() async throws {
    let resolved = try self.resolve()
    defer {
      // Only `taskwire bench` passes the flag, with the directory it made for this server.
      if self.removeDataDirOnExit { try? FileManager.default.removeItem(atPath: resolved.dataDir) }
    }
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = Logger.Level(rawValue: resolved.logLevel) ?? .info
      return handler
    }
    let logger = Logger(label: "taskwire")
    let address = try HostPort(resolved.listen)
    var options = EmbeddedServer.Options(dataDirectory: resolved.dataDir)
    options.host = address.host
    options.port = address.port
    options.durability = resolved.durability == "relaxed" ? .relaxed : .full
    options.maxPendingPerQueue = resolved.maxPendingPerQueue
    if let cert = resolved.tlsCert, let key = resolved.tlsKey {
      options.tls = .init(
        certificateChainPath: cert,
        privateKeyPath: key,
        clientCAPath: resolved.clientCa
      )
    }
    options.clientCAPath = resolved.clientCa
    options.limits.maxFrameBytes = resolved.maxFrameBytes
    options.limits.maxPayloadBytes = resolved.maxPayloadBytes
    options.limits.maxConcurrentCalls = resolved.maxConcurrentCalls
    options.limits.maxConnections = resolved.maxConnections
    options.limits.maxConnectionsPerAddress = resolved.maxConnectionsPerAddress
    options.limits.handshakeTimeout = .milliseconds(resolved.handshakeTimeoutMs)
    options.limits.frameTimeout = .milliseconds(resolved.frameTimeoutMs)
    options.limits.idleTimeout = .milliseconds(resolved.idleTimeoutMs)
    options.coordinator.defaults = resolved.queues.defaults
    options.storePolicy.pendingLimits = resolved.queues.pendingLimits
    options.storePolicy.finishedRetention = resolved.queues.retentionMs

    let server = try await EmbeddedServer.open(options, logger: logger)
    let serving = Serving(server: server) { bound in
      let banner = """
        Taskwire \(taskwireServerVersion) listening on \(bound)
          data dir:    \(server.dataDirectory)
          store:       sqlite (\(server.storePath))
          durability:  \(resolved.durability)
          TLS CA:      \(server.caPath ?? "(configured certificate)")
          admin token: \(server.adminTokenPath)
        """
      FileHandle.standardError.write(Data((banner + "\n").utf8))
    }
    // The server's own group shuts down on SIGTERM/SIGINT, or when this outer group does: when
    // the watched process exits. Whichever service returns first shuts the other down.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
      .init(service: serving, successTerminationBehavior: .gracefullyShutdownGroup)
    ]
    if let pid = self.exitWithParent {
      services.append(
        .init(
          service: ParentExitWatch(pid: pid, logger: logger),
          successTerminationBehavior: .gracefullyShutdownGroup
        )
      )
    }
    let group = ServiceGroup(configuration: .init(services: services, logger: logger))
    try await group.run()
  }
}

/// The embedded server as a service: it stops on the signals, and on its group's graceful
/// shutdown (the embedded server's own group follows the enclosing one).
private struct Serving: Service {
  let server: EmbeddedServer
  let ready: @Sendable (_ address: String) -> Void

  func run() async throws {
    try await self.server.run(signals: [.sigterm, .sigint], ready: self.ready)
  }
}

/// `HOST:PORT`, with `[v6]:PORT` for IPv6.
struct HostPort {
  var host: String
  var port: Int

  init(_ text: String) throws {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (0...65535).contains(port)
    else {
      throw ValidationError("expected HOST:PORT, got \(text)")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ValidationError("expected HOST:PORT, got \(text)") }
    self.host = host
    self.port = port
  }
}
