import Foundation
import TaskwireCore
public import TaskwireStore

extension Coordinator {
  /// Leases up to `max` ready tasks of `queues` (and `types`, when given), waiting up to `waitMs`
  /// for work: a commit that makes a task ready wakes this call at once (no poll interval).
  /// Returns an empty list when the wait ends with nothing ready, when `interrupt` fires, or when
  /// the task is cancelled.
  public func lease(
    queues: [String],
    types: [String],
    max: Int,
    waitMs: Int64,
    worker: WorkerIdentity,
    interrupt: (any LongPollInterrupt)? = nil
  ) async throws(CallError) -> [LeaseGrant] {
    let count = max == 0 ? 1 : max
    guard count <= self.configuration.maxLeaseTasks else {
      throw .limit(
        "max_lease_tasks",
        limit: self.configuration.maxLeaseTasks,
        observed: count,
        code: .invalidArgument,
        what: "max_tasks"
      )
    }
    guard waitMs >= 0 else { throw CallError(.invalidArgument, "wait_ms must not be negative") }
    let queueList = queues.isEmpty ? ["default"] : queues
    // Interrupted before it began (cancel_call in the same burst): it takes nothing.
    if interrupt?.hasFired == true { return [] }
    self.workers.sawLease(worker, queues: queueList, nowMs: self.nowMs)
    let wait = min(waitMs, self.configuration.maxLeaseWaitMs)
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(wait))
    if wait > 0 {
      // A store that parks long polls grants this one the tasks a later commit makes ready in
      // that same commit (one fsync from submit to start).
      let leaseWait = LeaseWait()
      self.dispatcher.track(leaseWait)
      defer { self.dispatcher.untrack(leaseWait) }
      interrupt?.onFire { leaseWait.withdraw() }
      let parked = try await self.perform {
        try await self.store.leaseWaiting(
          queues: queueList,
          types: types,
          max: count,
          workerID: worker.id,
          nowMs: self.nowMs,
          until: deadline,
          wait: leaseWait
        )
      }
      if let parked { return await self.handOver(parked, to: worker) }
    }
    let queueSet = Set(queueList)
    while true {
      if interrupt?.hasFired == true { return [] }
      let ticket = wait > 0 ? self.dispatcher.register(queues: queueSet) : nil
      if let ticket { interrupt?.onFire { ticket.wake() } }
      let grants: [LeaseGrant]
      do {
        grants = try await self.perform {
          try await self.store.lease(
            queues: queueList,
            types: types,
            max: count,
            workerID: worker.id,
            nowMs: self.nowMs
          )
        }
      } catch {
        if let ticket { self.dispatcher.remove(ticket) }
        throw error
      }
      if !grants.isEmpty {
        if let ticket { self.dispatcher.remove(ticket) }
        return await self.handOver(grants, to: worker)
      }
      guard let ticket, ContinuousClock.now < deadline, !Task.isCancelled,
        interrupt?.hasFired != true
      else {
        // A wake-up that came after the empty try goes on to the next waiter.
        if let ticket { self.dispatcher.abandon(ticket) }
        return []
      }
      await ticket.wait(until: deadline)
      if Task.isCancelled || interrupt?.hasFired == true {
        // Woken for a ready task as the interrupt fired: the next waiter gets the wake-up.
        self.dispatcher.abandon(ticket)
        return []
      }
      self.dispatcher.remove(ticket)
      if ContinuousClock.now >= deadline {
        // One last try so a task that arrived with the deadline is not left waiting.
        let last = try await self.perform {
          try await self.store.lease(
            queues: queueList,
            types: types,
            max: count,
            workerID: worker.id,
            nowMs: self.nowMs
          )
        }
        self.workers.held(last.map(\.taskID), by: worker.id)
        return last
      }
    }
  }

  /// Records `grants` as held by `worker` and returns them; when the caller is gone (its task
  /// cancelled), hands them back without using an attempt and returns none.
  private func handOver(_ grants: [LeaseGrant], to worker: WorkerIdentity) async -> [LeaseGrant] {
    guard !grants.isEmpty else { return [] }
    if Task.isCancelled {
      for grant in grants {
        _ = try? await self.store.release(
          taskID: grant.taskID,
          token: grant.leaseToken,
          nowMs: self.nowMs
        )
      }
      return []
    }
    self.workers.held(grants.map(\.taskID), by: worker.id)
    return grants
  }

  /// Extends a lease and records progress; says whether cancel was requested.
  public func heartbeat(
    taskID: String,
    token: String,
    progress: (percent: Int, message: String)?,
    worker: WorkerIdentity
  ) async throws(CallError) -> HeartbeatOutcome {
    if let progress {
      guard (0...100).contains(progress.percent) else {
        throw CallError(.invalidArgument, "progress must be 0 to 100, got \(progress.percent)")
      }
      guard progress.message.utf8.count <= 4_096 else {
        throw .limit(
          "max_progress_message",
          limit: 4_096,
          observed: progress.message.utf8.count,
          code: .invalidArgument,
          what: "progress message length"
        )
      }
    }
    let now = self.nowMs
    let write = progress.flatMap {
      self.progress.admit(
        taskID: taskID,
        percent: $0.percent,
        message: $0.message,
        nowMs: now,
        windowMs: self.configuration.progressWindowMs
      )
    }
    let outcome = try await self.perform {
      try await self.store.heartbeat(
        taskID: taskID,
        token: token,
        progress: write.map { ProgressUpdate(percent: Int32($0.percent), message: $0.message) },
        nowMs: now
      )
    }
    self.workers.heartbeat(worker.id, nowMs: now)
    return outcome
  }

  /// A worker's `CompleteBatchRequest`: at least one item and at most `maxBatchSize` (the limit
  /// submit batches have), then each item stands alone as in ``complete(_:worker:)``.
  public func completeBatch(_ items: [Completion], worker: WorkerIdentity) async throws(CallError)
    -> [CallError?]
  {
    try self.checkBatch(count: items.count, of: "completions")
    return try await self.complete(items, worker: worker)
  }

  /// A batch's size limits, shared by submit and complete batches: at least one item
  /// (`INVALID_ARGUMENT`) and at most `maxBatchSize` (`RESOURCE_EXHAUSTED`, `max_batch`).
  func checkBatch(count: Int, of what: String) throws(CallError) {
    guard count > 0 else {
      throw CallError(.invalidArgument, "a batch of \(what) needs at least one")
    }
    guard count <= self.configuration.maxBatchSize else {
      throw .limit(
        "max_batch",
        limit: self.configuration.maxBatchSize,
        observed: count,
        what: "\(what) in one batch"
      )
    }
  }

  /// Completes leased tasks; each item stands alone.
  public func complete(_ items: [Completion], worker: WorkerIdentity) async throws(CallError)
    -> [CallError?]
  {
    for item in items where item.result.count > self.configuration.maxPayloadBytes {
      throw .limit(
        "max_payload",
        limit: self.configuration.maxPayloadBytes,
        observed: item.result.count,
        what: "result size"
      )
    }
    let results = try await self.perform {
      try await self.store.complete(items, nowMs: self.nowMs)
    }
    self.workers.released(items.map(\.taskID), by: worker.id)
    return results.map { result in
      switch result {
      case .success: nil
      case .failure(let error): CallError(error)
      }
    }
  }

  /// Records a failed attempt; retries by policy or ends FAILED.
  public func fail(
    taskID: String,
    token: String,
    error: String,
    permanent: Bool,
    retryAfterMs: Int64,
    worker: WorkerIdentity
  ) async throws(CallError) -> FailOutcome {
    guard retryAfterMs >= 0 else {
      throw CallError(.invalidArgument, "retry_after_ms must not be negative")
    }
    let message = String(error.utf8.prefix(16_384)) ?? ""
    let outcome = try await self.perform {
      try await self.store.fail(
        taskID: taskID,
        token: token,
        error: message,
        permanent: permanent,
        retryAfterMs: retryAfterMs > 0 ? retryAfterMs : nil,
        nowMs: self.nowMs
      )
    }
    self.workers.released([taskID], by: worker.id)
    return outcome
  }

  /// Hands a lease back without using an attempt.
  public func release(taskID: String, token: String, worker: WorkerIdentity) async throws(CallError)
  {
    _ = try await self.perform {
      try await self.store.release(taskID: taskID, token: token, nowMs: self.nowMs)
    }
    self.workers.released([taskID], by: worker.id)
  }

  /// The worker stopped a task whose cancel was requested: it ends CANCELLED.
  public func cancelAck(taskID: String, token: String, message: String, worker: WorkerIdentity)
    async throws(CallError)
  {
    try await self.perform {
      try await self.store.cancelAck(
        taskID: taskID,
        token: token,
        message: message,
        nowMs: self.nowMs
      )
    }
    self.workers.released([taskID], by: worker.id)
  }

  /// A worker's connection closed.
  public func workerDisconnected(_ workerID: String) {
    self.workers.disconnected(workerID)
  }
}
