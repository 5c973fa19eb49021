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

/// One handler in flight: its lease and why (if at all) it was told to stop.
final class RunningTask: Sendable {
  private struct State {
    var reason: StopReason?
    var waiter: CheckedContinuation<StopReason?, Never>?
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

  /// Asks the handler to stop; only the first reason counts.
  func stop(_ reason: StopReason) {
    let waiter = self.state.withLock { state -> CheckedContinuation<StopReason?, Never>? in
      guard state.reason == nil else { return nil }
      state.reason = reason
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume(returning: reason)
  }

  /// Returns the stop reason once there is one, or `nil` when the waiting task is cancelled.
  func waitForStop() async -> StopReason? {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<StopReason?, Never>) in
        let immediate = self.state.withLock { state -> StopReason?? in
          if let reason = state.reason { return .some(reason) }
          if Task.isCancelled { return .some(nil) }
          state.waiter = continuation
          return .none
        }
        if let immediate { continuation.resume(returning: immediate) }
      }
    } onCancel: {
      let waiter = self.state.withLock { state in
        defer { state.waiter = nil }
        return state.waiter
      }
      waiter?.resume(returning: nil)
    }
  }
}
