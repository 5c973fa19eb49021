import Foundation
public import Logging
import Synchronization
public import TaskwireCore
public import TaskwireStore

/// The coordinator: validates calls with the task rules, runs them as atomic store operations,
/// parks and wakes long-polling leases, keeps the worker registry and the watch hub, and sweeps
/// expired leases and due tasks (see ``run()``).
///
/// It knows nothing of the network: the server turns frames into these calls and back.
public final class Coordinator: Sendable {
  /// The store every operation goes through.
  public let store: any TaskStore
  let clock: any WallClock
  let configuration: Configuration
  let logger: Logger
  let dispatcher = Dispatcher()
  let workers = WorkerRegistry()
  let progress = ProgressCoalescer()
  let sweeperWake = Mutex<Signal?>(nil)
  /// Fans committed events out to watch streams.
  public let watchHub: WatchHub
  let hooks = Mutex(Hooks())

  struct Hooks {
    var cancelRequested:
      (
        @Sendable (_ workerID: String, _ taskID: String, _ leaseToken: String, _ reason: String) ->
          Void
      )?
    var tokenRevoked: (@Sendable (_ tokenID: String) -> Void)?
  }

  /// Creates a coordinator over `store`. Connect the store's commit listener to ``relay``'s
  /// listener before the store opens, so the coordinator sees every commit.
  public init(
    store: any TaskStore,
    relay: CommitRelay,
    clock: any WallClock = SystemWallClock(),
    configuration: Configuration = Configuration(),
    logger: Logger
  ) {
    self.store = store
    self.clock = clock
    self.configuration = configuration
    self.logger = logger
    self.watchHub = WatchHub(store: store, logger: logger)
    relay.attach { [weak self] events in self?.committed(events) }
  }

  /// Called by the server: how to push a cancel notice to the worker holding a task.
  public func onCancelRequested(
    _ hook:
      @escaping @Sendable (
        _ workerID: String, _ taskID: String, _ leaseToken: String, _ reason: String
      ) -> Void
  ) {
    self.hooks.withLock { $0.cancelRequested = hook }
  }

  /// Called by the server: how to close the connections of a revoked token.
  public func onTokenRevoked(_ hook: @escaping @Sendable (_ tokenID: String) -> Void) {
    self.hooks.withLock { $0.tokenRevoked = hook }
  }

  /// The current time in Unix ms, from the injected clock.
  public var nowMs: Int64 { self.clock.nowMillis() }

  /// The suggested heartbeat interval: a third of the default lease.
  public var heartbeatIntervalMs: Int64 {
    self.configuration.defaults.resolve(queue: "default", type: "").leaseDurationMs / 3
  }

  // MARK: Events

  /// Every commit's events, in sequence order: wake leases, arm the sweeper, feed watchers.
  func committed(_ events: [EventRecord]) {
    var ready: [String: Int] = [:]
    var earliestDue: Int64 = .max
    for event in events {
      if event.state == .pending, event.kind == .created || event.kind == .stateChanged {
        ready[event.queue, default: 0] += 1
      }
      if event.nextRunMs > 0, event.state == .scheduled || event.state == .retrying {
        earliestDue = min(earliestDue, event.nextRunMs)
      }
      if event.state.isFinished || event.kind == .deleted {
        self.progress.forget(event.taskID)
      }
    }
    for (queue, count) in ready {
      self.dispatcher.tasksReady(in: queue, count: count)
    }
    if earliestDue != .max {
      self.sweeperWake.withLock { $0 }?.fire()
    }
    self.watchHub.publish(events)
  }

  // MARK: Authentication and tokens

  /// The principal of an API token, or `nil` for unknown and revoked tokens alike.
  public func authenticate(token: String) async -> Principal? {
    guard !token.isEmpty, token.utf8.count <= 256 else { return nil }
    guard let record = try? await self.store.token(hash: Self.hash(token: token)) else {
      return nil
    }
    return Principal(tokenID: record.id, tokenName: record.name, role: record.role.principalRole)
  }

  /// Creates a token; the secret is returned once and stored only as a SHA-256 hash.
  public func createToken(name: String, role: Principal.Role) async throws(CallError) -> (
    TokenRecord, String
  ) {
    guard !name.isEmpty, name.utf8.count <= self.configuration.maxNameBytes else {
      throw CallError(
        .invalidArgument,
        "token name must be 1 to \(self.configuration.maxNameBytes) bytes"
      )
    }
    let secret = "tw_" + randomHex(bytes: 24)
    let record = try await self.perform {
      try await self.store.createToken(
        name: name,
        role: role.tokenRole,
        hash: Self.hash(token: secret),
        nowMs: self.nowMs
      )
    }
    return (record, secret)
  }

  /// Every token, active and revoked (hashes are never shown).
  public func listTokens() async throws(CallError) -> [TokenRecord] {
    try await self.perform { try await self.store.listTokens() }
  }

  /// Revokes a token by id or name and closes its open connections at once.
  public func revokeToken(_ idOrName: String) async throws(CallError) {
    let revoked = try await self.perform {
      try await self.store.revokeToken(idOrName: idOrName, nowMs: self.nowMs)
    }
    self.hooks.withLock { $0.tokenRevoked }?(revoked.id)
  }

  /// On a new data directory: creates the admin token and returns its secret; `nil` when tokens
  /// exist already.
  public func bootstrapAdminToken() async throws -> String? {
    let existing = try await self.store.listTokens()
    guard existing.isEmpty else { return nil }
    let (_, secret) = try await self.createToken(name: "admin", role: .admin)
    return secret
  }

  static func hash(token: String) -> String {
    SHA256.hexHash(Array(token.utf8))
  }

  /// Runs a store operation, turning store errors into call errors.
  func perform<T>(_ operation: () async throws -> T) async throws(CallError) -> T {
    do {
      return try await operation()
    } catch let error as StoreError {
      throw CallError(error)
    } catch let error as CallError {
      throw error
    } catch {
      throw CallError(.internal, "store failure: \(error)")
    }
  }
}

/// Forwards the store's commit notifications to the coordinator, which exists only after the
/// store: create the relay first, give the store `relay.listener`, then the coordinator the relay.
///
/// The target sits in a class box: a closure kept directly in a `Mutex` and read back with
/// `withLock { $0 }` is re-wrapped in a new reabstraction thunk on every read (Swift 6.3), so
/// each commit walked a longer chain until the writer thread's stack overflowed.
public final class CommitRelay: Sendable {
  private final class Target: Sendable {
    let deliver: @Sendable ([EventRecord]) -> Void
    init(_ deliver: @escaping @Sendable ([EventRecord]) -> Void) { self.deliver = deliver }
  }

  private let target = Mutex<Target?>(nil)

  public init() {}

  /// The closure to pass as the store's commit listener.
  public var listener: @Sendable ([EventRecord]) -> Void {
    { [self] events in self.target.withLock { $0 }?.deliver(events) }
  }

  func attach(_ target: @escaping @Sendable ([EventRecord]) -> Void) {
    self.target.withLock { $0 = Target(target) }
  }
}

/// `bytes` random bytes as lowercase hex.
func randomHex(bytes: Int) -> String {
  var generator = SystemRandomNumberGenerator()
  var text = ""
  for _ in 0..<bytes {
    let byte = UInt8.random(in: 0...255, using: &generator)
    text += String(byte >> 4, radix: 16) + String(byte & 0xF, radix: 16)
  }
  return text
}

extension TokenRecord.Role {
  var principalRole: Principal.Role {
    switch self {
    case .client: .client
    case .worker: .worker
    case .admin: .admin
    }
  }
}

extension Principal.Role {
  var tokenRole: TokenRecord.Role {
    switch self {
    case .client: .client
    case .worker: .worker
    case .admin: .admin
    }
  }
}
