import Foundation
import TaskwireCore
import TaskwireStore

extension WriteSession {
  // MARK: Lease

  /// A ready task as the lease query reads it: its order and everything its grant carries, so
  /// granting needs no second read of the row.
  private struct Candidate {
    var priority: Int32
    var runAtMs: Int64
    var rid: Int64
    var id: String
    var queue: String
    var type: String
    var payload: Data
    var contentType: String
    var attempt: Int32
    var maxAttempts: Int32
    var leaseDurationMs: Int64
    var executionTimeoutMs: Int64
    var metadata: Data
    var parentID: String
    var createdMs: Int64
    var startedMs: Int64

    /// Reads a row of the lease queries (their column order).
    init(_ s: SQLiteStatement) {
      priority = s.int32(0)
      runAtMs = s.int64(1)
      rid = s.int64(2)
      id = s.string(3)
      queue = s.string(4)
      type = s.string(5)
      payload = s.data(6)
      contentType = s.string(7)
      attempt = s.int32(8)
      maxAttempts = s.int32(9)
      leaseDurationMs = s.int64(10)
      executionTimeoutMs = s.int64(11)
      metadata = s.data(12)
      parentID = s.string(13)
      createdMs = s.int64(14)
      startedMs = s.int64(15)
    }
  }

  /// The row an entry of the ready index stands for, if it is that PENDING task in `queue` and
  /// `type`, in the entry's place in the lease order.
  private func readyCandidate(_ entry: ReadyEntry, queue: String, type: String) throws
    -> Candidate?
  {
    let s = try db.statement(
      """
      SELECT priority, run_at_ms, rid, id, queue, type,
        CASE payload_external WHEN 0 THEN payload
        ELSE (SELECT p.payload FROM task_payloads AS p WHERE p.rid = tasks.rid) END,
        content_type, attempt, max_attempts, lease_duration_ms, execution_timeout_ms,
        metadata, parent_id, created_ms, started_ms, state
      FROM tasks WHERE rid = ?
      """
    )
    s.bind(0, entry.rid)
    defer { s.reset() }
    guard try s.step(), s.int(16) == TaskState.pending.rawValue else { return nil }
    let candidate = Candidate(s)
    guard candidate.priority == entry.priority, candidate.runAtMs == entry.runAtMs,
      candidate.queue == queue, candidate.type == type,
      ReadyEntry.tag(candidate.id) == entry.tag
    else { return nil }
    return candidate
  }

  func lease(queues names: [String], types: [String], max: Int, workerID: String, nowMs: Int64)
    throws -> [LeaseGrant]
  {
    guard max > 0 else { return [] }
    var seen = Set<String>()
    let candidatesQueues = (names.isEmpty ? Array(queues.keys) : names).filter {
      seen.insert($0).inserted
    }
    // Where the tasks come from: the ready index's heaps of each queue (every type, or the
    // types asked for), merged in lease order.
    var sources: [(queue: String, type: String)] = []
    let wantedTypes = Array(Set(types))
    for queue in candidatesQueues {
      guard let counters = counters(queue), !counters.paused,
        counters.counts[TaskState.pending.rawValue] > 0
      else { continue }
      for type in types.isEmpty ? ready.types(of: queue) : wantedTypes {
        sources.append((queue, type))
      }
    }
    var grants: [LeaseGrant] = []
    // The answer must fit in a frame: tasks in order until the next would pass the budget.
    var bytes = 0
    while grants.count < max {
      // The source whose first live entry leases first; dead entries at the tops leave.
      var best: (index: Int, entry: ReadyEntry)?
      var i = 0
      while i < sources.count {
        guard let top = ready.top(queue: sources[i].queue, type: sources[i].type) else {
          sources.swapAt(i, sources.count - 1)
          sources.removeLast()
          continue
        }
        if ready.isDead(top) {
          popReady(queue: sources[i].queue, type: sources[i].type)
          continue
        }
        if best == nil || top.precedes(best!.entry) { best = (i, top) }
        i += 1
      }
      guard let (index, entry) = best else { break }
      let source = sources[index]
      guard let candidate = try readyCandidate(entry, queue: source.queue, type: source.type)
      else {
        // Not the task it stands for (a safety net: the index and the table disagree).
        popReady(queue: source.queue, type: source.type)
        continue
      }
      bytes += candidate.payload.count + candidate.metadata.count + 256
      if !grants.isEmpty, bytes > policy.maxLeaseBytes { break }
      popReady(queue: source.queue, type: source.type)
      grants.append(try grant(candidate, workerID: workerID, nowMs: nowMs))
    }
    return grants
  }

  /// Leases like ``lease(queues:types:max:workerID:nowMs:)``; when nothing is ready, parks
  /// `wait` so that a later group that makes tasks ready for it grants them in its own
  /// transaction (``serveParked(nowMs:)``). A wait withdrawn before this runs (its call was
  /// cancelled meanwhile) takes nothing.
  func leaseOrPark(
    queues names: [String],
    types: [String],
    max: Int,
    workerID: String,
    nowMs: Int64,
    wait: LeaseWait
  ) throws -> [LeaseGrant] {
    guard !wait.isEnded else { return [] }
    let grants = try lease(queues: names, types: types, max: max, workerID: workerID, nowMs: nowMs)
    if grants.isEmpty, !wait.isEnded {
      if parked.count >= parkedPurgeAt {
        // Polls that ended while parked (deadline, cancel) leave here in bulk, so the list stays
        // within twice the live polls (plus 64) whether or not tasks arrive.
        parked.removeAll { $0.wait.isEnded }
        parkedPurgeAt = Swift.max(64, parked.count * 2)
      }
      parked.append(
        ParkedLease(wait: wait, queues: names, types: types, max: max, workerID: workerID)
      )
      parkedInGroup.append(wait)
    }
    return grants
  }

  /// At the end of a group, before COMMIT: leases to parked long polls, oldest first, from the
  /// queues the group made ready, each try in its own savepoint, until those queues have nothing
  /// left to lease. Returns the waits served and their grants, to resolve once the group has
  /// committed (or failed to); drops the waits it finds ended.
  func serveParked(nowMs: Int64) -> [(wait: LeaseWait, grants: [LeaseGrant])] {
    // Nothing below readies a queue (its leases move tasks out of PENDING).
    let readied = takeReadied()
    // Waits the group's submits handed tasks to are served with those, and leave `parked`.
    var served = handOffs.map { (wait: $0.wait, grants: $0.grants) }
    if !handOffs.isEmpty {
      let handed = handOffIndex
      parked.removeAll { handed[ObjectIdentifier($0.wait)] != nil }
      handOffs.removeAll(keepingCapacity: true)
      handOffIndex.removeAll(keepingCapacity: true)
      handOffLog.removeAll(keepingCapacity: true)
    }
    guard !parked.isEmpty, !readied.isEmpty else { return served }
    var finished: [Int] = []
    var open = readied.filter(isLeasable)
    var index = 0
    while index < parked.count, !open.isEmpty {
      defer { index += 1 }
      let request = parked[index]
      if request.wait.isEnded {
        finished.append(index)
        continue
      }
      let wanted = request.queues.isEmpty ? Array(open) : request.queues.filter(open.contains)
      if wanted.isEmpty { continue }
      guard request.wait.claim() else {
        finished.append(index)
        continue
      }
      let mark = self.mark
      var grants: [LeaseGrant] = []
      do {
        try db.run("SAVEPOINT park")
        do {
          grants = try lease(
            queues: wanted,
            types: request.types,
            max: request.max,
            workerID: request.workerID,
            nowMs: nowMs
          )
          try db.run("RELEASE park")
        } catch {
          try? db.run("ROLLBACK TO park")
          try? db.run("RELEASE park")
          rollback(to: mark)
          throw error
        }
      } catch {
        request.wait.resolve(.failure(SQLiteTaskStore.storeError(error)))
        finished.append(index)
        continue
      }
      if grants.isEmpty {
        if !request.wait.unclaim() { finished.append(index) }
      } else {
        served.append((request.wait, grants))
        finished.append(index)
      }
      open = open.filter(isLeasable)
    }
    // Usually one or two, near the front: removing them shifts the rest without copying it.
    for index in finished.reversed() { parked.remove(at: index) }
    return served
  }

  /// The parked long poll a task about to be inserted READY goes to straight away, as the index
  /// of its entry in ``handOffs`` (claimed for the group), or `nil`. Only when the task's queue
  /// has nothing else ready and is not paused: it is then the one task a lease there would
  /// grant, so the oldest fitting poll gets it as ``serveParked(nowMs:)`` would give it — with
  /// one INSERT instead of an INSERT, the lease query and an UPDATE (and no trip through the
  /// ready indexes).
  func handOffTarget(queue: String, type: String) -> Int? {
    guard !parked.isEmpty else { return nil }
    // A queue without counters has never held a task.
    if let counters = counters(queue),
      counters.paused || counters.counts[TaskState.pending.rawValue] > 0
    {
      return nil
    }
    for request in parked {
      guard request.queues.isEmpty || request.queues.contains(queue),
        request.types.isEmpty || request.types.contains(type)
      else { continue }
      if let index = handOffIndex[ObjectIdentifier(request.wait)] {
        if handOffs[index].grants.count < handOffs[index].max { return index }
        continue
      }
      guard request.wait.claim() else { continue }
      handOffs.append(
        HandOff(wait: request.wait, max: request.max, workerID: request.workerID, grants: [])
      )
      handOffIndex[ObjectIdentifier(request.wait)] = handOffs.count - 1
      return handOffs.count - 1
    }
    return nil
  }

  /// The grant of a task inserted RUNNING for a parked poll: its first attempt, from `nowMs`.
  func handOffGrant(_ record: TaskRecord, sequence: UInt64, nowMs: Int64) -> LeaseGrant {
    LeaseGrant(
      taskID: record.id,
      queue: record.queue,
      type: record.type,
      payload: record.payload,
      contentType: record.contentType,
      priority: record.priority,
      attempt: 1,
      maxAttempts: record.maxAttempts,
      leaseToken: tokens.next(),
      leaseDeadlineMs: nowMs + record.leaseDurationMs,
      leaseDurationMs: record.leaseDurationMs,
      executionTimeoutMs: record.executionTimeoutMs,
      metadata: record.metadata,
      parentID: record.parentID,
      createdMs: record.createdMs,
      sequence: sequence
    )
  }

  /// The event of a task leased at `nowMs` for its attempt `attempt`.
  func runningEvent(
    taskID: String,
    queue: String,
    type: String,
    attempt: Int32,
    createdBy: String,
    nowMs: Int64
  ) -> EventRecord {
    EventRecord(
      sequence: 0,
      taskID: taskID,
      kind: .stateChanged,
      state: .running,
      attempt: attempt,
      timeMs: nowMs,
      queue: queue,
      type: type,
      createdBy: createdBy
    )
  }

  /// When a lease from `nowMs` with this deadline and execution timeout (0: none) expires.
  func expireMs(deadline: Int64, timeoutMs: Int64, nowMs: Int64) -> Int64 {
    timeoutMs > 0 ? Swift.min(deadline, nowMs + timeoutMs) : deadline
  }

  /// Records `grant` as handed to the wait of `handOffs[index]` (undone by a rollback).
  func recordHandOff(_ grant: LeaseGrant, to index: Int) {
    handOffs[index].grants.append(grant)
    handOffLog.append(index)
  }

  /// Whether `queue` has PENDING tasks and is not paused.
  private func isLeasable(_ queue: String) -> Bool {
    guard let counters = counters(queue) else { return false }
    return !counters.paused && counters.counts[TaskState.pending.rawValue] > 0
  }

  /// Ends every parked long poll with no tasks (the store is closing).
  func endParked() {
    for request in parked { request.wait.resolve(.success([])) }
    parked.removeAll()
  }

  private func grant(_ candidate: Candidate, workerID: String, nowMs: Int64) throws -> LeaseGrant {
    let attempt = candidate.attempt + 1
    let leaseDurationMs = candidate.leaseDurationMs
    let executionTimeoutMs = candidate.executionTimeoutMs
    let startedMs = candidate.startedMs
    let rid = candidate.rid
    let id = candidate.id
    let queue = candidate.queue
    let type = candidate.type
    let token = tokens.next()
    let deadline = nowMs + leaseDurationMs
    let expire = expireMs(deadline: deadline, timeoutMs: executionTimeoutMs, nowMs: nowMs)
    let sequence = nextSequence
    let grant = LeaseGrant(
      taskID: id,
      queue: queue,
      type: type,
      payload: candidate.payload,
      contentType: candidate.contentType,
      priority: candidate.priority,
      attempt: attempt,
      maxAttempts: candidate.maxAttempts,
      leaseToken: token,
      leaseDeadlineMs: deadline,
      leaseDurationMs: leaseDurationMs,
      executionTimeoutMs: executionTimeoutMs,
      metadata: MetadataCodec.decode(candidate.metadata),
      parentID: candidate.parentID,
      createdMs: candidate.createdMs,
      sequence: sequence
    )
    try db.run(
      """
      UPDATE tasks SET state = 3, attempt = ?, worker_id = ?, lease_token = ?,
        lease_deadline_ms = ?, attempt_started_ms = ?, expire_ms = ?, started_ms = ?,
        progress = 0, progress_message = '', updated_ms = ?, last_seq = ?
      WHERE rid = ?
      """
    ) {
      $0.bind(0, attempt)
      $0.bind(1, workerID)
      $0.bind(2, token)
      $0.bind(3, deadline)
      $0.bind(4, nowMs)
      $0.bind(5, expire)
      $0.bind(6, startedMs == 0 ? nowMs : startedMs)
      $0.bind(7, nowMs)
      $0.bind(8, Int64(sequence))
      $0.bind(9, rid)
    }
    // The running attempt lives in the task row; its attempts row is written when it ends.
    try append(
      runningEvent(
        taskID: id,
        queue: queue,
        type: type,
        attempt: attempt,
        createdBy: grant.metadata["created_by"] ?? "",
        nowMs: nowMs
      )
    )
    // Its entry already left the ready index (``lease``).
    move(queue: queue, from: .pending, to: .running, ready: nil)
    return grant
  }

  // MARK: Heartbeat

  func heartbeat(taskID: String, token: String, progress: ProgressUpdate?, nowMs: Int64) throws
    -> HeartbeatOutcome
  {
    let core = try requireCore(id: taskID)
    guard core.holds(token) else { throw StoreError.leaseLost(taskID: taskID) }
    let deadline = nowMs + core.leaseDurationMs
    let expire =
      core.executionTimeoutMs > 0
      ? Swift.min(deadline, core.attemptStartedMs + core.executionTimeoutMs) : deadline
    if let progress {
      let percent = Swift.min(Swift.max(progress.percent, 0), 100)
      let sequence = nextSequence
      try db.run(
        """
        UPDATE tasks SET lease_deadline_ms = ?, expire_ms = ?, progress = ?, progress_message = ?,
          updated_ms = ?, last_seq = ?
        WHERE rid = ?
        """
      ) {
        $0.bind(0, deadline)
        $0.bind(1, expire)
        $0.bind(2, percent)
        $0.bind(3, progress.message)
        $0.bind(4, nowMs)
        $0.bind(5, Int64(sequence))
        $0.bind(6, core.rid)
      }
      try append(
        event(
          core,
          .progress,
          state: .running,
          nowMs: nowMs,
          progress: percent,
          message: progress.message
        )
      )
    } else {
      try db.run("UPDATE tasks SET lease_deadline_ms = ?, expire_ms = ? WHERE rid = ?") {
        $0.bind(0, deadline)
        $0.bind(1, expire)
        $0.bind(2, core.rid)
      }
    }
    return HeartbeatOutcome(leaseDeadlineMs: deadline, cancelRequested: core.cancelRequested)
  }
}
