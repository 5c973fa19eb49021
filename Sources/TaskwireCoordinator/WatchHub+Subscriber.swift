import Synchronization
import TaskwireCore
import TaskwireStore

extension WatchHub {
  /// One watcher's bounded buffer between the commit listener and its stream.
  final class Subscriber: Sendable {
    enum Next: Sendable {
      case events([EventRecord])
      case lagging(limit: String)
      case shutdown
      case cancelled
    }

    private struct State {
      var buffer: [EventRecord] = []
      var bytes = 0
      var waiter: CheckedContinuation<Next, Never>?
      var ended: Next?
    }

    private let state = Mutex(State())
    private let taskIDs: Set<String>
    private let filter: TaskFilter
    private let limits: Limits

    init(request: WatchRequest, limits: Limits) {
      self.taskIDs = Set(request.taskIDs)
      self.filter = request.filter
      self.limits = limits
    }

    /// Whether the watcher wants `event`: one of its task ids, or (without ids) every filter it
    /// set — queues, types, states, and the task's creator (`created_by`).
    func matches(_ event: EventRecord) -> Bool {
      if !self.taskIDs.isEmpty { return self.taskIDs.contains(event.taskID) }
      if !self.filter.queues.isEmpty, !self.filter.queues.contains(event.queue) { return false }
      if !self.filter.types.isEmpty, !self.filter.types.contains(event.type) { return false }
      if !self.filter.states.isEmpty, !self.filter.states.contains(event.state) { return false }
      if !self.filter.createdBy.isEmpty, self.filter.createdBy != event.createdBy { return false }
      return true
    }

    /// Buffers the matching events; past the limit the watcher is cut off.
    func offer(_ events: [EventRecord]) {
      let matching = events.filter(self.matches)
      guard !matching.isEmpty else { return }
      let (waiter, next) = self.state.withLock {
        state -> (CheckedContinuation<Next, Never>?, Next?) in
        guard state.ended == nil else { return (nil, nil) }
        state.buffer.append(contentsOf: matching)
        state.bytes += matching.reduce(0) { $0 + $1.approximateSize }
        if state.buffer.count > self.limits.maxBufferedEvents {
          state.buffer = []
          state.ended = .lagging(limit: "watch buffer of \(self.limits.maxBufferedEvents) events")
        } else if state.bytes > self.limits.maxBufferedBytes {
          state.buffer = []
          state.ended = .lagging(limit: "watch buffer of \(self.limits.maxBufferedBytes) bytes")
        }
        guard let waiter = state.waiter else { return (nil, nil) }
        state.waiter = nil
        return (waiter, self.take(&state))
      }
      if let waiter, let next { waiter.resume(returning: next) }
    }

    /// The next batch of events, or how the watch ends.
    func next() async -> Next {
      await withCheckedContinuation { continuation in
        let ready = self.state.withLock { state -> Next? in
          if state.buffer.isEmpty, state.ended == nil {
            state.waiter = continuation
            return nil
          }
          return self.take(&state)
        }
        if let ready { continuation.resume(returning: ready) }
      }
    }

    private func take(_ state: inout State) -> Next {
      if !state.buffer.isEmpty {
        defer {
          state.buffer = []
          state.bytes = 0
        }
        return .events(state.buffer)
      }
      return state.ended ?? .cancelled
    }

    func shutdown() { self.end(.shutdown) }
    func cancel() { self.end(.cancelled) }

    private func end(_ how: Next) {
      let waiter = self.state.withLock { state -> CheckedContinuation<Next, Never>? in
        if state.ended == nil { state.ended = how }
        defer { state.waiter = nil }
        return state.waiter
      }
      waiter?.resume(returning: how)
    }
  }
}

extension EventRecord {
  /// Bytes an event takes in a watch buffer, roughly.
  var approximateSize: Int {
    96 + self.taskID.utf8.count + self.message.utf8.count + self.error.utf8.count
      + self.queue.utf8.count + self.type.utf8.count + self.createdBy.utf8.count
  }
}
