import NIOCore
import Synchronization
import TaskwireProto
import TaskwireWire

extension ClientConnection {
  // MARK: - Locked helpers

  /// Sends call `id` (its frame `request`, encoded with ``encode(_:)``) now when a slot is free
  /// and no call waits; otherwise queues it. Returns the test waiters that its queueing
  /// satisfies.
  func start(
    _ id: UInt64,
    _ request: ByteBuffer,
    _ slot: Slot,
    _ state: inout State
  ) -> [CheckedContinuation<Void, Never>] {
    if state.queue.admitsNow(inFlight: state.calls.count) {
      state.outbound.append(request)
      state.calls[id] = slot
      self.scheduleFlush(&state)
      return []
    }
    return state.queue.append(id, Queued(request: request, slot: slot))
  }

  /// The error for a request (`request`: an encoded frame with its length prefix) whose body is
  /// larger than the server's `max_frame`, as the server would name it; `nil` when it fits.
  static func frameTooLarge(_ request: ByteBuffer, _ state: State) -> TaskwireError? {
    let body = request.readableBytes - FrameDecoder.headerLength
    guard body > state.maxFrameBytes else { return nil }
    var error = TaskwireError(
      code: .resourceExhausted,
      message: "the request's frame is larger than the server's max_frame "
        + "(limit \(state.maxFrameBytes), got \(body)); it was not sent"
    )
    error.limit = TaskwireError.Limit(
      name: "max_frame",
      value: UInt64(state.maxFrameBytes),
      observed: UInt64(body)
    )
    return error
  }

  /// `frame` with its length prefix, encoded before the connection's lock is taken, so callers
  /// on other threads (and the event loop's answers) do not wait behind an encoding.
  func encode(_ frame: Taskwire_V1_Frame) throws(TaskwireError) -> ByteBuffer {
    do {
      return try frame.framedBuffer()
    } catch {
      throw TaskwireError(code: .internal, message: "cannot encode the request: \(error)")
    }
  }

  /// Call `id` got its final answer: its slot goes to the oldest waiting calls.
  func finished(_ id: UInt64, _ state: inout State) {
    state.calls[id] = nil
    if case .ready = state.phase {
      while let next = state.queue.next(inFlight: state.calls.count) {
        state.outbound.append(next.element.request)
        state.calls[next.id] = next.element.slot
        self.scheduleFlush(&state)
      }
    }
    self.closeIfIdle(&state)
  }

  func scheduleFlush(_ state: inout State) {
    guard !state.flushScheduled else { return }
    state.flushScheduled = true
    state.flushToSchedule = true
  }

  func closeIfIdle(_ state: inout State) {
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

  func markUnusable(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
    state.unusable = true
    defer { state.unusableWaiters.removeAll() }
    return state.unusableWaiters
  }

  static func unusableError(_ state: State) -> TaskwireError {
    switch state.phase {
    case .closed(let error): return error
    case .goingAway: return .unavailable("the server is going away; retry on a new connection")
    default:
      if state.closeWhenIdle { return .unavailable("the client is shutting down") }
      return .unavailable("the connection is not ready")
    }
  }

  // MARK: - Flush

  /// Writes everything gathered since the last flush in one write and one flush.
  func flush() {
    let buffers: [ByteBuffer] = self.withState { state in
      state.flushScheduled = false
      guard !state.outbound.isEmpty else { return [] }
      state.wroteSinceLastPing = true
      return state.outbound.take()
    }
    guard !buffers.isEmpty else { return }
    for buffer in buffers { self.channel.write(buffer, promise: nil) }
    self.channel.flush()
  }
}
