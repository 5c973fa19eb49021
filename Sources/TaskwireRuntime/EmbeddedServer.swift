public import Logging
import NIOCore
import ServiceLifecycle
public import UnixSignals
import Foundation
public import TaskwireCoordinator
public import TaskwireCore
public import TaskwireServer
public import TaskwireSQLite
public import TaskwireStore

/// The version `taskwire serve` reports.
public let taskwireServerVersion = "0.1.0"

/// A whole single-node Taskwire: the SQLite store in a data directory, the coordinator and the
/// TLS server, wired together. `taskwire serve` and the in-process test server both run this.
///
/// Data directory layout (CONTRACT.md): `taskwire.sqlite` (+ WAL), `admin.token` (0600),
/// `tls/ca.pem`, `tls/ca-key.pem`, `tls/server.pem`, `tls/server-key.pem`, and `address` (the
/// bound `host:port`, written once listening).
public final class EmbeddedServer: Sendable {
  /// What to open.
  public struct Options: Sendable {
    public var dataDirectory: String
    public var host = "127.0.0.1"
    public var port = 7433
    /// `nil`: development TLS material in `DATA_DIR/tls`, made on first start.
    public var tls: TaskwireServer.Configuration.TLS?
    /// Client CA for mutual TLS with the development certificate.
    public var clientCAPath: String?
    public var durability: SQLiteTaskStore.Durability = .full
    /// Pending limits, retention of finished tasks, events and idempotency keys.
    public var storePolicy = StorePolicy()
    /// Pending tasks per queue (default 1,000,000).
    public var maxPendingPerQueue: Int {
      get { self.storePolicy.pendingLimit }
      set { self.storePolicy.pendingLimit = newValue }
    }
    public var limits = TaskwireServer.Configuration.Limits()
    public var coordinator = Coordinator.Configuration()
    public var clock: any WallClock = SystemWallClock()

    public init(dataDirectory: String) {
      self.dataDirectory = dataDirectory
    }
  }

  public let dataDirectory: String
  public let storePath: String
  public let adminTokenPath: String
  /// The development CA clients trust, when the development TLS material is used.
  public let caPath: String?
  public let store: SQLiteTaskStore
  public let coordinator: Coordinator
  public let server: TaskwireServer
  private let logger: Logger

  private init(
    dataDirectory: String,
    storePath: String,
    caPath: String?,
    store: SQLiteTaskStore,
    coordinator: Coordinator,
    server: TaskwireServer,
    logger: Logger
  ) {
    self.dataDirectory = dataDirectory
    self.storePath = storePath
    self.adminTokenPath = (dataDirectory as NSString).appendingPathComponent("admin.token")
    self.caPath = caPath
    self.store = store
    self.coordinator = coordinator
    self.server = server
    self.logger = logger
  }

  /// Opens the store (running migrations), prepares TLS material and the admin token.
  public static func open(_ options: Options, logger: Logger) async throws -> EmbeddedServer {
    let directory = (options.dataDirectory as NSString).standardizingPath
    try FileManager.default.createDirectory(
      atPath: directory,
      withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700]
    )
    var tls = options.tls
    var caPath: String?
    if tls == nil {
      let development = try DevelopmentTLS.prepare(in: directory)
      tls = .init(
        certificateChainPath: development.certificatePath,
        privateKeyPath: development.privateKeyPath,
        clientCAPath: options.clientCAPath
      )
      caPath = development.caPath
      logger.info(
        "development TLS: clients trust this CA",
        metadata: ["ca": "\(development.caPath)"]
      )
    }
    let relay = CommitRelay()
    let storePath = (directory as NSString).appendingPathComponent("taskwire.sqlite")
    var storeConfiguration = SQLiteTaskStore.Configuration(path: storePath)
    storeConfiguration.durability = options.durability
    storeConfiguration.policy = options.storePolicy
    // A lease's answer must fit in a frame, with room for its other fields.
    storeConfiguration.policy.maxLeaseBytes = min(
      options.storePolicy.maxLeaseBytes,
      options.limits.maxFrameBytes * 3 / 4
    )
    storeConfiguration.onCommit = relay.listener
    storeConfiguration.logger = logger
    let store = try await SQLiteTaskStore(configuration: storeConfiguration)
    var coordinatorConfiguration = options.coordinator
    coordinatorConfiguration.maxPayloadBytes = options.limits.maxPayloadBytes
    let coordinator = Coordinator(
      store: store,
      relay: relay,
      clock: options.clock,
      configuration: coordinatorConfiguration,
      logger: logger
    )
    let tokenPath = (directory as NSString).appendingPathComponent("admin.token")
    if let secret = try await coordinator.bootstrapAdminToken() {
      try writeFile(secret + "\n", to: tokenPath, mode: 0o600)
      logger.info("created the admin token", metadata: ["file": "\(tokenPath)"])
    }
    var serverConfiguration = TaskwireServer.Configuration(
      host: options.host,
      port: options.port,
      tls: tls!
    )
    serverConfiguration.limits = options.limits
    let server = TaskwireServer(
      configuration: serverConfiguration,
      coordinator: coordinator,
      logger: logger
    )
    return EmbeddedServer(
      dataDirectory: directory,
      storePath: storePath,
      caPath: caPath,
      store: store,
      coordinator: coordinator,
      server: server,
      logger: logger
    )
  }

  /// Runs coordinator and server until a signal (or cancellation); writes `DATA_DIR/address` and
  /// calls `ready` once listening; closes the store at the end.
  public func run(
    signals: [UnixSignal] = [],
    ready: @escaping @Sendable (_ address: String) -> Void = { _ in }
  ) async throws {
    let group = ServiceGroup(
      configuration: .init(
        services: [
          .init(service: self.coordinator),
          .init(service: self.server),
          .init(service: AddressWriter(embedded: self, ready: ready)),
        ],
        gracefulShutdownSignals: signals,
        cancellationSignals: [],
        logger: self.logger
      )
    )
    do {
      try await group.run()
    } catch {
      try? await self.store.close()
      throw error
    }
    try await self.store.close()
  }

  /// The bound address as `host:port`.
  public func boundAddress() async throws -> String {
    let (host, port) = try await self.server.listeningAddress()
    return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
  }
}

/// Writes `DATA_DIR/address` once the server listens, then idles until shutdown.
private struct AddressWriter: Service {
  let embedded: EmbeddedServer
  let ready: @Sendable (String) -> Void

  func run() async throws {
    let address = try await self.embedded.boundAddress()
    try writeFile(
      address + "\n",
      to: (self.embedded.dataDirectory as NSString).appendingPathComponent("address"),
      mode: 0o644
    )
    self.ready(address)
    try? await gracefulShutdown()
  }
}
