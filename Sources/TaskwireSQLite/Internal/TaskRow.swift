import Foundation
import TaskwireCore
import TaskwireStore

/// Reading task and history rows into records.
enum TaskRow {
  /// The columns `decode` expects, in order.
  static let columns = """
    id, queue, type, \(Schema.payloadColumn), content_type, priority, run_at_ms, idem_key, \
    max_attempts, retry_kind, retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter, \
    lease_duration_ms, execution_timeout_ms, metadata, parent_id, clean_on_success, created_by, \
    state, attempt, progress, progress_message, last_error, result, result_content_type, \
    worker_id, lease_token, lease_deadline_ms, created_ms, started_ms, finished_ms, updated_ms, \
    next_run_ms, cancel_requested, cancel_reason, last_seq, attempt_started_ms
    """

  static func decode(_ s: SQLiteStatement) -> TaskRecord {
    var record = TaskRecord(
      id: s.string(0),
      queue: s.string(1),
      type: s.string(2),
      payload: s.data(3),
      contentType: s.string(4),
      priority: s.int32(5),
      runAtMs: s.int64(6),
      idempotencyKey: s.string(7),
      maxAttempts: s.int32(8),
      retryPolicy: RetryPolicy(
        kind: RetryPolicy.Kind(rawValue: s.int(9)) ?? .exponential,
        initialMs: s.int64(10),
        multiplier: s.double(11),
        maxMs: s.int64(12),
        jitter: s.double(13)
      ),
      leaseDurationMs: s.int64(14),
      executionTimeoutMs: s.int64(15),
      metadata: MetadataCodec.decode(s.data(16)),
      parentID: s.string(17),
      cleanOnSuccess: s.bool(18),
      createdBy: s.string(19),
      state: TaskState(rawValue: s.int(20)) ?? .pending,
      attempt: s.int32(21),
      progress: s.int32(22),
      progressMessage: s.string(23),
      lastError: s.string(24),
      result: s.data(25),
      resultContentType: s.string(26),
      workerID: s.string(27),
      leaseToken: s.string(28),
      leaseDeadlineMs: s.int64(29),
      createdMs: s.int64(30),
      startedMs: s.int64(31),
      finishedMs: s.int64(32),
      updatedMs: s.int64(33),
      nextRunMs: s.int64(34),
      cancelRequested: s.bool(35),
      cancelReason: s.string(36),
      sequence: UInt64(s.int64(37))
    )
    // Only a running attempt's token is live; a succeeded task's row keeps its last one (to
    // recognise a repeated completion), which is not shown.
    if record.state != .running { record.leaseToken = "" }
    return record
  }

  private static let selectByID = "SELECT \(columns) FROM tasks WHERE id = ?"

  static func load(_ db: SQLiteConnection, id: String, withAttempts: Bool) throws(SQLiteError)
    -> TaskRecord?
  {
    let s = try db.statement(dynamic: selectByID)
    s.bind(0, id)
    guard try s.step() else { return nil }
    var record = decode(s)
    let attemptStartedMs = s.int64(38)
    s.reset()
    if withAttempts {
      record.attempts = try attempts(db, taskID: id)
      // The running attempt lives in the task row until it ends (then it gets its own row),
      // and so does the attempt that succeeded (rows written before this rule stay as they are).
      if record.state == .succeeded,
        !record.attempts.contains(where: { $0.number == record.attempt })
      {
        record.attempts.append(
          AttemptRecord(
            number: record.attempt,
            workerID: record.workerID,
            startedMs: attemptStartedMs,
            endedMs: record.finishedMs,
            durationMs: record.finishedMs - attemptStartedMs,
            outcome: .succeeded,
            error: "",
            resultSize: Int64(record.result.count)
          )
        )
      }
      if record.state == .running {
        record.attempts.append(
          AttemptRecord(
            number: record.attempt,
            workerID: record.workerID,
            startedMs: attemptStartedMs,
            endedMs: 0,
            durationMs: 0,
            outcome: .running,
            error: "",
            resultSize: 0
          )
        )
      }
    }
    return record
  }

  static func attempts(_ db: SQLiteConnection, taskID: String) throws(SQLiteError)
    -> [AttemptRecord]
  {
    let s = try db.statement(
      """
      SELECT number, worker_id, started_ms, ended_ms, outcome, error, result_size
      FROM attempts WHERE task_id = ? ORDER BY rid
      """
    )
    s.bind(0, taskID)
    var result: [AttemptRecord] = []
    while try s.step() {
      let started = s.int64(2)
      let ended = s.int64(3)
      result.append(
        AttemptRecord(
          number: s.int32(0),
          workerID: s.string(1),
          startedMs: started,
          endedMs: ended,
          durationMs: ended > 0 ? ended - started : 0,
          outcome: AttemptRecord.Outcome(rawValue: s.int(4)) ?? .running,
          error: s.string(5),
          resultSize: s.int64(6)
        )
      )
    }
    s.reset()
    return result
  }

  static let eventColumns = """
    seq, task_id, kind, state, attempt, progress, message, error, result_size, time_ms, queue, \
    type, next_run_ms, created_by
    """

  static func decodeEvent(_ s: SQLiteStatement) -> EventRecord {
    EventRecord(
      sequence: UInt64(s.int64(0)),
      taskID: s.string(1),
      kind: EventRecord.Kind(rawValue: s.int(2)) ?? .stateChanged,
      state: TaskState(rawValue: s.int(3)) ?? .pending,
      attempt: s.int32(4),
      progress: s.int32(5),
      message: s.string(6),
      error: s.string(7),
      resultSize: s.int64(8),
      timeMs: s.int64(9),
      queue: s.string(10),
      type: s.string(11),
      nextRunMs: s.int64(12),
      createdBy: s.string(13)
    )
  }

  static let tokenColumns = "id, name, role, hash, created_ms, revoked_ms"

  static func decodeToken(_ s: SQLiteStatement) -> TokenRecord {
    TokenRecord(
      id: s.string(0),
      name: s.string(1),
      role: TokenRecord.Role(rawValue: s.int(2)) ?? .client,
      hash: s.string(3),
      createdMs: s.int64(4),
      revokedMs: s.int64(5)
    )
  }
}
