import Foundation
import TaskwireCore
import TaskwireStore

extension WriteSession {
  // MARK: Submit

  private struct KeyRef: Hashable {
    var queue: String
    var key: String
  }

  /// Submits `tasks`. A batch is atomic: one rejected item rejects them all ("not applied").
  /// `independently` (pipelined single submits) lets every item stand alone instead, as if each
  /// were its own call in this order — without a savepoint per item: rejections are decided
  /// before anything is written, and a failed insert fails the whole operation.
  func submit(_ tasks: [NewTask], nowMs: Int64, independently: Bool = false) throws
    -> [SubmitOutcome]
  {
    // Through the buffer, tasks are read in place: an element of the array itself would be
    // copied (a retain of each of its strings, its payload and its metadata) at every use.
    try tasks.withUnsafeBufferPointer { tasks in
      try submit(tasks, nowMs: nowMs, independently: independently)
    }
  }

  private func submit(_ tasks: UnsafeBufferPointer<NewTask>, nowMs: Int64, independently: Bool)
    throws -> [SubmitOutcome]
  {
    var outcomes = [SubmitOutcome?](repeating: nil, count: tasks.count)
    var firstRejected: Int?
    var batchKeys: [KeyRef: (index: Int, fingerprint: [UInt8])] = [:]
    var sameAsEarlier: [Int: Int] = [:]
    var fingerprints = [[UInt8]?](repeating: nil, count: tasks.count)
    // Room left in each queue, planned tasks taken off; tasks of one call share their queue,
    // so the last queue's figures are kept at hand instead of hashing its name per task.
    var room: [String: Int] = [:]
    var current: (queue: String, room: Int)?

    func reject(_ i: Int, _ error: StoreError) {
      outcomes[i] = .rejected(error)
      if firstRejected == nil { firstRejected = i }
    }

    for i in tasks.indices {
      if let message = tasks[i].validationError() {
        reject(i, .invalid(message))
        continue
      }
      if !tasks[i].idempotencyKey.isEmpty {
        let fingerprint = tasks[i].fingerprint
        fingerprints[i] = fingerprint
        let ref = KeyRef(queue: tasks[i].queue, key: tasks[i].idempotencyKey)
        if let earlier = batchKeys[ref] {
          if earlier.fingerprint == fingerprint {
            sameAsEarlier[i] = earlier.index
          } else {
            reject(i, .conflict(key: tasks[i].idempotencyKey))
          }
          continue
        }
        if let existing = try existingTask(for: tasks[i], fingerprint: fingerprint, nowMs: nowMs) {
          outcomes[i] = existing
          if case .rejected = existing, firstRejected == nil { firstRejected = i }
          continue
        }
        batchKeys[ref] = (i, fingerprint)
      }
      let queue = tasks[i].queue
      if current?.queue != queue {
        if let current { room[current.queue] = current.room }
        let left =
          room[queue]
          ?? policy.pendingLimit(for: queue) - (counters(queue)?.waiting ?? 0)
        current = (queue, left)
      }
      guard current!.room >= 1 else {
        let limit = policy.pendingLimit(for: queue)
        reject(i, .queueFull(queue: queue, limit: limit, pending: limit - current!.room))
        continue
      }
      current!.room -= 1
    }

    if let firstRejected, !independently {
      return outcomes.map { outcome in
        if let outcome, case .rejected = outcome { return outcome }
        return .rejected(.failedPrecondition("not applied: item \(firstRejected) was rejected"))
      }
    }

    // A task may go straight to a waiting poll only if no later item of this call, ready in the
    // same queue, would be leased before it (a higher priority; ready tasks of one call share
    // their run-at time, and equal ones go in submit order): the poll gets what a lease after
    // the whole call would get. Only while polls are parked: otherwise no task goes to one.
    var leadsLater = [Bool](repeating: false, count: tasks.count)
    if !parked.isEmpty {
      var bestLater: [String: Int32] = [:]
      for i in tasks.indices.reversed() where outcomes[i] == nil && sameAsEarlier[i] == nil {
        guard tasks[i].runAtMs <= nowMs else { continue }
        if let best = bestLater[tasks[i].queue], best > tasks[i].priority { continue }
        leadsLater[i] = true
        bestLater[tasks[i].queue] = tasks[i].priority
      }
    }
    for i in tasks.indices where outcomes[i] == nil && sameAsEarlier[i] == nil {
      outcomes[i] = .created(
        try insert(tasks[i], fingerprint: fingerprints[i], mayHandOff: leadsLater[i], nowMs: nowMs)
      )
    }
    for (i, earlier) in sameAsEarlier {
      switch outcomes[earlier] {
      case .created(let record)?, .existing(let record)?: outcomes[i] = .existing(record)
      // Only when independent: the earlier item with this key was refused (its queue was
      // full), so this one, asking the same, is refused the same way.
      case .rejected(let error)?: outcomes[i] = .rejected(error)
      case nil: outcomes[i] = .rejected(.internal("submit item \(earlier) has no outcome"))
      }
    }
    return outcomes.map { $0! }
  }

  /// The outcome for a keyed task whose key is live: the existing task or a conflict. Deletes an
  /// expired key row (its key is free again). `nil` when the key is free.
  private func existingTask(for task: NewTask, fingerprint: [UInt8], nowMs: Int64) throws
    -> SubmitOutcome?
  {
    let s = try db.statement(
      """
      SELECT task_id, fingerprint, created_ms, final_state, finished_ms, expires_ms
      FROM idempotency_keys WHERE queue = ? AND key = ?
      """
    )
    s.bind(0, task.queue)
    s.bind(1, task.idempotencyKey)
    guard try s.step() else {
      s.reset()
      return nil
    }
    let taskID = s.string(0)
    let stored = s.bytes(1)
    let createdMs = s.int64(2)
    let finalState = TaskState(rawValue: s.int(3))
    let finishedMs = s.int64(4)
    let expires = s.isNull(5) ? nil : s.int64(5)
    s.reset()
    if let expires, expires <= nowMs {
      try db.run("DELETE FROM idempotency_keys WHERE queue = ? AND key = ?") {
        $0.bind(0, task.queue)
        $0.bind(1, task.idempotencyKey)
      }
      return nil
    }
    guard stored == fingerprint else { return .rejected(.conflict(key: task.idempotencyKey)) }
    if let record = try TaskRow.load(db, id: taskID, withAttempts: true) {
      return .existing(record)
    }
    // The task was deleted (or cleaned on success): rebuild what we know from the request.
    var record = TaskRecord(
      id: taskID,
      spec: task,
      state: finalState ?? .succeeded,
      createdMs: createdMs,
      sequence: 0
    )
    record.finishedMs = finishedMs
    record.nextRunMs = 0
    return .existing(record)
  }

  /// Inserts `task`; when `mayHandOff` and a parked poll waits for it (``handOffTarget``), as
  /// RUNNING for that poll.
  private func insert(
    _ task: borrowing NewTask,
    fingerprint: [UInt8]?,
    mayHandOff: Bool,
    nowMs: Int64
  ) throws -> TaskRecord {
    let id = ids.next(nowMs: nowMs).rawValue
    let delayed = task.runAtMs > nowMs
    let state: TaskState = delayed ? .scheduled : .pending
    let sequence = nextSequence
    let record = TaskRecord(id: id, spec: task, state: state, createdMs: nowMs, sequence: sequence)
    let external = task.payload.count > Schema.externalPayloadBytes
    // A READY task that a parked long poll is waiting for goes to it in this same INSERT.
    var handOff: (index: Int, grant: LeaseGrant)?
    // The row's rid, for the ready index (a READY task only).
    var rid: Int64 = 0
    if !delayed, mayHandOff, let index = handOffTarget(queue: task.queue, type: task.type) {
      // Its events: created (`sequence`), then RUNNING (`sequence + 1`), the grant's.
      let grant = handOffGrant(record, sequence: sequence + 1, nowMs: nowMs)
      recordHandOff(grant, to: index)
      handOff = (index, grant)
    }
    if let (index, grant) = handOff {
      let s = try db.statement(
        """
        INSERT INTO tasks(id, queue, type, payload, content_type, priority, run_at_ms, idem_key,
          max_attempts, retry_kind, retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter,
          lease_duration_ms, execution_timeout_ms, metadata, parent_id, clean_on_success,
          created_by, state, attempt, created_ms, updated_ms, next_run_ms, last_seq,
          worker_id, lease_token, lease_deadline_ms, attempt_started_ms, expire_ms, started_ms,
          payload_external)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3, 1, ?, ?, 0, ?,
          ?, ?, ?, ?, ?, ?, ?)
        """
      )
      bindSpec(s, id: id, task: task, record: record)
      s.bind(29, external)
      s.bind(20, nowMs)
      s.bind(21, nowMs)
      s.bind(22, Int64(grant.sequence))
      s.bind(23, handOffs[index].workerID)
      s.bind(24, grant.leaseToken)
      s.bind(25, grant.leaseDeadlineMs)
      s.bind(26, nowMs)
      s.bind(
        27,
        expireMs(
          deadline: grant.leaseDeadlineMs,
          timeoutMs: grant.executionTimeoutMs,
          nowMs: nowMs
        )
      )
      s.bind(28, nowMs)
      _ = try s.step()
      s.reset()
    } else {
      let s = try db.statement(
        """
        INSERT INTO tasks(id, queue, type, payload, content_type, priority, run_at_ms, idem_key,
          max_attempts, retry_kind, retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter,
          lease_duration_ms, execution_timeout_ms, metadata, parent_id, clean_on_success,
          created_by, state, attempt, created_ms, updated_ms, next_run_ms, last_seq,
          payload_external)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
        """
      )
      bindSpec(s, id: id, task: task, record: record)
      s.bind(25, external)
      s.bind(20, state.rawValue)
      s.bind(21, nowMs)
      s.bind(22, nowMs)
      s.bind(23, record.nextRunMs)
      s.bind(24, Int64(sequence))
      _ = try s.step()
      s.reset()
      rid = db.lastInsertRowID
    }
    if external {
      // Its payload, written once here: state changes rewrite only the (small) task row. Bound
      // in place, not copied: it is reset before the bytes' scope ends.
      let s = try db.statement(
        "INSERT INTO task_payloads(rid, payload) VALUES (last_insert_rowid(), ?)"
      )
      try task.payload.withUnsafeBytes { bytes in
        defer { s.reset() }
        s.bind(0, borrowing: bytes)
        _ = try s.step()
      }
    }
    if let fingerprint {
      try db.run(
        """
        INSERT INTO idempotency_keys(queue, key, task_id, fingerprint, created_ms)
        VALUES (?, ?, ?, ?, ?)
        """
      ) {
        $0.bind(0, task.queue)
        $0.bind(1, task.idempotencyKey)
        $0.bind(2, id)
        $0.bind(3, bytes: fingerprint)
        $0.bind(4, nowMs)
      }
    }
    try append(
      EventRecord(
        sequence: 0,
        taskID: id,
        kind: .created,
        state: state,
        attempt: 0,
        timeMs: nowMs,
        queue: task.queue,
        type: task.type,
        nextRunMs: record.nextRunMs,
        createdBy: record.createdBy
      )
    )
    if handOff != nil {
      // The same two events as a grant at the group's end: created READY, then RUNNING.
      try append(
        runningEvent(
          taskID: id,
          queue: task.queue,
          type: task.type,
          attempt: 1,
          createdBy: record.createdBy,
          nowMs: nowMs
        )
      )
      move(queue: task.queue, from: nil, to: .running, ready: nil)
    } else {
      let ready =
        state == .pending
        ? ReadyTask(
          rid: rid,
          type: task.type,
          priority: task.priority,
          runAtMs: record.runAtMs,
          tag: ReadyEntry.tag(id)
        ) : nil
      move(queue: task.queue, from: nil, to: state, ready: ready)
    }
    return record
  }

  /// Binds the columns both task INSERTs share (parameters 0–19).
  private func bindSpec(_ s: SQLiteStatement, id: String, task: NewTask, record: TaskRecord) {
    s.bind(0, id)
    s.bind(1, task.queue)
    s.bind(2, task.type)
    // A payload stored outside the row (``Schema/externalPayloadBytes``) leaves it empty here.
    s.bind(3, task.payload.count > Schema.externalPayloadBytes ? Data() : task.payload)
    s.bind(4, task.contentType)
    s.bind(5, task.priority)
    s.bind(6, record.runAtMs)
    s.bind(7, task.idempotencyKey)
    s.bind(8, task.maxAttempts)
    s.bind(9, task.retryPolicy.kind.rawValue)
    s.bind(10, task.retryPolicy.initialMs)
    s.bind(11, task.retryPolicy.multiplier)
    s.bind(12, task.retryPolicy.maxMs)
    s.bind(13, task.retryPolicy.jitter)
    s.bind(14, task.leaseDurationMs)
    s.bind(15, task.executionTimeoutMs)
    s.bind(16, MetadataCodec.encode(task.metadata))
    s.bind(17, task.parentID)
    s.bind(18, task.cleanOnSuccess)
    s.bind(19, record.createdBy)
  }
}
