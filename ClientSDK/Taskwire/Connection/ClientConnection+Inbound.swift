import NIOCore
import Synchronization
import TaskwireProto
import TaskwireWire

extension ClientConnection {
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
        UnsafeContinuation<Taskwire_V1_Frame.OneOf_Body, any Error>,
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
    let delivery: Delivery = self.withState { state in
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
      let continuation: CheckedContinuation<Handshake, any Error>? = self.withState { state in
        guard case .handshaking(let continuation?) = state.phase else { return nil }
        state.phase = .ready
        state.queue.setLimit(announced: reply.limits.maxConcurrentCalls)
        if reply.limits.maxFrameBytes > 0 { state.maxFrameBytes = Int(reply.limits.maxFrameBytes) }
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
      let continuation: CheckedContinuation<Handshake, any Error>? = self.withState { state in
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
      self.withState { state in
        if (try? state.outbound.append(pong)) != nil {
          self.scheduleFlush(&state)
        }
      }
    case .goAway?:
      // Calls in flight finish; calls still waiting for a slot fail as new calls would (the
      // server takes no new calls now).
      let (waiters, queued, error) = self.withState { state in
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
      ) = self.withState { state in
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
      let connectionError = self.withState { $0.connectionError }
      hello.resume(throwing: connectionError ?? error)
    }
    for slot in calls { slot.fail(error) }
    for waiter in waiters { waiter.resume() }
  }

  /// Counts a stream cut for lag and wakes the tests waiting for that many.
  private func countLaggingStream() {
    let woken = self.withState { state in
      state.laggingStreams += 1
      let count = state.laggingStreams
      let woken = state.laggingWaiters.filter { $0.count <= count }.map(\.continuation)
      state.laggingWaiters.removeAll { $0.count <= count }
      return woken
    }
    for waiter in woken { waiter.resume() }
  }

  private static var emptyAnswer: Taskwire_V1_Status {
    var status = Taskwire_V1_Status()
    status.code = .internal
    status.message = "the server answered with an empty frame"
    return status
  }
}
