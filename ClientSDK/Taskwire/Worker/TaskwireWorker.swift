import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
import TaskwireProto
import TaskwireWire

/// Runs task handlers: leases tasks of the registered types with a long poll, runs each handler
/// in one of its lanes (Swift tasks that run leased tasks one after another), heartbeats, and
/// completes or fails each task by how its handler ends.
///
/// ```swift
/// let worker = try TaskwireWorker(configuration: .init(connection: configuration))
/// worker.register(Resize.self) { input, context in
///   try await context.progress(50, "half way")
///   return .init(url: try await resize(input))
/// }
/// try await worker.run()   // or add it to a ServiceGroup
/// ```
///
/// - A handler that returns completes the task with its output; one that throws fails the
///   attempt (retried by the task's policy), ``NonRetryableError`` fails it for good, and
///   ``RetryLaterError`` retries after its delay.
/// - Heartbeats go out every third of the lease duration while a handler runs.
/// - Completions that finish while another is on the wire go together in one
///   `CompleteBatchRequest`; each task's slot frees once its own item is acknowledged.
/// - The handler's Swift task is cancelled when a cancel is requested (the worker then
///   acknowledges it and the task ends `CANCELLED`), when its execution timeout passes (the
///   attempt fails), or when the lease is lost (its result is dropped: another worker owns it).
/// - Graceful shutdown stops leasing, lets running handlers finish within
///   ``Configuration/shutdownTimeout``, then cancels the rest and releases their leases, so no
///   attempt is used. Cancelling ``run()`` instead aborts: handlers are cancelled and nothing
///   more is sent; their leases expire on the server.
public final class TaskwireWorker: Service, Sendable {
  /// A handler of raw bytes.
  public typealias RawHandler = @Sendable (LeasedTask, TaskContext) async throws -> TaskResult

  let configuration: Configuration
  let logger: Logger
  let connection: ManagedConnection
  let state: WorkerState
  let timers = HandlerTimers()
  /// Completions in flight and those waiting for the next batch.
  let completions = CompletionBatcher()
  private let handlers = Mutex<[String: RawHandler]>([:])

  /// Creates a worker; register handlers, then ``run()`` it.
  ///
  /// - Throws: ``TaskwireError`` `invalidArgument` when the TLS material cannot be loaded.
  public init(
    configuration: Configuration,
    logger: Logger = Logger(label: "taskwire.worker")
  ) throws {
    self.configuration = configuration
    self.logger = logger
    let state = WorkerState(capacity: configuration.maxConcurrentTasks)
    self.state = state
    var connectionConfiguration = configuration.connection
    if connectionConfiguration.clientName == "taskwire-swift" {
      connectionConfiguration.clientName = "taskwire-swift-worker"
    }
    self.connection = ManagedConnection(
      settings: try ConnectionSettings(connectionConfiguration, logger: logger),
      pushHandler: { push in
        switch push {
        case .cancelNotice(let taskID, let leaseToken, _):
          if let running = state.running(TaskID(taskID)),
            leaseToken.isEmpty || running.task.leaseToken == leaseToken
          {
            running.stop(.cancelRequested)
          }
        }
      }
    )
  }

  /// Registers a typed handler for `definition`: its input is decoded from JSON (a payload that
  /// does not decode fails the task for good) and its output encoded as JSON.
  public func register<Definition: TaskDefinition>(
    _ definition: Definition.Type,
    handler: @escaping @Sendable (Definition.Input, TaskContext) async throws -> Definition.Output
  ) {
    self.register(type: Definition.name) { task, context in
      let input: Definition.Input
      do {
        input = try TaskCoding.decode(
          Definition.Input.self,
          from: task.payload,
          what: "input of \(Definition.name)"
        )
      } catch {
        throw NonRetryableError("the payload does not decode as \(Definition.Input.self)")
      }
      let output = try await handler(input, context)
      return TaskResult(
        try TaskCoding.encode(output, what: "output of \(Definition.name)"),
        contentType: TaskCoding.contentType
      )
    }
  }

  /// Registers a raw handler for the task type `type`.
  public func register(type: String, handler: @escaping RawHandler) {
    self.handlers.withLock { $0[type] = handler }
  }

  /// Leases and runs tasks until graceful shutdown (drains) or cancellation (aborts).
  ///
  /// - Throws: ``TaskwireError`` `invalidArgument` when no handler is registered.
  public func run() async throws {
    let types = self.handlers.withLock { Array($0.keys) }.sorted()
    guard !types.isEmpty else {
      throw TaskwireError(code: .invalidArgument, message: "the worker has no handlers")
    }
    await withGracefulShutdownHandler {
      await withDiscardingTaskGroup { group in
        group.addTask { await self.connection.run() }
        await self.work(types: types)
        self.connection.beginGracefulShutdown()
      }
    } onGracefulShutdown: {
      self.beginGracefulShutdown()
    }
  }

  /// Stops leasing; running handlers get ``Configuration/shutdownTimeout`` to finish.
  public func beginGracefulShutdown() {
    self.state.beginStopping()
  }

  /// Closes the worker's connection at once, as a crash or network failure would (for tests).
  package func dropConnectionForTesting() {
    self.connection.dropConnection()
  }

  func handler(for type: String) -> RawHandler? {
    self.handlers.withLock { $0[type] }
  }

  // MARK: - Leasing

  private func work(types: [String]) async {
    await withDiscardingTaskGroup { group in
      group.addTask {
        await self.timers.run { running in try? await self.heartbeat(running, progress: nil) }
      }
      await withDiscardingTaskGroup { handlers in
        // The lease loop runs here, in the group's own task, and hands each task to a lane as
        // its answer arrives; the handler runs in that lane's task (``Lanes``).
        let lanes = Lanes()
        var failures = 0
        while let tasks = await self.lease(types: types, failures: &failures) {
          for task in tasks {
            let launched = self.launch(LeasedTask(task))
            if lanes.push(launched) { handlers.addTask { await self.runLane(lanes) } }
          }
        }
        lanes.finish()
        await self.drain()
      }
      // Every handler ended: stop the timer loop.
      group.cancelAll()
    }
  }

  /// Runs leased tasks until leasing has stopped and none is left, or until a stop cancels
  /// this lane's task (the lane then ends after that task; ``Lanes`` keeps enough others).
  private func runLane(_ lanes: Lanes) async {
    while let (running, refusal) = await lanes.next() {
      let cancelledByStop = await self.execute(running, refusal: refusal)
      lanes.done(ending: cancelledByStop)
      if cancelledByStop { return }
    }
  }

  /// Leases as many tasks as slots are free, with a long poll; `nil` once the worker stops or
  /// its task is cancelled. Failures back off and try again.
  private func lease(
    types: [String],
    failures: inout Int
  ) async -> [Taskwire_V1_LeasedTask]? {
    while true {
      guard await self.state.waitForFreeSlots() > 0, !Task.isCancelled else { return nil }
      // Completions acknowledged in one read burst free their slots one after another: let the
      // rest of them land first, so one lease call covers every slot they free.
      await Task.yield()
      let free = max(1, self.state.freeSlots)
      var request = Taskwire_V1_LeaseRequest()
      request.queues = self.configuration.queues
      request.types = types
      request.maxTasks = UInt32(min(free, 256))
      request.waitMs = min(self.configuration.pollWait.milliseconds, 60_000)
      do {
        let connection = try await self.connection.connection()
        let id = connection.reserveCallID()
        // Graceful shutdown cancels the long poll; its answer (tasks it was granted meanwhile,
        // or CANCELLED) still comes, and granted tasks are released by their executors.
        guard self.state.leaseLoopWaits(cancel: { connection.cancelReservedCall(id) }) else {
          return nil
        }
        defer { self.state.leaseLoopWaitEnded() }
        let answer = try await connection.unary(.leaseRequest(request), callID: id)
        guard case .leaseResponse(let response) = answer else {
          throw unexpectedAnswer(answer, expected: "lease_response")
        }
        failures = 0
        self.state.reserve(response.tasks.count)
        return response.tasks
      } catch let error as TaskwireError where error.code == .cancelled {
        continue
      } catch {
        failures += 1
        if (error as? TaskwireError)?.code != .unavailable {
          self.logger.error("lease failed", metadata: ["error": "\(error)"])
        }
        let machine = ReconnectStateMachine(
          endpointCount: 1,
          backoff: self.configuration.connection.backoff
        )
        let delay = machine.delay(forRound: min(failures - 1, 30), random: .random(in: 0...1))
        guard await self.pause(for: delay) else { return nil }
      }
    }
  }

  /// Sleeps for `delay` unless the worker begins stopping or its task is cancelled first;
  /// `false` when it does.
  private func pause(for delay: Duration) async -> Bool {
    let sleep = Task { try await Task.sleep(for: delay) }
    guard self.state.leaseLoopWaits(cancel: { sleep.cancel() }) else {
      sleep.cancel()
      return false
    }
    defer { self.state.leaseLoopWaitEnded() }
    let slept = await withTaskCancellationHandler {
      await sleep.result
    } onCancel: {
      sleep.cancel()
    }
    guard case .success = slept else { return false }
    return true
  }

  /// After leasing stopped: waits for the handlers within the shutdown timeout, then asks the
  /// rest to stop (they release their leases).
  private func drain() async {
    let timeout = self.configuration.shutdownTimeout
    await withTaskGroup(of: Bool.self) { group in
      group.addTask {
        await self.state.waitUntilIdle()
        return true
      }
      group.addTask {
        try? await Task.sleep(for: timeout)
        return false
      }
      let idle = await group.next() ?? true
      group.cancelAll()
      if !idle {
        self.logger.info("shutdown timeout: cancelling running handlers and releasing leases")
        self.state.stopAll(.shutdown)
      }
    }
  }
}

extension LeasedTask {
  init(_ task: Taskwire_V1_LeasedTask) {
    self.init(
      id: TaskID(task.id),
      queue: task.queue,
      type: task.type,
      payload: task.payload,
      contentType: task.contentType,
      attempt: task.attempt,
      maxAttempts: task.maxAttempts,
      metadata: task.metadata,
      parent: task.parentID.isEmpty ? nil : TaskID(task.parentID),
      priority: task.priority,
      leaseDuration: .milliseconds(task.leaseDurationMs > 0 ? task.leaseDurationMs : 30_000),
      executionTimeout: task.executionTimeoutMs > 0
        ? .milliseconds(task.executionTimeoutMs) : nil,
      leaseToken: task.leaseToken
    )
  }
}
