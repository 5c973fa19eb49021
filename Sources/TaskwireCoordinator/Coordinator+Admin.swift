import TaskwireCore
public import TaskwireStore

extension Coordinator {
  /// Counts per queue and state, paused flags, and stuck tasks (pending longer than 10× the
  /// queue's lease duration by default).
  public func stats(queues: [String]) async throws(CallError) -> [QueueStats] {
    let multiple = self.configuration.stuckAfterLeaseMultiples
    let defaults = self.configuration.defaults
    let stuckAfter = defaults.queues.mapValues { override in
      (override.leaseDurationMs ?? defaults.base.leaseDurationMs) * multiple
    }
    return try await self.perform {
      try await self.store.stats(
        queues: queues,
        nowMs: self.nowMs,
        stuckAfterMs: stuckAfter,
        defaultStuckAfterMs: defaults.base.leaseDurationMs * multiple
      )
    }
  }

  /// Stops granting leases from `queue` (submits still land).
  public func pause(queue: String) async throws(CallError) {
    try await self.perform {
      try await self.store.setPaused(queue: queue, paused: true, nowMs: self.nowMs)
    }
  }

  /// Grants leases from `queue` again and wakes waiting leases.
  public func resume(queue: String) async throws(CallError) {
    try await self.perform {
      try await self.store.setPaused(queue: queue, paused: false, nowMs: self.nowMs)
    }
    self.dispatcher.wakeTickets()
  }

  /// The worker registry: id, name, address, queues, tasks held, last heartbeat.
  public func listWorkers() -> [WorkerInfo] {
    self.workers.all
  }
}

extension Coordinator {
  /// Long polls parked right now (for stats and tests).
  public var waitingLeases: Int { self.dispatcher.waiting }
}
