import Foundation
public import Logging
import ServiceLifecycle
import Synchronization
public import Taskwire
import TaskwireCoordinator
public import TaskwireRuntime
import TaskwireServer
import TaskwireSQLite

/// A real Taskwire server running in this process for tests: TLS on `127.0.0.1` with an
/// ephemeral port, a throwaway development CA, and a SQLite store in a temporary directory.
///
/// Get one with ``withTestServer(configure:logger:_:)``; ask it for client and worker
/// configurations with ``clientConfiguration(role:)``.
public final class TestServer: Sendable {
  private struct State {
    var embedded: EmbeddedServer?
    var port = 0
    var stopRequest: CheckedContinuation<Void, Never>?
    var stopRequested = false
    var stopGracefully = true
    var terminating = false
    var startRequest: CheckedContinuation<Void, Never>?
    var startRequested = false
    var readyWaiters: [CheckedContinuation<Result<Void, any Error>, Never>] = []
    var stoppedWaiters: [CheckedContinuation<Void, Never>] = []
    var running = false
    var failure: (any Error)?
  }

  /// The temporary data directory (removed when ``withTestServer(configure:logger:_:)`` ends).
  public let dataDirectory: String
  /// The host the server listens on: `127.0.0.1`.
  public let host = "127.0.0.1"
  private let options: EmbeddedServer.Options
  private let logger: Logger
  private let state = Mutex(State())

  init(options: EmbeddedServer.Options, logger: Logger) {
    self.dataDirectory = options.dataDirectory
    self.options = options
    self.logger = logger
  }

  /// The port the server listens on (the same across ``restart()``).
  public var port: Int { self.state.withLock { $0.port } }

  /// The development CA certificate clients trust.
  public var caPath: String {
    (self.dataDirectory as NSString).appendingPathComponent("tls/ca.pem")
  }

  /// The admin token written on first start.
  public func adminToken() throws -> String {
    try String(
      contentsOfFile: (self.dataDirectory as NSString).appendingPathComponent("admin.token"),
      encoding: .utf8
    ).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// A configuration for this server with a new token of `role` (trusting the test CA, with a
  /// quick reconnect backoff so tests that restart the server stay fast).
  public func clientConfiguration(role: Role = .client) async throws
    -> TaskwireClient.Configuration
  {
    let token: String
    if role == .admin {
      token = try self.adminToken()
    } else {
      guard let embedded = self.state.withLock({ $0.embedded }) else {
        throw TaskwireError(code: .unavailable, message: "the test server is stopped")
      }
      let principal: Principal.Role = role == .worker ? .worker : .client
      token = try await embedded.coordinator.createToken(
        name: "test-\(role)-\(UUID().uuidString)",
        role: principal
      ).1
    }
    var configuration = TaskwireClient.Configuration(
      host: self.host,
      port: self.port,
      tls: .init(trust: .caFile(self.caPath)),
      token: token
    )
    configuration.clientName = "taskwire-test-\(role)"
    configuration.backoff = .init(
      initial: .milliseconds(50),
      multiplier: 2,
      maximum: .milliseconds(500),
      jitter: 0.2
    )
    configuration.idempotentCallAttempts = 20
    return configuration
  }

  /// Stops the server and starts it again on the same port with the same data directory.
  ///
  /// - Parameter graceful: `true` (default) shuts down as `taskwire serve` does on SIGTERM
  ///   (go-away on every connection, long polls end UNAVAILABLE, watches end with their resume
  ///   point); `false` drops every connection at once, as a crash would.
  public func restart(graceful: Bool = true) async throws {
    await self.stop(graceful: graceful)
    try await self.start()
  }

  /// Stops the server. Clients and workers see UNAVAILABLE (or go-away) and reconnect with
  /// backoff until ``start()``.
  ///
  /// - Parameter graceful: see ``restart(graceful:)``.
  public func stop(graceful: Bool = true) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let request = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
        guard state.running else { return nil }
        state.stoppedWaiters.append(continuation)
        state.stopGracefully = graceful
        guard let request = state.stopRequest else {
          // Not waiting yet: the supervisor sees the flag when it gets there.
          state.stopRequested = true
          return nil
        }
        state.stopRequest = nil
        return request
      }
      if let request {
        request.resume()
      } else if !self.state.withLock({ $0.running }) {
        continuation.resume()
      }
    }
  }

  /// Starts a stopped server again on the same port.
  public func start() async throws {
    try await withCheckedContinuation {
      (continuation: CheckedContinuation<Result<Void, any Error>, Never>) in
      let request = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
        state.readyWaiters.append(continuation)
        state.startRequested = true
        defer { state.startRequest = nil }
        return state.startRequest
      }
      request?.resume()
    }.get()
  }

  // MARK: - Supervision (runs in withTestServer's task group)

  /// Runs the server, stopping and starting it on request, until cancelled.
  func supervise() async {
    var first = true
    while !Task.isCancelled {
      if !first {
        if self.state.withLock({ $0.terminating }) { return }
        await self.waitForRequest(start: true)
        if Task.isCancelled || self.state.withLock({ $0.terminating }) { return }
      }
      first = false
      var options = self.options
      options.port = self.state.withLock { $0.port }
      let embedded: EmbeddedServer
      do {
        embedded = try await EmbeddedServer.open(options, logger: self.logger)
      } catch {
        self.finishStart(.failure(error))
        return
      }
      let services = ServiceGroup(
        configuration: .init(
          services: [.init(service: embedded.coordinator), .init(service: embedded.server)],
          gracefulShutdownSignals: [],
          cancellationSignals: [],
          logger: self.logger
        )
      )
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          do {
            try await services.run()
          } catch {
            self.logger.debug("test server stopped", metadata: ["error": "\(error)"])
          }
          try? await embedded.store.close()
        }
        do {
          let (_, port) = try await embedded.server.listeningAddress()
          self.state.withLock { state in
            state.port = port
            state.embedded = embedded
            state.running = true
          }
          self.finishStart(.success(()))
          await self.waitForRequest(start: false)
        } catch {
          self.finishStart(.failure(error))
        }
        if self.state.withLock({ $0.stopGracefully }) && !Task.isCancelled {
          await services.triggerGracefulShutdown()
        } else {
          group.cancelAll()
        }
      }
      let waiters = self.state.withLock { state in
        state.running = false
        state.embedded = nil
        defer { state.stoppedWaiters.removeAll() }
        return state.stoppedWaiters
      }
      for waiter in waiters { waiter.resume() }
    }
  }

  /// Stops the server gracefully for good (the end of ``withTestServer(configure:logger:_:)``).
  func terminate() async {
    self.state.withLock { $0.terminating = true }
    await self.stop(graceful: true)
    let request = self.state.withLock { state in
      defer { state.startRequest = nil }
      return state.startRequest
    }
    request?.resume()
  }

  /// Waits until the server runs (or failed to start).
  func waitUntilReady() async throws {
    try await withCheckedContinuation {
      (continuation: CheckedContinuation<Result<Void, any Error>, Never>) in
      let result = self.state.withLock { state -> Result<Void, any Error>? in
        if state.running { return .success(()) }
        if let failure = state.failure { return .failure(failure) }
        state.readyWaiters.append(continuation)
        return nil
      }
      if let result { continuation.resume(returning: result) }
    }.get()
  }

  private func finishStart(_ result: Result<Void, any Error>) {
    let waiters = self.state.withLock { state in
      if case .failure(let error) = result { state.failure = error }
      state.startRequested = false
      defer { state.readyWaiters.removeAll() }
      return state.readyWaiters
    }
    for waiter in waiters { waiter.resume(returning: result) }
  }

  private func waitForRequest(start: Bool) async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let now = self.state.withLock { state in
          if Task.isCancelled { return true }
          if start {
            if state.startRequested { return true }
            state.startRequest = continuation
          } else {
            if state.stopRequested {
              state.stopRequested = false
              return true
            }
            state.stopRequest = continuation
          }
          return false
        }
        if now { continuation.resume() }
      }
    } onCancel: {
      let waiters = self.state.withLock { state in
        defer {
          state.startRequest = nil
          state.stopRequest = nil
        }
        return [state.startRequest, state.stopRequest]
      }
      for waiter in waiters { waiter?.resume() }
    }
  }
}

/// Runs `body` against a fresh in-process server (TLS on `127.0.0.1`, an ephemeral port, a
/// throwaway CA and a temporary SQLite store), then stops it and deletes its data.
///
/// ```swift
/// try await withTestServer { server in
///   let configuration = try await server.clientConfiguration(role: .client)
///   try await withTaskwireClient(configuration: configuration) { client in
///     ...
///   }
/// }
/// ```
///
/// - Parameter configure: adjusts the server's options (limits, coordinator settings) first.
public func withTestServer<Result: Sendable>(
  configure: (inout EmbeddedServer.Options) -> Void = { _ in },
  logger: Logger = Logger(
    label: "taskwire.test-server",
    factory: { _ in SwiftLogNoOpLogHandler() }
  ),
  _ body: (TestServer) async throws -> Result
) async throws -> Result {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("taskwire-test-\(UUID().uuidString)").path
  defer { try? FileManager.default.removeItem(atPath: directory) }
  var options = EmbeddedServer.Options(dataDirectory: directory)
  options.host = "127.0.0.1"
  options.port = 0
  configure(&options)
  let server = TestServer(options: options, logger: logger)
  return try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { await server.supervise() }
    // The end is a graceful stop, as `taskwire serve` does on SIGTERM; cancelling the server's
    // tasks instead is left to a cancelled test.
    do {
      try await server.waitUntilReady()
      let result = try await body(server)
      await server.terminate()
      try? await group.waitForAll()
      return result
    } catch {
      await server.terminate()
      try? await group.waitForAll()
      throw error
    }
  }
}
