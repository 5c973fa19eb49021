import Foundation
import TaskwireCore
import TaskwireStore

/// The fields of a task row the state-changing operations need (no payload, no result).
struct TaskCore {
  var rid: Int64
  var id: String
  var queue: String
  var type: String
  var state: TaskState
  var attempt: Int32
  var maxAttempts: Int32
  var retryPolicy: RetryPolicy
  var leaseToken: String
  var workerID: String
  var cancelRequested: Bool
  var cleanOnSuccess: Bool
  var idempotencyKey: String
  var leaseDurationMs: Int64
  var executionTimeoutMs: Int64
  var attemptStartedMs: Int64
  var nextRunMs: Int64
  var cancelReason: String

  static let columns = """
    rid, id, queue, type, state, attempt, max_attempts, retry_kind, retry_initial_ms, \
    retry_multiplier, retry_max_ms, retry_jitter, lease_token, worker_id, cancel_requested, \
    clean_on_success, idem_key, lease_duration_ms, execution_timeout_ms, attempt_started_ms, \
    next_run_ms, cancel_reason
    """

  init(_ s: SQLiteStatement) {
    rid = s.int64(0)
    id = s.string(1)
    queue = s.string(2)
    type = s.string(3)
    state = TaskState(rawValue: s.int(4)) ?? .pending
    attempt = s.int32(5)
    maxAttempts = s.int32(6)
    retryPolicy = RetryPolicy(
      kind: RetryPolicy.Kind(rawValue: s.int(7)) ?? .exponential,
      initialMs: s.int64(8),
      multiplier: s.double(9),
      maxMs: s.int64(10),
      jitter: s.double(11)
    )
    leaseToken = s.string(12)
    workerID = s.string(13)
    cancelRequested = s.bool(14)
    cleanOnSuccess = s.bool(15)
    idempotencyKey = s.string(16)
    leaseDurationMs = s.int64(17)
    executionTimeoutMs = s.int64(18)
    attemptStartedMs = s.int64(19)
    nextRunMs = s.int64(20)
    cancelReason = s.string(21)
  }

  /// Whether `token` holds the task's current lease.
  func holds(_ token: String) -> Bool { state == .running && !token.isEmpty && leaseToken == token }
}

extension WriteSession {
  func loadCore(id: String) throws(SQLiteError) -> TaskCore? {
    let s = try db.statement("SELECT \(TaskCore.columns) FROM tasks WHERE id = ?")
    s.bind(0, id)
    defer { s.reset() }
    return try s.step() ? TaskCore(s) : nil
  }

  func loadCore(rid: Int64) throws(SQLiteError) -> TaskCore? {
    let s = try db.statement("SELECT \(TaskCore.columns) FROM tasks WHERE rid = ?")
    s.bind(0, rid)
    defer { s.reset() }
    return try s.step() ? TaskCore(s) : nil
  }

  /// Loads a task that must exist.
  func requireCore(id: String) throws -> TaskCore {
    guard let core = try loadCore(id: id) else { throw StoreError.notFound("task \(id)") }
    return core
  }

  func event(
    _ core: TaskCore,
    _ kind: EventRecord.Kind,
    state: TaskState,
    attempt: Int32? = nil,
    nowMs: Int64,
    progress: Int32 = 0,
    message: String = "",
    error: String = "",
    resultSize: Int64 = 0,
    nextRunMs: Int64 = 0
  ) -> EventRecord {
    EventRecord(
      sequence: 0,
      taskID: core.id,
      kind: kind,
      state: state,
      attempt: attempt ?? core.attempt,
      progress: progress,
      message: message,
      error: error,
      resultSize: resultSize,
      timeMs: nowMs,
      queue: core.queue,
      type: core.type,
      nextRunMs: nextRunMs
    )
  }

  /// Records how the attempt holding `token` ended.
  func endAttempt(
    taskID: String,
    token: String,
    outcome: AttemptRecord.Outcome,
    error: String = "",
    resultSize: Int64 = 0,
    answer: TaskState,
    answerNextRunMs: Int64 = 0,
    nowMs: Int64
  ) throws(SQLiteError) {
    try db.run(
      """
      UPDATE attempts SET ended_ms = ?, outcome = ?, error = ?, result_size = ?, answer_state = ?,
        answer_next_run_ms = ?
      WHERE task_id = ? AND lease_token = ?
      """
    ) {
      $0.bind(0, nowMs)
      $0.bind(1, outcome.rawValue)
      $0.bind(2, error)
      $0.bind(3, resultSize)
      $0.bind(4, answer.rawValue)
      $0.bind(5, answerNextRunMs)
      $0.bind(6, taskID)
      $0.bind(7, token)
    }
  }

  /// How the attempt with `token` ended, if that token belonged to one of the task's attempts.
  func finishedAttempt(taskID: String, token: String) throws(SQLiteError) -> (
    outcome: AttemptRecord.Outcome, answer: TaskState?, nextRunMs: Int64, attempt: Int32,
    endedMs: Int64
  )? {
    guard !token.isEmpty else { return nil }
    let s = try db.statement(
      """
      SELECT outcome, answer_state, answer_next_run_ms, number, ended_ms FROM attempts
      WHERE task_id = ? AND lease_token = ?
      """
    )
    s.bind(0, taskID)
    s.bind(1, token)
    defer { s.reset() }
    guard try s.step() else { return nil }
    return (
      AttemptRecord.Outcome(rawValue: s.int(0)) ?? .running, TaskState(rawValue: s.int(1)),
      s.int64(2), s.int32(3), s.int64(4)
    )
  }

  /// Starts (or ends) the expiry clock of a task's idempotency key as the task finishes (or is
  /// requeued).
  func updateKey(_ core: TaskCore, finalState: TaskState?, nowMs: Int64) throws(SQLiteError) {
    guard !core.idempotencyKey.isEmpty else { return }
    try db.run(
      """
      UPDATE idempotency_keys SET final_state = ?, finished_ms = ?, expires_ms = ?
      WHERE queue = ? AND key = ? AND task_id = ?
      """
    ) {
      if let finalState {
        $0.bind(0, finalState.rawValue)
        $0.bind(1, nowMs)
        $0.bind(2, nowMs + policy.idempotencyRetentionMs)
      } else {
        $0.bind(0, 0)
        $0.bind(1, 0)
        $0.bindNull(2)
      }
      $0.bind(3, core.queue)
      $0.bind(4, core.idempotencyKey)
      $0.bind(5, core.id)
    }
  }

  /// Moves a running task whose attempt ended (failed, expired, timed out, cancel-acknowledged,
  /// released) to `state`, with its event and counters.
  func settle(
    _ core: TaskCore,
    to state: TaskState,
    attempt: Int32? = nil,
    nextRunMs: Int64,
    error: String?,
    message: String = "",
    nowMs: Int64
  ) throws {
    let kind: EventRecord.Kind =
      state.isFinished ? .finished : (state == .retrying ? .retryScheduled : .stateChanged)
    let sequence = nextSequence
    try db.run(
      """
      UPDATE tasks SET state = ?, attempt = ?, lease_token = '', lease_deadline_ms = 0,
        expire_ms = NULL, next_run_ms = ?, finished_ms = ?, last_error = coalesce(?, last_error),
        updated_ms = ?, last_seq = ?
      WHERE rid = ?
      """
    ) {
      $0.bind(0, state.rawValue)
      $0.bind(1, attempt ?? core.attempt)
      $0.bind(2, nextRunMs)
      $0.bind(3, state.isFinished ? nowMs : 0)
      if let error { $0.bind(4, error) } else { $0.bindNull(4) }
      $0.bind(5, nowMs)
      $0.bind(6, Int64(sequence))
      $0.bind(7, core.rid)
    }
    try append(
      event(
        core,
        kind,
        state: state,
        attempt: attempt,
        nowMs: nowMs,
        message: message,
        error: error ?? "",
        nextRunMs: nextRunMs
      )
    )
    move(queue: core.queue, from: core.state, to: state)
    if state.isFinished { try updateKey(core, finalState: state, nowMs: nowMs) }
  }

  // MARK: Submit

  private struct KeyRef: Hashable {
    var queue: String
    var key: String
  }

  func submit(_ tasks: [NewTask], nowMs: Int64) throws -> [SubmitOutcome] {
    var outcomes = [SubmitOutcome?](repeating: nil, count: tasks.count)
    var firstRejected: Int?
    var planned: [String: Int] = [:]
    var batchKeys: [KeyRef: (index: Int, fingerprint: [UInt8])] = [:]
    var sameAsEarlier: [Int: Int] = [:]
    var fingerprints = [[UInt8]?](repeating: nil, count: tasks.count)

    func reject(_ i: Int, _ error: StoreError) {
      outcomes[i] = .rejected(error)
      if firstRejected == nil { firstRejected = i }
    }

    for (i, task) in tasks.enumerated() {
      if let message = task.validationError() {
        reject(i, .invalid(message))
        continue
      }
      if !task.idempotencyKey.isEmpty {
        let fingerprint = task.fingerprint
        fingerprints[i] = fingerprint
        let ref = KeyRef(queue: task.queue, key: task.idempotencyKey)
        if let earlier = batchKeys[ref] {
          if earlier.fingerprint == fingerprint {
            sameAsEarlier[i] = earlier.index
          } else {
            reject(i, .conflict(key: task.idempotencyKey))
          }
          continue
        }
        if let existing = try existingTask(for: task, fingerprint: fingerprint, nowMs: nowMs) {
          outcomes[i] = existing
          if case .rejected = existing, firstRejected == nil { firstRejected = i }
          continue
        }
        batchKeys[ref] = (i, fingerprint)
      }
      let waiting = (counters(task.queue)?.waiting ?? 0) + planned[task.queue, default: 0]
      let limit = policy.pendingLimit(for: task.queue)
      if waiting + 1 > limit {
        reject(i, .queueFull(queue: task.queue, limit: limit, pending: waiting))
        continue
      }
      planned[task.queue, default: 0] += 1
    }

    if let firstRejected {
      return outcomes.map { outcome in
        if let outcome, case .rejected = outcome { return outcome }
        return .rejected(.failedPrecondition("not applied: item \(firstRejected) was rejected"))
      }
    }

    for (i, task) in tasks.enumerated() where outcomes[i] == nil && sameAsEarlier[i] == nil {
      outcomes[i] = .created(try insert(task, fingerprint: fingerprints[i], nowMs: nowMs))
    }
    for (i, earlier) in sameAsEarlier {
      if case .created(let record) = outcomes[earlier] { outcomes[i] = .existing(record) }
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

  private func insert(_ task: NewTask, fingerprint: [UInt8]?, nowMs: Int64) throws -> TaskRecord {
    let id = ids.next(nowMs: nowMs).rawValue
    let delayed = task.runAtMs > nowMs
    let state: TaskState = delayed ? .scheduled : .pending
    let sequence = nextSequence
    let record = TaskRecord(id: id, spec: task, state: state, createdMs: nowMs, sequence: sequence)
    let s = try db.statement(
      """
      INSERT INTO tasks(id, queue, type, payload, content_type, priority, run_at_ms, idem_key,
        max_attempts, retry_kind, retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter,
        lease_duration_ms, execution_timeout_ms, metadata, parent_id, clean_on_success,
        created_by, state, attempt, created_ms, updated_ms, next_run_ms, last_seq)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
      """
    )
    s.bind(0, id)
    s.bind(1, task.queue)
    s.bind(2, task.type)
    s.bind(3, task.payload)
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
    s.bind(20, state.rawValue)
    s.bind(21, nowMs)
    s.bind(22, nowMs)
    s.bind(23, record.nextRunMs)
    s.bind(24, Int64(sequence))
    _ = try s.step()
    s.reset()
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
        nextRunMs: record.nextRunMs
      )
    )
    move(queue: task.queue, from: nil, to: state)
    return record
  }

  // MARK: Lease

  func lease(queues names: [String], types: [String], max: Int, workerID: String, nowMs: Int64)
    throws -> [LeaseGrant]
  {
    guard max > 0 else { return [] }
    var seen = Set<String>()
    let candidatesQueues = (names.isEmpty ? Array(queues.keys) : names).filter {
      seen.insert($0).inserted
    }
    var candidates: [(priority: Int64, runAt: Int64, rid: Int64)] = []
    var sources = 0
    for queue in candidatesQueues {
      guard let counters = counters(queue), !counters.paused,
        counters.counts[TaskState.pending.rawValue] > 0
      else { continue }
      if types.isEmpty {
        sources += 1
        let s = try db.statement(
          """
          SELECT priority, run_at_ms, rid FROM tasks INDEXED BY tasks_ready
          WHERE queue = ? AND state = 1 ORDER BY priority DESC, run_at_ms, rid LIMIT ?
          """
        )
        s.bind(0, queue)
        s.bind(1, max)
        while try s.step() { candidates.append((s.int64(0), s.int64(1), s.int64(2))) }
        s.reset()
      } else {
        for type in Set(types) {
          sources += 1
          let s = try db.statement(
            """
            SELECT priority, run_at_ms, rid FROM tasks INDEXED BY tasks_ready_type
            WHERE queue = ? AND type = ? AND state = 1
            ORDER BY priority DESC, run_at_ms, rid LIMIT ?
            """
          )
          s.bind(0, queue)
          s.bind(1, type)
          s.bind(2, max)
          while try s.step() { candidates.append((s.int64(0), s.int64(1), s.int64(2))) }
          s.reset()
        }
      }
    }
    if sources > 1 {
      candidates.sort {
        if $0.priority != $1.priority { return $0.priority > $1.priority }
        if $0.runAt != $1.runAt { return $0.runAt < $1.runAt }
        return $0.rid < $1.rid
      }
    }
    var grants: [LeaseGrant] = []
    grants.reserveCapacity(Swift.min(max, candidates.count))
    for candidate in candidates.prefix(max) {
      grants.append(try grant(rid: candidate.rid, workerID: workerID, nowMs: nowMs))
    }
    return grants
  }

  private func grant(rid: Int64, workerID: String, nowMs: Int64) throws -> LeaseGrant {
    let s = try db.statement(
      """
      SELECT id, queue, type, payload, content_type, priority, attempt, max_attempts,
        lease_duration_ms, execution_timeout_ms, metadata, parent_id, created_ms, started_ms
      FROM tasks WHERE rid = ?
      """
    )
    s.bind(0, rid)
    guard try s.step() else {
      s.reset()
      throw StoreError.internal("task row \(rid) vanished while leasing")
    }
    let id = s.string(0)
    let queue = s.string(1)
    let type = s.string(2)
    let attempt = s.int32(6) + 1
    let leaseDurationMs = s.int64(8)
    let executionTimeoutMs = s.int64(9)
    let startedMs = s.int64(13)
    var system = SystemRandomNumberGenerator()
    let token = LeaseToken.generate(using: &system)
    let deadline = nowMs + leaseDurationMs
    let expire = executionTimeoutMs > 0 ? Swift.min(deadline, nowMs + executionTimeoutMs) : deadline
    let sequence = nextSequence
    let grant = LeaseGrant(
      taskID: id,
      queue: queue,
      type: type,
      payload: s.data(3),
      contentType: s.string(4),
      priority: s.int32(5),
      attempt: attempt,
      maxAttempts: s.int32(7),
      leaseToken: token,
      leaseDeadlineMs: deadline,
      leaseDurationMs: leaseDurationMs,
      executionTimeoutMs: executionTimeoutMs,
      metadata: MetadataCodec.decode(s.data(10)),
      parentID: s.string(11),
      createdMs: s.int64(12),
      sequence: sequence
    )
    s.reset()
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
    try db.run(
      """
      INSERT INTO attempts(task_id, number, worker_id, lease_token, started_ms, outcome)
      VALUES (?, ?, ?, ?, ?, 1)
      """
    ) {
      $0.bind(0, id)
      $0.bind(1, attempt)
      $0.bind(2, workerID)
      $0.bind(3, token)
      $0.bind(4, nowMs)
    }
    try append(
      EventRecord(
        sequence: 0,
        taskID: id,
        kind: .stateChanged,
        state: .running,
        attempt: attempt,
        timeMs: nowMs,
        queue: queue,
        type: type
      )
    )
    move(queue: queue, from: .pending, to: .running)
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
