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

/// One handler in flight: its lease, why (if at all) it was told to stop, and the handler,
/// which runs in the Swift task of the lane that took it (``run()``, ``Lanes``) and which a
/// stop cancels.
///
/// The handler has no Swift task of its own: a task per leased task costs an allocation too
/// large for malloc's per-thread cache, a scheduling and an await. A stop cancels the lane's
/// task (called the executor's here) instead, through the handle ``run()`` keeps while the
/// handler runs (the task is alive then); the executor then reports from a fresh task, since a
/// cancelled one cannot, and its lane ends.
final class RunningTask: Sendable {
  private struct State {
    var reason: StopReason?
    var body: (@Sendable () async throws -> TaskResult)?
    /// The executor's task while it runs the handler, and only then.
    var executor: ExecutorTask?
    /// Whether a stop cancelled the executor's task (its cancellation is then ours, not an
    /// abort of the whole worker).
    var cancelledByStop = false
    var logger: Logger?
  }

  /// The executor's task, held only while it runs the handler, when it is certain to be alive:
  /// ``run()`` clears it under the same lock before the handler's phase ends.
  private struct ExecutorTask: @unchecked Sendable {
    let task: UnsafeCurrentTask
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

  /// Asks the handler to stop (its executor's task is cancelled while it runs, or it starts
  /// cancelled); only the first reason counts.
  func stop(_ reason: StopReason) {
    self.state.withLock { state in
      guard state.reason == nil else { return }
      state.reason = reason
      if let executor = state.executor {
        state.cancelledByStop = true
        // Under the lock: `run()` cannot leave the handler's phase (and its task end) meanwhile.
        // Cancelling runs the handler's cancellation handlers here; none of the SDK's calls
        // back into this lock.
        executor.task.cancel()
      }
    }
  }

  /// Registers the handler, to run when the executor calls ``run()``.
  func start(_ body: @escaping @Sendable () async throws -> TaskResult) {
    self.state.withLock { $0.body = body }
  }

  /// Runs the handler in the calling task and returns how it ended, and whether a stop
  /// cancelled the calling task; `nil` when none was registered. A stop before the start
  /// starts it cancelled.
  func run() async -> (result: Result<TaskResult, any Error>, cancelledByStop: Bool)? {
    let body = withUnsafeCurrentTask { current in
      self.state.withLock { state -> (@Sendable () async throws -> TaskResult)? in
        guard let body = state.body, let current else { return state.body }
        state.executor = ExecutorTask(task: current)
        if state.reason != nil {
          state.cancelledByStop = true
          current.cancel()
        }
        return body
      }
    }
    guard let body else { return nil }
    let result: Result<TaskResult, any Error>
    do {
      result = .success(try await body())
    } catch {
      result = .failure(error)
    }
    let cancelledByStop = self.state.withLock { state in
      state.executor = nil
      state.body = nil
      return state.cancelledByStop
    }
    return (result, cancelledByStop)
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
