import Dispatch
import Synchronization

/// One long-polling lease waiting inside a store that can grant it tasks in the same transaction
/// that makes them ready (see ``TaskStore/leaseWaiting(queues:types:max:workerID:nowMs:until:wait:)``):
/// a submit then reaches a waiting worker with one commit instead of two.
///
/// The caller creates it and may ``withdraw()`` it at any time (shutdown, its call ended); the
/// store claims it while it tries to serve it inside an open transaction, and resolves it once,
/// after the commit, with the grants or an error. A wait withdrawn while claimed is resolved by
/// the store when the claim ends: with the grants if the transaction gave it some (the caller
/// hands them back when it no longer wants them), else with none.
public final class LeaseWait: Sendable {
  private struct State {
    var outcome: Result<[LeaseGrant], StoreError>?
    var continuation: CheckedContinuation<Result<[LeaseGrant], StoreError>, Never>?
    var withdrawn = false
    var claimed = false
  }

  private let state = Mutex(State())

  /// A wait not yet parked anywhere.
  public init() {}

  /// Ends the wait with no tasks unless the store has already served it or is serving it now
  /// (then the store resolves it). Idempotent; callable from any thread.
  public func withdraw() {
    let continuation = self.state.withLock {
      state -> CheckedContinuation<Result<[LeaseGrant], StoreError>, Never>? in
      guard state.outcome == nil, !state.withdrawn else { return nil }
      state.withdrawn = true
      guard !state.claimed else { return nil }
      state.outcome = .success([])
      defer { state.continuation = nil }
      return state.continuation
    }
    continuation?.resume(returning: .success([]))
  }

  /// Whether the wait has ended (served, failed or withdrawn): a store drops such waits.
  public var isEnded: Bool {
    self.state.withLock { $0.outcome != nil || $0.withdrawn }
  }

  /// The store takes the wait to try to serve it in an open transaction. `false` when it has
  /// ended (the store drops it).
  public func claim() -> Bool {
    self.state.withLock { state in
      guard state.outcome == nil, !state.withdrawn else { return false }
      state.claimed = true
      return true
    }
  }

  /// The store's try gave nothing: the wait stays parked. Returns `false` when it was withdrawn
  /// meanwhile (it is then resolved with no tasks and the store drops it).
  public func unclaim() -> Bool {
    let (keep, continuation) = self.state.withLock {
      state -> (Bool, CheckedContinuation<Result<[LeaseGrant], StoreError>, Never>?) in
      state.claimed = false
      guard state.withdrawn, state.outcome == nil else { return (state.outcome == nil, nil) }
      state.outcome = .success([])
      defer { state.continuation = nil }
      return (false, state.continuation)
    }
    continuation?.resume(returning: .success([]))
    return keep
  }

  /// Ends the wait with `outcome` (the store, after its commit). Later calls do nothing.
  public func resolve(_ outcome: Result<[LeaseGrant], StoreError>) {
    let continuation = self.state.withLock {
      state -> CheckedContinuation<Result<[LeaseGrant], StoreError>, Never>? in
      state.claimed = false
      guard state.outcome == nil else { return nil }
      state.outcome = outcome
      defer { state.continuation = nil }
      return state.continuation
    }
    continuation?.resume(returning: outcome)
  }

  /// Waits until the wait ends; returns the grants (empty when withdrawn) or throws the store's
  /// error. Does not itself react to cancellation: withdraw the wait for that.
  public func value() async throws(StoreError) -> [LeaseGrant] {
    let outcome = await withCheckedContinuation {
      (continuation: CheckedContinuation<Result<[LeaseGrant], StoreError>, Never>) in
      let ready = self.state.withLock {
        state -> Result<[LeaseGrant], StoreError>? in
        if let outcome = state.outcome { return outcome }
        state.continuation = continuation
        return nil
      }
      if let ready { continuation.resume(returning: ready) }
    }
    return try outcome.get()
  }

  /// Waits like ``value()`` and withdraws the wait when `deadline` passes. The deadline is a
  /// dispatch timer, cancelled when the wait ends first: the waiting task is the only one, so the
  /// store's answer reaches it with one wake-up (no child tasks racing a sleep).
  public func value(until deadline: ContinuousClock.Instant) async throws(StoreError)
    -> [LeaseGrant]
  {
    let remaining = ContinuousClock.now.duration(to: deadline)
    guard remaining > .zero else {
      self.withdraw()
      return try await self.value()
    }
    let (seconds, attoseconds) = remaining.components
    // Waits of 30 years and more fire after 30 years (no overflow for "wait forever").
    let nanoseconds = Int(min(seconds, 1 << 30)) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    let timer = DispatchSource.makeTimerSource(queue: Self.deadlines)
    timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), leeway: .milliseconds(1))
    timer.setEventHandler { [weak self] in self?.withdraw() }
    timer.activate()
    defer { timer.cancel() }
    return try await self.value()
  }

  /// The queue the deadline timers of all waits fire on (they only withdraw).
  private static let deadlines = DispatchQueue(label: "taskwire.lease-wait.deadlines")
}
