import Synchronization
import TaskwireCoordinator

/// A one-shot signal that cuts one call short: a peer's `cancel_call` or a shutdown fires it.
///
/// A watch races its stream against ``wait()``. A long poll registers what ends its wait with
/// ``onFire(_:)`` (a ``LongPollInterrupt``), so it needs no second task racing it.
final class CallCancellation: LongPollInterrupt {
  /// Why a call was cut short.
  enum Reason: Sendable {
    /// The client sent CancelCall (or went away): the answer is CANCELLED.
    case cancelledByClient
    /// The server is shutting down: the answer is UNAVAILABLE.
    case shutdown
  }

  private struct State {
    /// Set by the first ``fire(_:)``.
    var reason: Reason?
    /// ``wait()`` returns at once: the signal fired, or a waiter was cancelled.
    var released = false
    var waiter: CheckedContinuation<Void, Never>?
    var handler: (@Sendable () -> Void)?
  }

  private let state = Mutex(State())

  /// Why the signal fired, or `nil` while it has not.
  var reason: Reason? { self.state.withLock { $0.reason } }

  /// Whether the signal has fired.
  var hasFired: Bool { self.reason != nil }

  /// Fires the signal: a pending `wait()` returns, later ones return at once, and the registered
  /// handler runs. The first reason sticks; later fires do nothing more.
  func fire(_ reason: Reason = .cancelledByClient) {
    let (waiter, handler) = self.state.withLock { state in
      guard state.reason == nil else {
        return (CheckedContinuation<Void, Never>?.none, (@Sendable () -> Void)?.none)
      }
      state.reason = reason
      state.released = true
      defer {
        state.waiter = nil
        state.handler = nil
      }
      return (state.waiter, state.handler)
    }
    waiter?.resume()
    handler?()
  }

  /// Runs `handler` once when the signal fires, at once when it has fired already. Replaces a
  /// handler registered before that has not run.
  func onFire(_ handler: @escaping @Sendable () -> Void) {
    let firedAlready = self.state.withLock { state -> Bool in
      guard state.reason == nil else { return true }
      state.handler = handler
      return false
    }
    if firedAlready { handler() }
  }

  /// Returns once the signal fires (or the waiting task is cancelled).
  func wait() async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let resumeNow = self.state.withLock { state -> Bool in
          guard !state.released, state.waiter == nil else { return true }
          state.waiter = continuation
          return false
        }
        if resumeNow { continuation.resume() }
      }
    } onCancel: {
      self.wake()
    }
  }

  /// Resumes a pending `wait()` without recording a reason (the waiter itself was cancelled).
  private func wake() {
    let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
      state.released = true
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume()
  }
}
