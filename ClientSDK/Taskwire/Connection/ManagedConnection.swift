import Logging
import NIOCore
import NIOPosix
import Synchronization
import TaskwireProto
import TaskwireWire

/// Keeps one connection open over the configured endpoints, reconnecting with backoff
/// (``ReconnectStateMachine``) when it drops or the server says go-away. Calls ask it for the
/// current connection and wait while one is being opened.
final class ManagedConnection: Sendable {
  private struct State {
    var machine: ReconnectStateMachine
    var current: ClientConnection?
    var handshake: ClientConnection.Handshake?
    var waiters: [UInt64: CheckedContinuation<ClientConnection, any Error>] = [:]
    var nextWaiterID: UInt64 = 0
    var lastError: TaskwireError?
    var shuttingDown = false
    var backoffWakeup: CheckedContinuation<Void, Never>?
  }

  let settings: ConnectionSettings
  private let state: Mutex<State>
  private let pushHandler: (@Sendable (ClientConnection.Push) -> Void)?

  init(
    settings: ConnectionSettings,
    pushHandler: (@Sendable (ClientConnection.Push) -> Void)? = nil
  ) {
    self.settings = settings
    self.pushHandler = pushHandler
    self.state = Mutex(
      State(
        machine: ReconnectStateMachine(
          endpointCount: settings.endpoints.count,
          backoff: settings.backoff
        )
      )
    )
  }

  /// The role and limits of the current connection, if one is up.
  var handshake: ClientConnection.Handshake? {
    self.state.withLock { $0.handshake }
  }

  /// Connects, reconnects, and returns once ``beginGracefulShutdown()`` was called and the last
  /// connection drained (or the task is cancelled, which closes the connection at once).
  func run() async {
    var action = self.state.withLock { $0.machine.start() }
    while true {
      switch action {
      case .stop:
        return
      case .connect(let index):
        let endpoint = self.settings.endpoints[index]
        do {
          let (connection, handshake) = try await ConnectionFactory.connect(
            to: endpoint,
            settings: self.settings,
            pushHandler: self.pushHandler
          )
          let (usable, waiters) = self.state.withLock {
            state -> (Bool, [CheckedContinuation<ClientConnection, any Error>]) in
            if state.shuttingDown { return (false, []) }
            state.machine.connected()
            state.current = connection
            state.handshake = handshake
            state.lastError = nil
            defer { state.waiters.removeAll() }
            return (true, Array(state.waiters.values))
          }
          guard usable else {
            connection.close()
            return
          }
          self.settings.logger.debug(
            "connected",
            metadata: ["endpoint": "\(endpoint)", "connection": "\(handshake.connectionID)"]
          )
          for waiter in waiters { waiter.resume(returning: connection) }
          await withTaskCancellationHandler {
            await connection.waitUntilUnusable()
          } onCancel: {
            connection.close()
          }
          action = self.state.withLock { state in
            if state.current === connection {
              state.current = nil
              state.handshake = nil
            }
            if state.shuttingDown || Task.isCancelled {
              state.machine.shutdown()
              return .stop
            }
            return state.machine.connectionLost()
          }
          if case .stop = action {
            await connection.channel.closeFuture.get_ignoringErrors()
          } else {
            self.settings.logger.debug("connection lost; reconnecting")
          }
        } catch {
          let failure =
            (error as? TaskwireError)
            ?? .unavailable("cannot connect to \(endpoint)", cause: SendableCause(error))
          self.settings.logger.debug(
            "connect failed",
            metadata: ["endpoint": "\(endpoint)", "error": "\(failure)"]
          )
          let (next, waiters) = self.state.withLock {
            state -> (
              ReconnectStateMachine.Action, [CheckedContinuation<ClientConnection, any Error>]
            )
            in
            state.lastError = failure
            if state.shuttingDown || Task.isCancelled {
              state.machine.shutdown()
              defer { state.waiters.removeAll() }
              return (.stop, Array(state.waiters.values))
            }
            let next = state.machine.connectFailed(random: Double.random(in: 0...1))
            if case .backOff(_, true) = next {
              defer { state.waiters.removeAll() }
              return (next, Array(state.waiters.values))
            }
            return (next, [])
          }
          for waiter in waiters { waiter.resume(throwing: failure) }
          action = next
        }
      case .backOff(let delay, _):
        await self.sleep(delay)
        action = self.state.withLock { state in
          if state.shuttingDown || Task.isCancelled {
            state.machine.shutdown()
            return .stop
          }
          return state.machine.backoffElapsed()
        }
      }
    }
  }

  /// The current connection, waiting while one is being opened. Throws UNAVAILABLE when an
  /// attempt over every endpoint failed, or when the client is shutting down.
  func connection() async throws -> ClientConnection {
    if let connection = self.state.withLock({ $0.current }), connection.isUsable {
      return connection
    }
    let id = self.state.withLock { state in
      defer { state.nextWaiterID += 1 }
      return state.nextWaiterID
    }
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation {
        (continuation: CheckedContinuation<ClientConnection, any Error>) in
        enum Immediate {
          case wait
          case connection(ClientConnection)
          case error(TaskwireError)
        }
        let immediate: Immediate = self.state.withLock { state in
          if Task.isCancelled { return .error(.callCancelled) }
          if state.shuttingDown { return .error(.unavailable("the client is shutting down")) }
          if let current = state.current, current.isUsable { return .connection(current) }
          if case .backingOff = state.machine.state {
            return .error(state.lastError ?? .unavailable("the server is unreachable"))
          }
          state.waiters[id] = continuation
          return .wait
        }
        switch immediate {
        case .wait: break
        case .connection(let connection): continuation.resume(returning: connection)
        case .error(let error): continuation.resume(throwing: error)
        }
      }
    } onCancel: {
      let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
      waiter?.resume(throwing: TaskwireError.callCancelled)
    }
  }

  /// Stops new calls; the current connection closes once its unary calls are answered.
  func beginGracefulShutdown() {
    let (current, waiters, wakeup) = self.state.withLock { state in
      state.shuttingDown = true
      defer {
        state.waiters.removeAll()
        state.backoffWakeup = nil
      }
      return (state.current, Array(state.waiters.values), state.backoffWakeup)
    }
    current?.closeWhenIdle()
    wakeup?.resume()
    for waiter in waiters {
      waiter.resume(throwing: TaskwireError.unavailable("the client is shutting down"))
    }
  }

  /// Closes the current connection at once (tests use it to simulate a dropped network).
  func dropConnection() {
    self.state.withLock { $0.current }?.close()
  }

  private func sleep(_ delay: Duration) async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let proceed = self.state.withLock { state in
          if state.shuttingDown || Task.isCancelled { return true }
          state.backoffWakeup = continuation
          return false
        }
        if proceed {
          continuation.resume()
          return
        }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        eventLoop.scheduleTask(in: .milliseconds(delay.milliseconds)) {
          let wakeup = self.state.withLock { state in
            defer { state.backoffWakeup = nil }
            return state.backoffWakeup
          }
          wakeup?.resume()
        }
      }
    } onCancel: {
      let wakeup = self.state.withLock { state in
        defer { state.backoffWakeup = nil }
        return state.backoffWakeup
      }
      wakeup?.resume()
    }
  }
}

extension EventLoopFuture where Value == Void {
  fileprivate func get_ignoringErrors() async {
    _ = try? await self.get()
  }
}
