import Synchronization

/// The calls in flight on one connection, by client-chosen call id, bounded by
/// `max_concurrent_calls`.
final class CallTable: Sendable {
  /// The answer to `begin`.
  enum Admission {
    case admitted(CallCancellation)
    /// The id is still in flight: a protocol error that closes the connection.
    case duplicate
    /// The connection is at its concurrency limit; `inFlight` calls are running.
    case tooMany(inFlight: Int)
    /// The server is shutting down and takes no new calls.
    case draining
  }

  private struct State {
    var calls: [UInt64: (cancellation: CallCancellation, long: Bool)] = [:]
    /// Calls that ended but whose answer is not written yet (bounded at twice the limit).
    var unwritten = 0
    var draining = false
    var onDrained: (@Sendable () -> Void)?
  }

  private let state = Mutex(State())
  let maxConcurrentCalls: Int

  init(maxConcurrentCalls: Int) {
    self.maxConcurrentCalls = maxConcurrentCalls
  }

  /// Registers call `id`; `long` marks a long poll or a stream, which shutdown ends early.
  func begin(_ id: UInt64, long: Bool) -> Admission {
    self.state.withLock { state in
      if state.calls[id] != nil { return .duplicate }
      if state.draining { return .draining }
      // Calls in flight are bounded by the limit. Answers not yet written are bounded
      // separately, at twice the limit: a call's answer counts as unwritten until the task
      // that wrote it resumes, which can be after the client has read it and sent the next call
      // (a burst of 100 submits ends all at once), so a client that keeps to the limit and reads
      // promptly never trips over them, while a peer that stops reading cannot make them pile up.
      if state.calls.count >= self.maxConcurrentCalls {
        return .tooMany(inFlight: state.calls.count)
      }
      if state.unwritten >= 2 * self.maxConcurrentCalls {
        return .tooMany(inFlight: state.unwritten)
      }
      let cancellation = CallCancellation()
      state.calls[id] = (cancellation, long)
      return .admitted(cancellation)
    }
  }

  /// Whether call `id` is in flight.
  func isInFlight(_ id: UInt64) -> Bool {
    self.state.withLock { $0.calls[id] != nil }
  }

  /// Forgets call `id`; call it before writing the call's last frame so the id may be reused,
  /// and ``answered()`` after writing it.
  func end(_ id: UInt64) {
    self.state.withLock { state in
      if state.calls.removeValue(forKey: id) != nil { state.unwritten += 1 }
    }
  }

  /// A call's last frame was written: when draining and nothing is left, the connection closes.
  func answered() {
    let drained = self.state.withLock { state -> (@Sendable () -> Void)? in
      state.unwritten -= 1
      if state.draining, state.calls.isEmpty, state.unwritten == 0, let drained = state.onDrained {
        state.onDrained = nil
        return drained
      }
      return nil
    }
    drained?()
  }

  /// Cancels call `id` at the client's request; unknown ids are ignored.
  func cancel(_ id: UInt64) {
    let call = self.state.withLock { $0.calls[id]?.cancellation }
    call?.fire(.cancelledByClient)
  }

  /// Cancels every call (the peer went away).
  func cancelAll() {
    let calls = self.state.withLock { $0.calls.values.map(\.cancellation) }
    for call in calls { call.fire(.cancelledByClient) }
  }

  /// Stops taking calls, ends the long ones (UNAVAILABLE), and runs `drained` once no call is in
  /// flight.
  func drain(drained: @escaping @Sendable () -> Void) {
    let (toCancel, runNow) = self.state.withLock { state -> ([CallCancellation], Bool) in
      state.draining = true
      let long = state.calls.values.filter(\.long).map(\.cancellation)
      if state.calls.isEmpty, state.unwritten == 0 { return (long, true) }
      state.onDrained = drained
      return (long, false)
    }
    for call in toCancel { call.fire(.shutdown) }
    if runNow { drained() }
  }
}
