import Logging
import Synchronization

/// Why a handler is asked to stop before it returns.
enum StopReason: Sendable, Hashable {
  /// A cancel was requested (pushed notice or heartbeat reply): acknowledge with cancel-ack.
  case cancelRequested
  /// The lease is gone: drop the result, report nothing.
  case leaseLost
  /// The task's execution timeout passed: fail the attempt (retryable).
  case executionTimeout
  /// Graceful shutdown ran out of time: release the lease (no attempt used).
  case shutdown
}

/// One handler in flight: its lease, why (if at all) it was told to stop, and the Swift task
/// that runs the handler, which a stop cancels.
final class RunningTask: Sendable {
  private struct State {
    var reason: StopReason?
    var handler: Task<TaskResult, any Error>?
    var logger: Logger?
  }

  let task: LeasedTask
  private let state = Mutex(State())

  init(task: LeasedTask) {
    self.task = task
  }

  /// The first stop reason, if any.
  var stopReason: StopReason? {
    self.state.withLock { $0.reason }
  }

  /// Asks the handler to stop (its Swift task is cancelled); only the first reason counts.
  func stop(_ reason: StopReason) {
    let handler = self.state.withLock { state -> Task<TaskResult, any Error>? in
      guard state.reason == nil else { return nil }
      state.reason = reason
      return state.handler
    }
    handler?.cancel()
  }

  /// Starts `body` as the handler's Swift task at once. A ``stop(_:)``, before or during the
  /// run, cancels that task.
  func start(_ body: @escaping @Sendable () async throws -> TaskResult) {
    // Its own task, not the executor's, so that a stop cancels the handler alone (the executor
    // still reports the outcome, which needs an uncancelled task); and started here, by the lease
    // loop, so the handler does not wait for its executor task to be scheduled first.
    let handler = Task(operation: body)
    let stopped = self.state.withLock { state in
      state.handler = handler
      return state.reason != nil
    }
    if stopped { handler.cancel() }
  }

  /// How the handler ended, or `nil` when none was started. Cancelling the caller cancels it.
  func result() async -> Result<TaskResult, any Error>? {
    guard let handler = self.state.withLock({ $0.handler }) else { return nil }
    return await withTaskCancellationHandler {
      await handler.result
    } onCancel: {
      handler.cancel()
    }
  }

  /// `base` with the task's id and attempt in its metadata, made on first use.
  func logger(from base: Logger) -> Logger {
    self.state.withLock { state in
      if let logger = state.logger { return logger }
      var logger = base
      logger[metadataKey: "taskwire.task_id"] = "\(self.task.id)"
      logger[metadataKey: "taskwire.attempt"] = "\(self.task.attempt)"
      state.logger = logger
      return logger
    }
  }
}
