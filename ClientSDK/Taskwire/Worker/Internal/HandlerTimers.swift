import Synchronization

/// The heartbeats and execution timeouts of a worker's running handlers, on one timer loop for
/// the whole worker instead of sleeping tasks per handler.
///
/// Each running task has an entry: when its next heartbeat is due (every third of its lease
/// duration) and, if it has one, when its execution timeout passes. ``run(heartbeat:)`` sleeps
/// until the earliest of them, sends the heartbeats that are due (each in its own child task, at
/// most one in flight per task) and stops the handlers whose timeout passed.
final class HandlerTimers: Sendable {
  private struct Entry {
    let running: RunningTask
    let interval: Duration
    var nextHeartbeat: ContinuousClock.Instant
    var timeout: ContinuousClock.Instant?
    var heartbeatInFlight = false

    var due: ContinuousClock.Instant {
      guard let timeout else { return self.nextHeartbeat }
      return min(timeout, self.nextHeartbeat)
    }
  }

  private struct State {
    var entries: [ObjectIdentifier: Entry] = [:]
    /// When the loop wakes next; `nil` while it waits for an entry.
    var wakeAt: ContinuousClock.Instant?
    /// The loop, waiting for an entry earlier than `wakeAt`.
    var waiter: CheckedContinuation<Void, Never>?
    /// Set when an earlier entry arrived while the loop was not waiting.
    var woken = false
  }

  private let state = Mutex(State())

  /// Starts timing `running`'s heartbeats and execution timeout.
  func add(_ running: RunningTask) {
    let now = ContinuousClock.now
    let interval = max(running.task.leaseDuration / 3, .milliseconds(1))
    let entry = Entry(
      running: running,
      interval: interval,
      nextHeartbeat: now + interval,
      timeout: running.task.executionTimeout.map { now + $0 }
    )
    let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
      state.entries[ObjectIdentifier(running)] = entry
      if let wakeAt = state.wakeAt, wakeAt <= entry.due { return nil }
      guard let waiter = state.waiter else {
        state.woken = true
        return nil
      }
      state.waiter = nil
      return waiter
    }
    waiter?.resume()
  }

  /// Stops timing `running` (its handler ended).
  func remove(_ running: RunningTask) {
    _ = self.state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(running)) }
  }

  /// Sends heartbeats and stops timed-out handlers until cancelled.
  func run(heartbeat: @escaping @Sendable (RunningTask) async -> Void) async {
    await withDiscardingTaskGroup { group in
      while !Task.isCancelled {
        let (heartbeats, timedOut, wakeAt) = self.collectDue(at: .now)
        for running in timedOut { running.stop(.executionTimeout) }
        for running in heartbeats {
          group.addTask {
            await heartbeat(running)
            self.heartbeatEnded(running)
          }
        }
        await self.wait(until: wakeAt)
      }
      group.cancelAll()
    }
  }

  /// Takes what is due at `now`, schedules the next heartbeats, and returns when to wake next.
  private func collectDue(
    at now: ContinuousClock.Instant
  ) -> (heartbeats: [RunningTask], timedOut: [RunningTask], wakeAt: ContinuousClock.Instant?) {
    self.state.withLock { state in
      var heartbeats: [RunningTask] = []
      var timedOut: [RunningTask] = []
      var earliest: ContinuousClock.Instant?
      for (key, var entry) in state.entries where entry.due <= now {
        if let timeout = entry.timeout, timeout <= now {
          timedOut.append(entry.running)
          entry.timeout = nil
        }
        if entry.nextHeartbeat <= now {
          if !entry.heartbeatInFlight {
            entry.heartbeatInFlight = true
            heartbeats.append(entry.running)
          }
          entry.nextHeartbeat = now + entry.interval
        }
        state.entries[key] = entry
      }
      for entry in state.entries.values {
        earliest = min(earliest ?? entry.due, entry.due)
      }
      state.wakeAt = earliest
      state.woken = false
      return (heartbeats, timedOut, earliest)
    }
  }

  private func heartbeatEnded(_ running: RunningTask) {
    self.state.withLock { state in
      state.entries[ObjectIdentifier(running)]?.heartbeatInFlight = false
    }
  }

  /// Waits until `deadline` (forever when `nil`), an earlier entry arrives, or cancellation.
  private func wait(until deadline: ContinuousClock.Instant?) async {
    guard let deadline else {
      await self.waitForEarlierEntry()
      return
    }
    await withTaskGroup(of: Void.self) { group in
      group.addTask { try? await Task.sleep(until: deadline) }
      group.addTask { await self.waitForEarlierEntry() }
      await group.next()
      group.cancelAll()
    }
  }

  private func waitForEarlierEntry() async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let now = self.state.withLock { state in
          if state.woken || Task.isCancelled {
            state.woken = false
            return true
          }
          state.waiter = continuation
          return false
        }
        if now { continuation.resume() }
      }
    } onCancel: {
      let waiter = self.state.withLock { state in
        defer { state.waiter = nil }
        return state.waiter
      }
      waiter?.resume()
    }
  }
}
