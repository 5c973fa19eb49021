package import NIOCore
import Synchronization
package import TaskwireProto
import TaskwireWire

/// One authenticated connection: multiplexes calls by call id over one channel.
///
/// Callers on any thread register their call and append its encoded frame to the ``Outbound``
/// under a lock; the first frame of an event-loop tick schedules one flush for everything
/// gathered meanwhile. The channel handler routes answers back to waiting
/// continuations (unary calls) or stream continuations (watches) without any actor hop.
///
/// At most the server's `max_concurrent_calls` calls are in flight, as the server counts them:
/// from the request to the final answer (a unary call's answer, a stream's `stream_end`). Calls
/// beyond it wait in a ``CallQueue`` and go out, oldest first, as final answers free slots.
package final class ClientConnection: Sendable {
  enum Phase {
    case handshaking(CheckedContinuation<Handshake, any Error>?)
    case ready
    case goingAway
    case closed(TaskwireError)
  }

  struct State {
    var phase: Phase = .handshaking(nil)
    var calls: [UInt64: Slot] = [:]
    var queue = CallQueue<Queued>()
    var outbound: Outbound
    var flushScheduled = false
    /// Set by ``scheduleFlush(_:)`` under the lock; ``withState(_:)`` schedules the flush once
    /// the lock is released (never an event-loop hand-off, with its wake-up, while holding it).
    var flushToSchedule = false
    var wroteSinceLastPing = false
    var pingNonce: UInt64 = 0
    var closeWhenIdle = false
    var connectionError: TaskwireError?
    var unusableWaiters: [CheckedContinuation<Void, Never>] = []
    var unusable = false
    var laggingStreams = 0
    var laggingWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    /// Reserved call ids cancelled before their calls started (``cancelReservedCall(_:)``).
    var cancelledBeforeStart: Set<UInt64> = []
    /// The largest frame body the server takes (its hello announces it): a larger request
    /// fails alone, unsent, instead of making the server close the connection under every other
    /// call on it.
    var maxFrameBytes = WireLimits().maxFrameBytes
  }

  package let channel: any Channel
  let state: Mutex<State>
  private let nextCallID = Atomic<UInt64>(1)
  let pushHandler: (@Sendable (Push) -> Void)?
  /// Events a watch stream may hold before it is cut and resumed (bounds client memory); a
  /// watch by id holds at least one per id, so its first snapshots always arrive whole.
  package let streamBufferLimit: Int

  package init(
    channel: any Channel,
    streamBufferLimit: Int,
    pushHandler: (@Sendable (Push) -> Void)?
  ) {
    self.channel = channel
    self.streamBufferLimit = streamBufferLimit
    self.pushHandler = pushHandler
    self.state = Mutex(State(outbound: Outbound(allocator: channel.allocator)))
  }

  // MARK: - Handshake

  /// Sends the hello and waits for the reply; throws the server's status if it refuses.
  package func hello(_ hello: Taskwire_V1_Hello) async throws -> Handshake {
    var frame = Taskwire_V1_Frame()
    frame.hello = hello
    return try await withCheckedThrowingContinuation { continuation in
      let error: (any Error)? = self.withState { state in
        switch state.phase {
        case .handshaking(nil):
          do {
            try state.outbound.append(frame)
          } catch {
            return TaskwireError(code: .internal, message: "cannot encode the hello: \(error)")
          }
          state.phase = .handshaking(continuation)
          self.scheduleFlush(&state)
          return nil
        case .closed(let error):
          return error
        default:
          return TaskwireError(code: .internal, message: "hello sent twice")
        }
      }
      if let error { continuation.resume(throwing: error) }
    }
  }

  // MARK: - Calls

  /// Whether new calls may start on this connection.
  package var isUsable: Bool {
    self.withState { state in
      if case .ready = state.phase { return !state.closeWhenIdle }
      return false
    }
  }

  /// A fresh call id, for callers that need to know it before the call starts.
  package func reserveCallID() -> UInt64 {
    self.nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
  }

  /// Runs `body` under the connection's lock, then schedules the flush it asked for.
  func withState<Result: Sendable, Failure: Error>(
    _ body: (inout State) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    var flush = false
    let result = try self.state.withLock { (state) throws(Failure) -> Result in
      defer {
        flush = state.flushToSchedule
        state.flushToSchedule = false
      }
      return try body(&state)
    }
    if flush { self.channel.eventLoop.execute { self.flush() } }
    return result
  }

  /// One unary call: sends `body` and returns the answer's body, or throws the error status.
  ///
  /// When the calling task is cancelled a `cancel_call` frame goes out and the call still waits
  /// for the server's one answer (a cancelled long poll may have brought tasks that must be
  /// released). A call still waiting for a slot is dropped unsent and throws cancelled.
  package func unary(
    _ body: Taskwire_V1_Frame.OneOf_Body,
    callID: UInt64? = nil
  ) async throws -> Taskwire_V1_Frame.OneOf_Body {
    let id = callID ?? self.reserveCallID()
    var frame = Taskwire_V1_Frame()
    frame.callID = id
    frame.body = body
    let request = try self.encode(frame)
    var refusals = 0
    while true {
      let answer = try await withTaskCancellationHandler {
        // Unsafe (unchecked) continuations on the per-call paths: a checked one allocates a
        // canary object per call. Each is resumed exactly once: by its answer, by the
        // connection's end (`markUnusable`), or here when the call cannot start.
        try await withUnsafeThrowingContinuation {
          (continuation: UnsafeContinuation<Taskwire_V1_Frame.OneOf_Body, any Error>) in
          let started: Result<[CheckedContinuation<Void, Never>], TaskwireError> =
            self.withState { state in
              if Task.isCancelled || state.cancelledBeforeStart.remove(id) != nil {
                return .failure(.callCancelled)
              }
              guard case .ready = state.phase, !state.closeWhenIdle else {
                return .failure(Self.unusableError(state))
              }
              if let tooLarge = Self.frameTooLarge(request, state) { return .failure(tooLarge) }
              return .success(self.start(id, request, .unary(continuation), &state))
            }
          switch started {
          case .success(let woken): for waiter in woken { waiter.resume() }
          case .failure(let error): continuation.resume(throwing: error)
          }
        }
      } onCancel: {
        self.cancelCall(id)
      }
      guard case .error(let status) = answer else { return answer }
      // The server refuses a call at admission also while it still counts answers we may
      // already hold (it counts them until written); such a call never ran, so it goes again,
      // as an HTTP/2 client retries a refused stream — a few times at most.
      guard status.code == .resourceExhausted, status.limitName == "max_concurrent_calls",
        refusals < 5
      else { throw TaskwireError(status) }
      refusals += 1
    }
  }

  /// Starts a watch; its events arrive on the returned stream, which ends with the stream's
  /// status (OK = finishes, otherwise throws ``TaskwireError``). Dropping the stream cancels it
  /// on the server (or, while it waits for a slot, unsent).
  ///
  /// A consumer that lets more events wait than the stream buffers gets the ones buffered, then
  /// ``TaskwireError/Code/resourceExhausted`` with the limit `client_watch_buffer` (as the
  /// server's `watch_buffer`): the stream is cut, to be resumed after the last event delivered.
  package func watch(
    _ request: Taskwire_V1_WatchRequest
  ) throws -> AsyncThrowingStream<Taskwire_V1_WatchEvent, any Error> {
    let id = self.reserveCallID()
    var frame = Taskwire_V1_Frame()
    frame.callID = id
    frame.watchRequest = request
    let encoded = try self.encode(frame)
    // Snapshots come first, one per id, and a resume sends none: they must never be cut off.
    let bufferLimit = Swift.max(self.streamBufferLimit, request.taskIds.count, 1)
    let (stream, continuation) = AsyncThrowingStream.makeStream(
      of: Taskwire_V1_WatchEvent.self,
      throwing: (any Error).self,
      bufferingPolicy: .bufferingOldest(bufferLimit)
    )
    let woken = try self.withState { state in
      guard case .ready = state.phase, !state.closeWhenIdle else {
        throw Self.unusableError(state)
      }
      if let tooLarge = Self.frameTooLarge(encoded, state) { throw tooLarge }
      return self.start(id, encoded, .stream(continuation, bufferLimit: bufferLimit), &state)
    }
    for waiter in woken { waiter.resume() }
    continuation.onTermination = { [weak self] reason in
      if case .cancelled = reason { self?.cancelCall(id) }
    }
    return stream
  }

  /// Sends `cancel_call` for `id` if it is still in flight. A stream is finished at once with
  /// `error` (its slot stays taken until the server's `stream_end`); a unary call keeps waiting
  /// for its answer. A call still waiting for a slot leaves the queue unsent and fails at once.
  package func cancelCall(_ id: UInt64, error: TaskwireError = .callCancelled) {
    let finished: Slot? = self.withState { state in
      if let queued = state.queue.remove(id) { return queued.slot }
      guard let slot = state.calls[id] else { return nil }
      if case .cancelledStream = slot { return nil }
      var frame = Taskwire_V1_Frame()
      frame.callID = id
      frame.cancelCall = Taskwire_V1_CancelCall()
      if (try? state.outbound.append(frame)) != nil {
        self.scheduleFlush(&state)
      }
      if case .stream = slot {
        state.calls[id] = .cancelledStream
        return slot
      }
      return nil
    }
    finished?.fail(error)
  }

  /// Cancels call `id`, reserved with ``reserveCallID()``, whether or not it has started: one
  /// in flight as ``cancelCall(_:error:)`` does; one not started yet fails with cancelled as it
  /// starts. (An id cancelled after its call ended stays marked; callers cancel at most once.)
  package func cancelReservedCall(_ id: UInt64) {
    let started = self.withState { state in
      if state.calls[id] != nil || state.queue.contains(id) { return true }
      state.cancelledBeforeStart.insert(id)
      return false
    }
    if started { self.cancelCall(id) }
  }

  /// Sends a ping unless something was written since the last check (keeps the server's idle
  /// timer from closing a quiet connection).
  package func pingIfIdle() {
    self.withState { state in
      guard case .ready = state.phase else { return }
      if state.wroteSinceLastPing {
        state.wroteSinceLastPing = false
        return
      }
      state.pingNonce &+= 1
      var frame = Taskwire_V1_Frame()
      frame.ping.nonce = state.pingNonce
      if (try? state.outbound.append(frame)) != nil {
        self.scheduleFlush(&state)
      }
    }
  }

  /// Stops new calls; closes the channel once the unary calls in flight have their answers.
  /// Open streams end with UNAVAILABLE when it closes.
  package func closeWhenIdle() {
    self.withState { state in
      state.closeWhenIdle = true
      self.closeIfIdle(&state)
    }
  }

  /// Closes the channel now; calls in flight fail with UNAVAILABLE.
  package func close() {
    self.channel.close(promise: nil)
  }

  /// Returns once the connection can take no new calls (go-away, connection error or close).
  package func waitUntilUnusable() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let ready = self.withState { state in
        if state.unusable { return true }
        state.unusableWaiters.append(continuation)
        return false
      }
      if ready { continuation.resume() }
    }
  }

  /// Returns once at least `count` calls wait for a slot, or the connection closed (for tests).
  package func waitForQueuedCalls(_ count: Int) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let registered = self.withState { state in
        if case .closed = state.phase { return false }
        return state.queue.wait(forCount: count, continuation)
      }
      if !registered { continuation.resume() }
    }
  }

  /// Returns once at least `count` watch streams on this connection were cut because their
  /// consumer fell behind, or the connection closed (for tests).
  package func waitForLaggingStreams(_ count: Int) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let now = self.withState { state in
        if case .closed = state.phase { return true }
        if state.laggingStreams >= count { return true }
        state.laggingWaiters.append((count, continuation))
        return false
      }
      if now { continuation.resume() }
    }
  }
}
