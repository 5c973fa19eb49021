import ArgumentParser
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import TaskwireCoordinator
import TaskwireCore
import TaskwireSQLite
import TaskwireRuntime
import TaskwireServer

/// `taskwire serve`: runs a coordinator with the embedded SQLite store.
struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the coordinator server."
  )

  @Option(name: .long, help: "Address to listen on, HOST:PORT (port 0 picks a free one).")
  var listen: String = "127.0.0.1:7433"

  @Option(name: .long, help: "Data directory: store, dev TLS material, admin token, address file.")
  var dataDir: String = "./taskwire-data"

  @Option(name: .long, help: "Store: sqlite.")
  var store: String = "sqlite"

  @Option(name: .long, help: "full (fsync before every ack) or relaxed (fsync at least every 50 ms).")
  var durability: String = "full"

  @Option(name: .long, help: "PEM certificate chain; default: a development CA in DATA_DIR/tls.")
  var tlsCert: String?

  @Option(name: .long, help: "PEM private key for --tls-cert.")
  var tlsKey: String?

  @Option(name: .long, help: "PEM CA for client certificates; turns on mutual TLS.")
  var clientCa: String?

  @Option(name: .long, help: "Largest frame in bytes (default 4 MiB).")
  var maxFrameBytes: Int = 4 * 1024 * 1024

  @Option(name: .long, help: "Largest payload or result in bytes (default 1 MiB).")
  var maxPayloadBytes: Int = 1024 * 1024

  @Option(name: .long, help: "Calls in flight per connection (default 100).")
  var maxConcurrentCalls: Int = 100

  @Option(name: .long, help: "Open connections in all (default 20000).")
  var maxConnections: Int = 20_000

  @Option(name: .long, help: "Open connections per client address (default 1024).")
  var maxConnectionsPerAddress: Int = 1_024

  @Option(name: .long, help: "TLS handshake + hello timeout in ms (default 10000).")
  var handshakeTimeoutMs: Int64 = 10_000

  @Option(name: .long, help: "A started frame must complete within this many ms (default 30000).")
  var frameTimeoutMs: Int64 = 30_000

  @Option(name: .long, help: "Close connections idle this many ms (default 300000).")
  var idleTimeoutMs: Int64 = 300_000

  @Option(name: .long, help: "Pending tasks per queue (default 1000000).")
  var maxPendingPerQueue: Int = 1_000_000

  @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
  var logLevel: String = "info"

  func validate() throws {
    guard ["full", "relaxed"].contains(self.durability) else {
      throw ValidationError("--durability must be full or relaxed, got \(self.durability)")
    }
    guard self.store == "sqlite" else {
      throw ValidationError("--store must be sqlite (PostgreSQL arrives in a later release), got \(self.store)")
    }
    guard (self.tlsCert == nil) == (self.tlsKey == nil) else {
      throw ValidationError("--tls-cert and --tls-key go together")
    }
    _ = try HostPort(self.listen)
  }

  func run() async throws {
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = Logger.Level(rawValue: self.logLevel) ?? .info
      return handler
    }
    let logger = Logger(label: "taskwire")
    let address = try HostPort(self.listen)
    var options = EmbeddedServer.Options(dataDirectory: self.dataDir)
    options.host = address.host
    options.port = address.port
    options.durability = self.durability == "relaxed" ? .relaxed : .full
    options.maxPendingPerQueue = self.maxPendingPerQueue
    if let cert = self.tlsCert, let key = self.tlsKey {
      options.tls = .init(certificateChainPath: cert, privateKeyPath: key, clientCAPath: self.clientCa)
    }
    options.clientCAPath = self.clientCa
    options.limits.maxFrameBytes = self.maxFrameBytes
    options.limits.maxPayloadBytes = self.maxPayloadBytes
    options.limits.maxConcurrentCalls = self.maxConcurrentCalls
    options.limits.maxConnections = self.maxConnections
    options.limits.maxConnectionsPerAddress = self.maxConnectionsPerAddress
    options.limits.handshakeTimeout = .milliseconds(self.handshakeTimeoutMs)
    options.limits.frameTimeout = .milliseconds(self.frameTimeoutMs)
    options.limits.idleTimeout = .milliseconds(self.idleTimeoutMs)

    let server = try await EmbeddedServer.open(options, logger: logger)
    try await server.run(signals: [.sigterm, .sigint]) { bound in
      let banner = """
        Taskwire \(taskwireServerVersion) listening on \(bound)
          data dir:    \(server.dataDirectory)
          store:       sqlite (\(server.storePath))
          durability:  \(self.durability)
          TLS CA:      \(server.caPath ?? "(configured certificate)")
          admin token: \(server.adminTokenPath)
        """
      FileHandle.standardError.write(Data((banner + "\n").utf8))
    }
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
