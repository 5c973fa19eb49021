import Synchronization

/// The worker's lanes: long-lived Swift tasks that run leased tasks one after another, so a
/// leased task costs a queue entry instead of a Swift task of its own (an allocation too large
/// for malloc's per-thread cache, a scheduling and a teardown per task).
///
/// A stop cancels the lane running the task (``RunningTask/stop(_:)``), and a cancelled task
/// stays cancelled: that lane ends after the task, and the next task goes to another lane.
/// ``push(_:)`` keeps a lane for every task handed out or queued (`alive ≥ busy + queued`), so
/// a lane that ends takes nothing with it. Only the lease loop starts lanes (``push(_:)`` says
/// when); ``finish()`` ends the idle ones once leasing has stopped, and the rest end when the
/// queue is empty.
final class Lanes: Sendable {
  typealias Item = (running: RunningTask, refusal: TaskwireWorker.Outcome?)

  private struct State {
    /// Tasks no lane has taken yet, oldest first (at most the worker's capacity).
    var queued: [Item] = []
    /// Lanes waiting for a task.
    var waiting: [UnsafeContinuation<Item?, Never>] = []
    /// Lanes started and not ended.
    var alive = 0
    /// Lanes running a task.
    var busy = 0
    var finished = false

    /// Takes the oldest queued task for a lane, which is busy from then on.
    mutating func take() -> Item? {
      guard !self.queued.isEmpty else { return nil }
      self.busy += 1
      return self.queued.removeFirst()
    }
  }

  private let state = Mutex(State())

  /// Hands `item` to a waiting lane, or queues it; `true` when the caller must start a lane.
  func push(_ item: Item) -> Bool {
    let (waiter, start) = self.state.withLock {
      state -> (UnsafeContinuation<Item?, Never>?, Bool) in
      if let waiter = state.waiting.popLast() {
        state.busy += 1
        return (waiter, false)
      }
      state.queued.append(item)
      guard state.alive < state.busy + state.queued.count else { return (nil, false) }
      state.alive += 1
      return (nil, true)
    }
    waiter?.resume(returning: item)
    return start
  }

  /// The next task for a lane that runs none; `nil` once leasing has stopped and the queue is
  /// empty (the lane then ends).
  func next() async -> Item? {
    if let item = self.state.withLock({ $0.take() }) { return item }
    return await withUnsafeContinuation { (continuation: UnsafeContinuation<Item?, Never>) in
      let now: Item?? = self.state.withLock { state in
        if let item = state.take() { return .some(item) }
        if state.finished {
          state.alive -= 1
          return .some(nil)
        }
        state.waiting.append(continuation)
        return nil
      }
      if let now { continuation.resume(returning: now) }
    }
  }

  /// A lane finished its task; `ending` when it ends now (a stop cancelled it).
  func done(ending: Bool) {
    self.state.withLock { state in
      state.busy -= 1
      if ending { state.alive -= 1 }
    }
  }

  /// Leasing stopped: waiting lanes end, the others once the queue is empty.
  func finish() {
    let waiters = self.state.withLock { state in
      state.finished = true
      state.alive -= state.waiting.count
      defer { state.waiting = [] }
      return state.waiting
    }
    for waiter in waiters { waiter.resume(returning: nil) }
  }
}
