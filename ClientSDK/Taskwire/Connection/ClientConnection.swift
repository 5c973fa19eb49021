package import NIOCore
import Synchronization
package import TaskwireProto
import TaskwireWire

/// One authenticated connection: multiplexes calls by call id over one channel.
///
/// Callers on any thread register their call and append its encoded frame to one outbound
/// buffer under a lock; the first frame of an event-loop tick schedules one write and one flush
/// for everything gathered meanwhile. The channel handler routes answers back to waiting
/// continuations (unary calls) or stream continuations (watches) without any actor hop.
///
/// At most the server's `max_concurrent_calls` calls are in flight, as the server counts them:
/// from the request to the final answer (a unary call's answer, a stream's `stream_end`). Calls
/// beyond it wait in a ``CallQueue`` and go out, oldest first, as final answers free slots.
package final class ClientConnection: Sendable {
  private enum Phase {
    case handshaking(CheckedContinuation<Handshake, any Error>?)
    case ready
    case goingAway
    case closed(TaskwireError)
  }

  private struct State {
    var phase: Phase = .handshaking(nil)
    var nextCallID: UInt64 = 1
    var calls: [UInt64: Slot] = [:]
    var queue = CallQueue<Queued>()
    var outbound: ByteBuffer
    var flushScheduled = false
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
  }

  package let channel: any Channel
  private let state: Mutex<State>
  private let pushHandler: (@Sendable (Push) -> Void)?
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
    self.state = Mutex(State(outbound: channel.allocator.buffer(capacity: 0)))
  }

  // MARK: - Handshake

  /// Sends the hello and waits for the reply; throws the server's status if it refuses.
  package func hello(_ hello: Taskwire_V1_Hello) async throws -> Handshake {
    var frame = Taskwire_V1_Frame()
    frame.hello = hello
    return try await withCheckedThrowingContinuation { continuation in
      let error: (any Error)? = self.state.withLock { state in
        switch state.phase {
        case .handshaking(nil):
          do {
            try state.outbound.writeFrame(frame)
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
    self.state.withLock { state in
      if case .ready = state.phase { return !state.closeWhenIdle }
      return false
    }
  }

  /// A fresh call id, for callers that need to know it before the call starts.
  package func reserveCallID() -> UInt64 {
    self.state.withLock { state in
      defer { state.nextCallID &+= 1 }
      return state.nextCallID
    }
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
    var refusals = 0
    while true {
      let answer = try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation {
          (continuation: CheckedContinuation<Taskwire_V1_Frame.OneOf_Body, any Error>) in
          let started: Result<[CheckedContinuation<Void, Never>], TaskwireError> =
            self.state.withLock { state in
              if Task.isCancelled || state.cancelledBeforeStart.remove(id) != nil {
                return .failure(.callCancelled)
              }
              guard case .ready = state.phase, !state.closeWhenIdle else {
                return .failure(Self.unusableError(state))
              }
              return self.start(id, frame, .unary(continuation), &state)
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
    // Snapshots come first, one per id, and a resume sends none: they must never be cut off.
    let bufferLimit = Swift.max(self.streamBufferLimit, request.taskIds.count, 1)
    let (stream, continuation) = AsyncThrowingStream.makeStream(
      of: Taskwire_V1_WatchEvent.self,
      throwing: (any Error).self,
      bufferingPolicy: .bufferingOldest(bufferLimit)
    )
    let woken = try self.state.withLock { state in
      guard case .ready = state.phase, !state.closeWhenIdle else {
        throw Self.unusableError(state)
      }
      return try self.start(id, frame, .stream(continuation, bufferLimit: bufferLimit), &state)
        .get()
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
    let finished: Slot? = self.state.withLock { state in
      if let queued = state.queue.remove(id) { return queued.slot }
      guard let slot = state.calls[id] else { return nil }
      if case .cancelledStream = slot { return nil }
      var frame = Taskwire_V1_Frame()
      frame.callID = id
      frame.cancelCall = Taskwire_V1_CancelCall()
      if (try? state.outbound.writeFrame(frame)) != nil {
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
    let started = self.state.withLock { state in
      if state.calls[id] != nil || state.queue.contains(id) { return true }
      state.cancelledBeforeStart.insert(id)
      return false
    }
    if started { self.cancelCall(id) }
  }

  /// Sends a ping unless something was written since the last check (keeps the server's idle
  /// timer from closing a quiet connection).
  package func pingIfIdle() {
    self.state.withLock { state in
      guard case .ready = state.phase else { return }
      if state.wroteSinceLastPing {
        state.wroteSinceLastPing = false
        return
      }
      state.pingNonce &+= 1
      var frame = Taskwire_V1_Frame()
      frame.ping.nonce = state.pingNonce
      if (try? state.outbound.writeFrame(frame)) != nil {
        self.scheduleFlush(&state)
      }
    }
  }

  /// Stops new calls; closes the channel once the unary calls in flight have their answers.
  /// Open streams end with UNAVAILABLE when it closes.
  package func closeWhenIdle() {
    self.state.withLock { state in
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
      let ready = self.state.withLock { state in
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
      let registered = self.state.withLock { state in
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
      let now = self.state.withLock { state in
        if case .closed = state.phase { return true }
        if state.laggingStreams >= count { return true }
        state.laggingWaiters.append((count, continuation))
        return false
      }
      if now { continuation.resume() }
    }
  }

  // MARK: - Event loop side (called by ClientChannelHandler)

  /// Routes one frame from the server.
  func received(_ frame: Taskwire_V1_Frame) {
    if frame.callID == 0 {
      self.receivedConnectionFrame(frame)
      return
    }
    enum Delivery {
      case none
      case unary(
        CheckedContinuation<Taskwire_V1_Frame.OneOf_Body, any Error>,
        Taskwire_V1_Frame.OneOf_Body
      )
      case event(
        AsyncThrowingStream<Taskwire_V1_WatchEvent, any Error>.Continuation,
        Taskwire_V1_WatchEvent,
        bufferLimit: Int
      )
      case end(
        AsyncThrowingStream<Taskwire_V1_WatchEvent, any Error>.Continuation,
        Taskwire_V1_Status
      )
    }
    let delivery: Delivery = self.state.withLock { state in
      guard let slot = state.calls[frame.callID] else { return .none }
      switch slot {
      case .unary(let continuation):
        self.finished(frame.callID, &state)
        return .unary(continuation, frame.body ?? .error(Self.emptyAnswer))
      case .stream(let continuation, let bufferLimit):
        switch frame.body {
        case .watchEvent(let event)?:
          return .event(continuation, event, bufferLimit: bufferLimit)
        case .streamEnd(let end)?:
          self.finished(frame.callID, &state)
          return .end(continuation, end.status)
        case .error(let status)?:
          self.finished(frame.callID, &state)
          return .end(continuation, status)
        default:
          return .none
        }
      case .cancelledStream:
        switch frame.body {
        case .streamEnd?, .error?: self.finished(frame.callID, &state)
        default: break
        }
        return .none
      }
    }
    switch delivery {
    case .none:
      break
    case .unary(let continuation, let body):
      continuation.resume(returning: body)
    case .event(let continuation, let event, let bufferLimit):
      if case .dropped = continuation.yield(event) {
        // The consumer fell behind: cut the stream. It ends with the lag (not as cancelled,
        // which reads as the consumer's own end) after the events it buffered, so the resuming
        // watch continues after the last event it delivered.
        var lagging = TaskwireError(
          code: .resourceExhausted,
          message: "lagging: the watch consumer fell more than \(bufferLimit) events behind"
        )
        lagging.limit = .init(
          name: "client_watch_buffer",
          value: UInt64(bufferLimit),
          observed: UInt64(bufferLimit) + 1
        )
        self.cancelCall(frame.callID, error: lagging)
        self.countLaggingStream()
      }
    case .end(let continuation, let status):
      if status.code == .ok {
        continuation.finish()
      } else {
        continuation.finish(throwing: TaskwireError(status))
      }
    }
  }

  private func receivedConnectionFrame(_ frame: Taskwire_V1_Frame) {
    switch frame.body {
    case .helloReply(let reply)?:
      let continuation: CheckedContinuation<Handshake, any Error>? = self.state.withLock { state in
        guard case .handshaking(let continuation?) = state.phase else { return nil }
        state.phase = .ready
        state.queue.setLimit(announced: reply.limits.maxConcurrentCalls)
        return continuation
      }
      continuation?.resume(
        returning: Handshake(
          role: reply.role,
          limits: reply.limits,
          serverVersion: reply.serverVersion,
          connectionID: reply.connectionID
        )
      )
    case .error(let status)?:
      let error = TaskwireError(status)
      let continuation: CheckedContinuation<Handshake, any Error>? = self.state.withLock { state in
        state.connectionError = error
        if case .handshaking(let continuation?) = state.phase {
          state.phase = .closed(error)
          return continuation
        }
        return nil
      }
      continuation?.resume(throwing: error)
      self.channel.close(promise: nil)
    case .ping(let ping)?:
      var pong = Taskwire_V1_Frame()
      pong.pong.nonce = ping.nonce
      self.state.withLock { state in
        if (try? state.outbound.writeFrame(pong)) != nil {
          self.scheduleFlush(&state)
        }
      }
    case .goAway?:
      // Calls in flight finish; calls still waiting for a slot fail as new calls would (the
      // server takes no new calls now).
      let (waiters, queued, error) = self.state.withLock { state in
        if case .ready = state.phase { state.phase = .goingAway }
        let (queued, woken) = state.queue.removeAll()
        return (self.markUnusable(&state) + woken, queued, Self.unusableError(state))
      }
      for call in queued { call.slot.fail(error) }
      for waiter in waiters { waiter.resume() }
    case .cancelNotice(let notice)?:
      self.pushHandler?(
        .cancelNotice(taskID: notice.taskID, leaseToken: notice.leaseToken, reason: notice.reason)
      )
    default:
      break
    }
  }

  /// The channel closed: every call in flight or waiting for a slot fails with UNAVAILABLE.
  func closed(cause: (any Error)?) {
    let (calls, hello, waiters, error):
      (
        [Slot], CheckedContinuation<Handshake, any Error>?, [CheckedContinuation<Void, Never>],
        TaskwireError
      ) = self.state.withLock { state in
        var message = "the connection closed"
        if let connectionError = state.connectionError {
          message += " after a connection error (\(connectionError))"
        }
        let error = TaskwireError.unavailable(message, cause: cause.map(SendableCause.init))
        var hello: CheckedContinuation<Handshake, any Error>?
        if case .handshaking(let continuation) = state.phase {
          hello = continuation
        }
        state.phase = .closed(state.connectionError ?? error)
        let (queued, woken) = state.queue.removeAll()
        let calls = Array(state.calls.values) + queued.map(\.slot)
        state.calls.removeAll()
        let lagging = state.laggingWaiters.map(\.continuation)
        state.laggingWaiters.removeAll()
        return (calls, hello, self.markUnusable(&state) + woken + lagging, error)
      }
    if let hello {
      let connectionError = self.state.withLock { $0.connectionError }
      hello.resume(throwing: connectionError ?? error)
    }
    for slot in calls { slot.fail(error) }
    for waiter in waiters { waiter.resume() }
  }

  /// Writes everything gathered since the last flush in one write and one flush.
  func flush() {
    let buffer: ByteBuffer? = self.state.withLock { state in
      state.flushScheduled = false
      guard state.outbound.readableBytes > 0 else { return nil }
      let buffer = state.outbound
      state.outbound = self.channel.allocator.buffer(capacity: 0)
      state.wroteSinceLastPing = true
      return buffer
    }
    if let buffer {
      self.channel.writeAndFlush(buffer, promise: nil)
    }
  }

  /// Counts a stream cut for lag and wakes the tests waiting for that many.
  private func countLaggingStream() {
    let woken = self.state.withLock { state in
      state.laggingStreams += 1
      let count = state.laggingStreams
      let woken = state.laggingWaiters.filter { $0.count <= count }.map(\.continuation)
      state.laggingWaiters.removeAll { $0.count <= count }
      return woken
    }
    for waiter in woken { waiter.resume() }
  }

  // MARK: - Locked helpers

  /// Sends call `id` now when a slot is free and no call waits; otherwise queues it, encoded.
  /// Returns the test waiters that its queueing satisfies.
  private func start(
    _ id: UInt64,
    _ frame: Taskwire_V1_Frame,
    _ slot: Slot,
    _ state: inout State
  ) -> Result<[CheckedContinuation<Void, Never>], TaskwireError> {
    do {
      if state.queue.admitsNow(inFlight: state.calls.count) {
        try state.outbound.writeFrame(frame)
        state.calls[id] = slot
        self.scheduleFlush(&state)
        return .success([])
      }
      var request = self.channel.allocator.buffer(capacity: 0)
      try request.writeFrame(frame)
      return .success(state.queue.append(id, Queued(request: request, slot: slot)))
    } catch {
      return .failure(
        TaskwireError(code: .internal, message: "cannot encode the request: \(error)")
      )
    }
  }

  /// Call `id` got its final answer: its slot goes to the oldest waiting calls.
  private func finished(_ id: UInt64, _ state: inout State) {
    state.calls[id] = nil
    if case .ready = state.phase {
      while let next = state.queue.next(inFlight: state.calls.count) {
        state.outbound.writeImmutableBuffer(next.element.request)
        state.calls[next.id] = next.element.slot
        self.scheduleFlush(&state)
      }
    }
    self.closeIfIdle(&state)
  }

  private func scheduleFlush(_ state: inout State) {
    guard !state.flushScheduled else { return }
    state.flushScheduled = true
    self.channel.eventLoop.execute { self.flush() }
  }

  private func closeIfIdle(_ state: inout State) {
    guard state.closeWhenIdle else { return }
    let unaryInFlight = state.calls.values.contains { slot in
      if case .unary = slot { return true }
      return false
    }
    if !unaryInFlight {
      // Let the flush scheduled for the last frames run first.
      let channel = self.channel
      channel.eventLoop.execute {
        self.flush()
        channel.close(promise: nil)
      }
    }
  }

  private func markUnusable(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
    state.unusable = true
    defer { state.unusableWaiters.removeAll() }
    return state.unusableWaiters
  }

  private static func unusableError(_ state: State) -> TaskwireError {
    switch state.phase {
    case .closed(let error): return error
    case .goingAway: return .unavailable("the server is going away; retry on a new connection")
    default:
      if state.closeWhenIdle { return .unavailable("the client is shutting down") }
      return .unavailable("the connection is not ready")
    }
  }

  private static var emptyAnswer: Taskwire_V1_Status {
    var status = Taskwire_V1_Status()
    status.code = .internal
    status.message = "the server answered with an empty frame"
    return status
  }
}
