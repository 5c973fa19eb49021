import Foundation
import TaskwireCore
import TaskwireStore

extension WriteSession {
  /// How many rows one sweep call handles at most; the caller calls again when it got that many.
  static let sweepBatch = 10_000

  // MARK: Expired leases and execution timeouts

  func expireLeases(nowMs: Int64) throws -> [ExpiredLease] {
    let s = try db.statement(
      """
      SELECT rid FROM tasks INDEXED BY tasks_expire
      WHERE state = 3 AND expire_ms <= ? ORDER BY expire_ms LIMIT ?
      """
    )
    s.bind(0, nowMs)
    s.bind(1, Self.sweepBatch)
    var rids: [Int64] = []
    while try s.step() { rids.append(s.int64(0)) }
    s.reset()
    var expired: [ExpiredLease] = []
    for rid in rids {
      guard let core = try loadCore(rid: rid), core.state == .running else { continue }
      let timedOut =
        core.executionTimeoutMs > 0 && core.attemptStartedMs + core.executionTimeoutMs <= nowMs
      let attemptsLeft = core.attempt < core.maxAttempts
      let transition: TaskLifecycle.Transition =
        timedOut
        ? .executionTimedOut(attemptsLeft: attemptsLeft, cancelRequested: core.cancelRequested)
        : .leaseExpired(attemptsLeft: attemptsLeft, cancelRequested: core.cancelRequested)
      guard case .success(.moved(let state)) = TaskLifecycle.apply(transition, to: core.state)
      else { continue }
      let error = timedOut ? "execution timeout" : "lease expired"
      var nextRunMs: Int64 = 0
      if state == .retrying {
        nextRunMs =
          nowMs + core.retryPolicy.delayMs(afterAttempt: Int(core.attempt), random: &random)
      }
      try endAttempt(
        core,
        outcome: state == .cancelled ? .cancelled : (timedOut ? .timedOut : .leaseExpired),
        error: error,
        answer: state,
        answerNextRunMs: nextRunMs,
        nowMs: nowMs
      )
      try settle(core, to: state, nextRunMs: nextRunMs, error: error, nowMs: nowMs)
      expired.append(
        ExpiredLease(
          taskID: core.id,
          queue: core.queue,
          workerID: core.workerID,
          attempt: core.attempt,
          reason: timedOut ? .executionTimeout : .leaseExpired,
          newState: state,
          nextRunMs: nextRunMs
        )
      )
    }
    return expired
  }

  // MARK: Promotion of due tasks

  func promoteDue(nowMs: Int64) throws -> [String: Int] {
    let s = try db.statement(
      """
      SELECT rid, id, queue, type, state, attempt, created_by, priority, run_at_ms
      FROM tasks INDEXED BY tasks_due
      WHERE state IN (2, 4) AND next_run_ms <= ? ORDER BY next_run_ms LIMIT ?
      """
    )
    s.bind(0, nowMs)
    s.bind(1, Self.sweepBatch)
    var due:
      [(
        rid: Int64, id: String, queue: String, type: String, state: TaskState, attempt: Int32,
        createdBy: String, priority: Int32, runAtMs: Int64
      )] = []
    while try s.step() {
      due.append(
        (
          s.int64(0), s.string(1), s.string(2), s.string(3),
          TaskState(rawValue: s.int(4)) ?? .scheduled, s.int32(5), s.string(6), s.int32(7),
          s.int64(8)
        )
      )
    }
    s.reset()
    var promoted: [String: Int] = [:]
    for task in due {
      let sequence = nextSequence
      try db.run(
        "UPDATE tasks SET state = 1, next_run_ms = 0, updated_ms = ?, last_seq = ? WHERE rid = ?"
      ) {
        $0.bind(0, nowMs)
        $0.bind(1, Int64(sequence))
        $0.bind(2, task.rid)
      }
      try append(
        EventRecord(
          sequence: 0,
          taskID: task.id,
          kind: .stateChanged,
          state: .pending,
          attempt: task.attempt,
          timeMs: nowMs,
          queue: task.queue,
          type: task.type,
          createdBy: task.createdBy
        )
      )
      move(
        queue: task.queue,
        from: task.state,
        to: .pending,
        ready: ReadyTask(
          rid: task.rid,
          type: task.type,
          priority: task.priority,
          runAtMs: task.runAtMs,
          tag: ReadyEntry.tag(task.id)
        )
      )
      promoted[task.queue, default: 0] += 1
    }
    return promoted
  }

  // MARK: Retention

  func purge(nowMs: Int64) throws -> PurgeCounts {
    var counts = PurgeCounts()
    let batch = Swift.max(policy.purgeBatch, 1)

    // Finished tasks: the oldest first, each checked against its queue's retention.
    let maxRetention = ([policy.finishedRetentionMs] + policy.finishedRetention.values).max() ?? 0
    let minRetention = ([policy.finishedRetentionMs] + policy.finishedRetention.values).min() ?? 0
    let s = try db.statement(
      """
      SELECT rid, id, queue, type, state, attempt, finished_ms FROM tasks INDEXED BY tasks_finished
      WHERE state BETWEEN 5 AND 7 AND finished_ms <= ? ORDER BY finished_ms LIMIT ?
      """
    )
    s.bind(0, nowMs - minRetention)
    s.bind(1, batch)
    var victims: [(rid: Int64, id: String, queue: String, state: TaskState)] = []
    var scanned = 0
    while try s.step() {
      scanned += 1
      let queue = s.string(2)
      if s.int64(6) <= nowMs - policy.finishedRetention(for: queue) {
        victims.append(
          (s.int64(0), s.string(1), queue, TaskState(rawValue: s.int(4)) ?? .succeeded)
        )
      }
    }
    s.reset()
    if scanned == batch && maxRetention != minRetention || victims.count == batch {
      counts.more = true
    }
    for victim in victims {
      try db.run("DELETE FROM tasks WHERE rid = ?") { $0.bind(0, victim.rid) }
      try db.run("DELETE FROM attempts WHERE task_id = ?") { $0.bind(0, victim.id) }
      // Finished tasks only: none is in the ready index.
      move(queue: victim.queue, from: victim.state, to: nil, ready: nil)
    }
    counts.tasks = victims.count

    // Idempotency keys past their expiry.
    let k = try db.statement(
      """
      SELECT queue, key FROM idempotency_keys INDEXED BY idempotency_expiry
      WHERE expires_ms IS NOT NULL AND expires_ms <= ? LIMIT ?
      """
    )
    k.bind(0, nowMs)
    k.bind(1, batch)
    var keys: [(String, String)] = []
    while try k.step() { keys.append((k.string(0), k.string(1))) }
    k.reset()
    for (queue, key) in keys {
      try db.run("DELETE FROM idempotency_keys WHERE queue = ? AND key = ?") {
        $0.bind(0, queue)
        $0.bind(1, key)
      }
    }
    counts.idempotencyKeys = keys.count
    if keys.count == batch { counts.more = true }
    try db.run(
      """
      DELETE FROM cleaned_tasks WHERE task_id IN (
        SELECT task_id FROM cleaned_tasks WHERE finished_ms <= ? ORDER BY finished_ms LIMIT ?)
      """
    ) {
      $0.bind(0, nowMs - policy.idempotencyRetentionMs)
      $0.bind(1, batch)
    }

    // Events: older than the retention, or beyond the newest `maxEvents`.
    let oldest = try db.scalar("SELECT min(seq) FROM events") ?? 0
    if oldest > 0 {
      var cutoff = Int64(committedSequence) - Int64(policy.maxEvents)  // delete seq <= cutoff
      // Scan at most one batch from the oldest for the first event young enough to keep.
      let firstYoung =
        try db.scalar(
          "SELECT seq FROM events WHERE seq < ? AND time_ms >= ? ORDER BY seq LIMIT 1"
        ) {
          $0.bind(0, oldest + Int64(batch))
          $0.bind(1, nowMs - policy.eventRetentionMs)
        } ?? (oldest + Int64(batch))
      cutoff = Swift.max(cutoff, firstYoung - 1)
      cutoff = Swift.min(cutoff, oldest + Int64(batch) - 1)
      if cutoff >= oldest {
        try db.run("DELETE FROM events WHERE seq <= ?") { $0.bind(0, cutoff) }
        counts.events = db.changes
        // The sequence goes on after the purged events, even when none is left (at open, the
        // writer starts after both this and the newest event).
        try db.run(
          "UPDATE meta SET value = max(value, ?) WHERE key = 'last_event_seq'"
        ) { $0.bind(0, Swift.min(cutoff, Int64(lastSequence))) }
        if counts.events == batch { counts.more = true }
      }
    }
    return counts
  }

  // MARK: Queues and tokens

  func setPausedFlag(queue: String, paused: Bool) throws {
    guard !queue.isEmpty else { throw StoreError.invalid("queue must not be empty") }
    setPaused(queue: queue, paused: paused)
  }

  func createToken(name: String, role: TokenRecord.Role, hash: String, nowMs: Int64) throws
    -> TokenRecord
  {
    guard !name.isEmpty else { throw StoreError.invalid("token name must not be empty") }
    guard !hash.isEmpty else { throw StoreError.invalid("token hash must not be empty") }
    let exists = try db.scalar("SELECT 1 FROM tokens WHERE name = ? AND revoked_ms = 0") {
      $0.bind(0, name)
    }
    if exists != nil { throw StoreError.alreadyExists("token \"\(name)\"") }
    let record = TokenRecord(
      id: ids.next(nowMs: nowMs).rawValue,
      name: name,
      role: role,
      hash: hash,
      createdMs: nowMs,
      revokedMs: 0
    )
    try db.run(dynamic: "INSERT INTO tokens(\(TaskRow.tokenColumns)) VALUES (?, ?, ?, ?, ?, 0)") {
      $0.bind(0, record.id)
      $0.bind(1, record.name)
      $0.bind(2, record.role.rawValue)
      $0.bind(3, record.hash)
      $0.bind(4, record.createdMs)
    }
    return record
  }

  func revokeToken(idOrName: String, nowMs: Int64) throws -> TokenRecord {
    let s = try db.statement(
      dynamic: """
        SELECT \(TaskRow.tokenColumns) FROM tokens
        WHERE id = ? OR (name = ? AND revoked_ms = 0) ORDER BY revoked_ms LIMIT 1
        """
    )
    s.bind(0, idOrName)
    s.bind(1, idOrName)
    guard try s.step() else {
      s.reset()
      throw StoreError.notFound("token \"\(idOrName)\"")
    }
    var record = TaskRow.decodeToken(s)
    s.reset()
    guard record.revokedMs == 0 else { return record }
    record.revokedMs = nowMs
    try db.run("UPDATE tokens SET revoked_ms = ? WHERE id = ?") {
      $0.bind(0, nowMs)
      $0.bind(1, record.id)
    }
    return record
  }
}
