import Synchronization

/// A one-shot signal that lets the connection cancel one call's child task: the call races its
/// work against `wait()` and stops at whichever finishes first.
final class CallCancellation: Sendable {
  /// Why a call was cut short.
  enum Reason: Sendable {
    /// The client sent CancelCall (or went away): the answer is CANCELLED.
    case cancelledByClient
    /// The server is shutting down: the answer is UNAVAILABLE.
    case shutdown
  }

  private enum State {
    case idle
    case waiting(CheckedContinuation<Void, Never>)
    case fired
  }

  private let state = Mutex(State.idle)
  private let firedReason = Mutex<Reason?>(nil)

  /// Why the signal fired, or `nil` while it has not.
  var reason: Reason? { self.firedReason.withLock { $0 } }

  /// Fires the signal; later and pending `wait()`s return at once. The first reason sticks.
  func fire(_ reason: Reason = .cancelledByClient) {
    self.firedReason.withLock { if $0 == nil { $0 = reason } }
    let continuation = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
      defer { state = .fired }
      if case .waiting(let continuation) = state { return continuation }
      return nil
    }
    continuation?.resume()
  }

  /// Returns once the signal fires (or the waiting task is cancelled).
  func wait() async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let resumeNow = self.state.withLock { state -> Bool in
          switch state {
          case .idle:
            state = .waiting(continuation)
            return false
          case .waiting, .fired:
            return true
          }
        }
        if resumeNow { continuation.resume() }
      }
    } onCancel: {
      self.wake()
    }
  }
}

extension CallCancellation {
  /// Resumes a pending `wait()` without recording a reason (the waiter itself was cancelled).
  fileprivate func wake() {
    let continuation = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
      defer { state = .fired }
      if case .waiting(let continuation) = state { return continuation }
      return nil
    }
    continuation?.resume()
  }
}

/// Runs `work`; when `cancellation` fires first, cancels it and still waits for its answer, which
/// is returned only when `mustDeliver` says the client cannot do without it (a lease that was
/// granted tasks before the cancel reached it: the worker must learn it holds them). Otherwise
/// returns `nil`, and the caller answers with the cancellation's status.
func runCancellable<T: Sendable>(
  _ work: @escaping @Sendable () async -> T,
  cancelledBy cancellation: CallCancellation,
  mustDeliver: @Sendable (T) -> Bool
) async -> T? {
  await withTaskGroup(of: T?.self) { group in
    group.addTask { await work() }
    group.addTask {
      await cancellation.wait()
      return nil
    }
    if let first = await group.next(), let answer = first {
      group.cancelAll()
      return answer
    }
    // Cancelled first: the work may have finished in the same instant, or may be handing over
    // what it already took; its answer decides.
    group.cancelAll()
    while let next = await group.next() {
      if let answer = next { return mustDeliver(answer) ? answer : nil }
    }
    return nil
  }
}
