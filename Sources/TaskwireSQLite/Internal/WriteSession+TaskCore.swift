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
  /// Who created the task; every event of the task carries it.
  var createdBy: String
  /// When the task finished (0 while it has not).
  var finishedMs: Int64
  var priority: Int32
  var runAtMs: Int64

  static let columns = """
    rid, id, queue, type, state, attempt, max_attempts, retry_kind, retry_initial_ms, \
    retry_multiplier, retry_max_ms, retry_jitter, lease_token, worker_id, cancel_requested, \
    clean_on_success, idem_key, lease_duration_ms, execution_timeout_ms, attempt_started_ms, \
    next_run_ms, cancel_reason, created_by, finished_ms, priority, run_at_ms
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
    createdBy = s.string(22)
    finishedMs = s.int64(23)
    priority = s.int32(24)
    runAtMs = s.int64(25)
  }

  /// The task as the ready index knows it.
  var readyTask: ReadyTask {
    ReadyTask(rid: rid, type: type, priority: priority, runAtMs: runAtMs, tag: ReadyEntry.tag(id))
  }

  /// Whether `token` holds the task's current lease.
  func holds(_ token: String) -> Bool { state == .running && !token.isEmpty && leaseToken == token }
}

extension WriteSession {
  private static let selectCoreByRID = "SELECT \(TaskCore.columns) FROM tasks WHERE rid = ?"

  /// The columns must match ``TaskCore/columns`` (the literal keeps the hot lookup cheap).
  func loadCore(id: String) throws(SQLiteError) -> TaskCore? {
    let s = try db.statement(
      """
      SELECT rid, id, queue, type, state, attempt, max_attempts, retry_kind, retry_initial_ms,
        retry_multiplier, retry_max_ms, retry_jitter, lease_token, worker_id, cancel_requested,
        clean_on_success, idem_key, lease_duration_ms, execution_timeout_ms, attempt_started_ms,
        next_run_ms, cancel_reason, created_by, finished_ms, priority, run_at_ms
      FROM tasks WHERE id = ?
      """
    )
    s.bind(0, id)
    defer { s.reset() }
    return try s.step() ? TaskCore(s) : nil
  }

  func loadCore(rid: Int64) throws(SQLiteError) -> TaskCore? {
    let s = try db.statement(dynamic: Self.selectCoreByRID)
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
      nextRunMs: nextRunMs,
      createdBy: core.createdBy
    )
  }

  /// Records how the running attempt of `core` ended: its one attempts row, written now (while
  /// it runs, the attempt lives in the task row — one row write per attempt instead of an insert
  /// at lease and an update at its end).
  func endAttempt(
    _ core: TaskCore,
    outcome: AttemptRecord.Outcome,
    error: String = "",
    resultSize: Int64 = 0,
    answer: TaskState,
    answerNextRunMs: Int64 = 0,
    nowMs: Int64
  ) throws(SQLiteError) {
    try db.run(
      """
      INSERT INTO attempts(task_id, number, worker_id, lease_token, started_ms, ended_ms, outcome,
        error, result_size, answer_state, answer_next_run_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """
    ) {
      $0.bind(0, core.id)
      $0.bind(1, core.attempt)
      $0.bind(2, core.workerID)
      $0.bind(3, core.leaseToken)
      $0.bind(4, core.attemptStartedMs)
      $0.bind(5, nowMs)
      $0.bind(6, outcome.rawValue)
      $0.bind(7, error)
      $0.bind(8, resultSize)
      $0.bind(9, answer.rawValue)
      $0.bind(10, answerNextRunMs)
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
    move(queue: core.queue, from: core.state, to: state, ready: core.readyTask)
    if state.isFinished { try updateKey(core, finalState: state, nowMs: nowMs) }
  }
}
