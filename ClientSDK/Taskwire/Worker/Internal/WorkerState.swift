import Synchronization

/// The worker's shared bookkeeping: free slots, running tasks by id, and the stop signal.
final class WorkerState: Sendable {
  private struct State {
    var capacity: Int
    var reserved = 0
    /// Unchecked (the lease loop waits here once per lease); resumed exactly once, by a freed
    /// slot, the stop, or cancellation, whichever takes it out of the state first.
    var slotWaiter: UnsafeContinuation<Int, Never>?
    var running: [TaskID: RunningTask] = [:]
    var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    var stopping = false
    /// Ends what the lease loop waits on (its long poll or a back-off pause), if anything.
    var cancelWait: (@Sendable () -> Void)?
  }

  private let state: Mutex<State>

  init(capacity: Int) {
    self.state = Mutex(State(capacity: max(1, capacity)))
  }

  var isStopping: Bool { self.state.withLock { $0.stopping } }

  /// How many slots are free right now.
  var freeSlots: Int { self.state.withLock { $0.capacity - $0.reserved } }

  /// Waits until at least one slot is free and returns how many are; 0 when cancelled or
  /// stopping.
  func waitForFreeSlots() async -> Int {
    await withTaskCancellationHandler {
      await withUnsafeContinuation { (continuation: UnsafeContinuation<Int, Never>) in
        let free = self.state.withLock { state -> Int? in
          if Task.isCancelled || state.stopping { return 0 }
          let free = state.capacity - state.reserved
          if free > 0 { return free }
          state.slotWaiter = continuation
          return nil
        }
        if let free { continuation.resume(returning: free) }
      }
    } onCancel: {
      let waiter = self.state.withLock { state in
        defer { state.slotWaiter = nil }
        return state.slotWaiter
      }
      waiter?.resume(returning: 0)
    }
  }

  /// Takes `count` slots for leased tasks.
  func reserve(_ count: Int) {
    self.state.withLock { $0.reserved += count }
  }

  /// Gives a slot back.
  func releaseSlot() {
    let waiter = self.state.withLock { state -> (UnsafeContinuation<Int, Never>, Int)? in
      state.reserved -= 1
      guard let waiter = state.slotWaiter else { return nil }
      state.slotWaiter = nil
      return (waiter, state.capacity - state.reserved)
    }
    waiter.map { $0.0.resume(returning: $0.1) }
  }

  func register(_ task: RunningTask) {
    self.state.withLock { $0.running[task.task.id] = task }
  }

  func unregister(_ id: TaskID) {
    let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.running[id] = nil
      guard state.running.isEmpty else { return [] }
      defer { state.emptyWaiters.removeAll() }
      return state.emptyWaiters
    }
    for waiter in waiters { waiter.resume() }
  }

  func running(_ id: TaskID) -> RunningTask? {
    self.state.withLock { $0.running[id] }
  }

  /// Asks every running handler to stop.
  func stopAll(_ reason: StopReason) {
    let tasks = self.state.withLock { Array($0.running.values) }
    for task in tasks { task.stop(reason) }
  }

  /// Returns once no handler runs (or the waiting task is cancelled).
  func waitUntilIdle() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let idle = self.state.withLock { state in
        if state.running.isEmpty { return true }
        state.emptyWaiters.append(continuation)
        return false
      }
      if idle { continuation.resume() }
    }
  }

  /// Begins the graceful stop: leasing ends (the lease loop's wait is cut short; a long poll
  /// that was already granted tasks still brings them, and they are released).
  func beginStopping() {
    let (cancelWait, slotWaiter) = self.state.withLock { state in
      state.stopping = true
      defer {
        state.cancelWait = nil
        state.slotWaiter = nil
      }
      return (state.cancelWait, state.slotWaiter)
    }
    cancelWait?()
    slotWaiter?.resume(returning: 0)
  }

  /// Registers how to cut short what the lease loop is about to wait on (a long poll or a
  /// back-off pause); `false` when stopping (do not start it).
  func leaseLoopWaits(cancel: @escaping @Sendable () -> Void) -> Bool {
    self.state.withLock { state in
      guard !state.stopping else { return false }
      state.cancelWait = cancel
      return true
    }
  }

  /// The lease loop's wait ended.
  func leaseLoopWaitEnded() {
    self.state.withLock { $0.cancelWait = nil }
  }
}
