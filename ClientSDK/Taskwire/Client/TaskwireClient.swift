public import Logging
public import ServiceLifecycle
import TaskwireProto
import TaskwireWire

/// A connection to a Taskwire coordinator for Swift services: submit, read, watch, cancel and
/// retry tasks, wait for results, and (with an admin token) steer queues and tokens.
///
/// Run it scoped with ``withTaskwireClient(configuration:logger:isolation:_:)`` or as a
/// `Service` in a `ServiceGroup`; there is no `close()` to forget:
///
/// ```swift
/// try await withTaskwireClient(configuration: configuration) { client in
///   let task = try await client.submit(Resize.self, input: .init(width: 64))
///   let output = try await client.result(of: task)
/// }
/// ```
///
/// One client keeps one TLS connection, multiplexes every call over it, and reconnects with
/// backoff (trying the next endpoint when one is down) after the connection drops or the server
/// says go-away.
///
/// **Concurrency.** Any number of tasks may use one client at once. The server takes at most
/// `max_concurrent_calls` calls in flight per connection (100 by default; it announces its limit
/// when the client connects), and an open watch holds one of them until it ends. Calls beyond the
/// limit wait in the client, first in first out, and go out as earlier calls finish. A waiting
/// call whose task is cancelled throws ``TaskwireError/Code/cancelled`` without being sent; when
/// the connection drops, waiting calls fail like the calls in flight.
///
/// **Failures and retries.** A call in flight when the connection drops fails with
/// ``TaskwireError/Code/unavailable``: whether a non-idempotent call took effect is then unknown.
/// Idempotent calls — ``get(_:)``, ``list(filter:pageSize:)``, ``count(filter:)``, and a submit
/// with an ``TaskOptions/idempotencyKey`` — are retried automatically on UNAVAILABLE (up to
/// ``Configuration/idempotentCallAttempts`` tries, with the reconnect backoff between them).
/// Watches resume by themselves (see ``watch(_:)``).
public final class TaskwireClient: Service, Sendable {
  let connection: ManagedConnection
  let configuration: Configuration
  let logger: Logger

  /// Creates a client; it connects once ``run()`` runs.
  ///
  /// - Throws: ``TaskwireError`` with ``TaskwireError/Code/invalidArgument`` when the TLS
  ///   material cannot be loaded or no endpoint is configured.
  public init(
    configuration: Configuration,
    logger: Logger = Logger(label: "taskwire.client")
  ) throws {
    self.configuration = configuration
    self.logger = logger
    self.connection = ManagedConnection(
      settings: try ConnectionSettings(configuration, logger: logger)
    )
  }

  /// Connects, and reconnects whenever needed, until graceful shutdown (which lets calls in
  /// flight finish) or cancellation (which closes the connection at once).
  public func run() async throws {
    await withGracefulShutdownHandler {
      await self.connection.run()
    } onGracefulShutdown: {
      self.beginGracefulShutdown()
    }
  }

  /// Stops new calls; ``run()`` returns once the calls in flight are answered.
  public func beginGracefulShutdown() {
    self.connection.beginGracefulShutdown()
  }

  /// The role of the token, once connected.
  public var role: Role? {
    self.connection.handshake.map { Role($0.role) }
  }

  // MARK: - Calls

  /// One unary call on the current connection; idempotent calls retry on UNAVAILABLE.
  func call(
    _ body: Taskwire_V1_Frame.OneOf_Body,
    idempotent: Bool
  ) async throws -> Taskwire_V1_Frame.OneOf_Body {
    var attempt = 1
    while true {
      do {
        let connection = try await self.connection.connection()
        return try await connection.unary(body)
      } catch let error as TaskwireError {
        guard idempotent, error.code == .unavailable,
          attempt < self.configuration.idempotentCallAttempts
        else { throw error }
        try await self.pause(beforeRetry: attempt)
        attempt += 1
      }
    }
  }

  /// Waits the reconnect backoff before retry number `attempt`.
  func pause(beforeRetry attempt: Int) async throws {
    let machine = ReconnectStateMachine(endpointCount: 1, backoff: self.configuration.backoff)
    let delay = machine.delay(forRound: attempt - 1, random: Double.random(in: 0...1))
    do {
      try await Task.sleep(for: delay)
    } catch {
      throw TaskwireError.callCancelled
    }
  }

  /// Closes the current connection at once, as a network failure would (for tests).
  package func dropConnectionForTesting() {
    self.connection.dropConnection()
  }
}

/// Runs a client for the duration of `body` and shuts it down gracefully when `body` returns.
///
/// ```swift
/// let configuration = TaskwireClient.Configuration(
///   host: "127.0.0.1", port: 7433,
///   tls: .init(trust: .caFile("/var/lib/taskwire/tls/ca.pem")),
///   token: token
/// )
/// try await withTaskwireClient(configuration: configuration) { client in
///   let snapshot = try await client.get(id)
/// }
/// ```
public func withTaskwireClient<Result: Sendable>(
  configuration: TaskwireClient.Configuration,
  logger: Logger = Logger(label: "taskwire.client"),
  isolation: isolated (any Actor)? = #isolation,
  _ body: (TaskwireClient) async throws -> Result
) async throws -> Result {
  let client = try TaskwireClient(configuration: configuration, logger: logger)
  return try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await client.run() }
    do {
      let result = try await body(client)
      client.beginGracefulShutdown()
      return result
    } catch {
      client.beginGracefulShutdown()
      throw error
    }
  }
}
