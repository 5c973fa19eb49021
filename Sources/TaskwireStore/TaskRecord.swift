public import Foundation
public import TaskwireCore

/// Everything the store knows about a task. "None" is spelled as the zero value (`0`, `""`,
/// empty `Data`), as on the wire.
public struct TaskRecord: Sendable, Hashable {
  /// The server-made id (see ``TaskID``).
  public var id: String
  /// The queue.
  public var queue: String
  /// The task type.
  public var type: String
  /// The payload bytes.
  public var payload: Data
  /// The payload's media type.
  public var contentType: String
  /// Higher runs first.
  public var priority: Int32
  /// When the task may first run, Unix ms (the submit time when it was not delayed).
  public var runAtMs: Int64
  /// The idempotency key; empty for none.
  public var idempotencyKey: String
  /// Attempts in all.
  public var maxAttempts: Int32
  /// The backoff between attempts.
  public var retryPolicy: RetryPolicy
  /// Lease duration, ms.
  public var leaseDurationMs: Int64
  /// Execution timeout per attempt, ms; 0 for none.
  public var executionTimeoutMs: Int64
  /// Free-form metadata.
  public var metadata: [String: String]
  /// The parent task's id; empty for none.
  public var parentID: String
  /// Whether the task is deleted when it succeeds.
  public var cleanOnSuccess: Bool
  /// `metadata["created_by"]`, or empty.
  public var createdBy: String

  /// The lifecycle state.
  public var state: TaskState
  /// Attempts started so far (the current one included while running).
  public var attempt: Int32
  /// The last progress reported, 0–100.
  public var progress: Int32
  /// The last progress message.
  public var progressMessage: String
  /// The error of the last failed attempt.
  public var lastError: String
  /// The result bytes of a succeeded task.
  public var result: Data
  /// The result's media type.
  public var resultContentType: String
  /// The worker holding the lease (or that held the last one).
  public var workerID: String
  /// The current lease token; for the store and coordinator only, never shown to clients.
  public var leaseToken: String
  /// When the current lease ends, Unix ms; 0 when not running.
  public var leaseDeadlineMs: Int64
  /// When the task was submitted.
  public var createdMs: Int64
  /// When the first attempt started; 0 before.
  public var startedMs: Int64
  /// When the task finished; 0 before.
  public var finishedMs: Int64
  /// When the task last changed.
  public var updatedMs: Int64
  /// When a scheduled or retrying task becomes pending; 0 otherwise.
  public var nextRunMs: Int64
  /// Whether a cancel was requested while it ran.
  public var cancelRequested: Bool
  /// The reason given with the cancel.
  public var cancelReason: String
  /// One row per attempt, oldest first (empty in ``TaskStore/list(filter:pageSize:cursor:)``).
  public var attempts: [AttemptRecord]
  /// The sequence number of the task's latest event.
  public var sequence: UInt64

  /// Creates a record.
  public init(
    id: String,
    queue: String,
    type: String,
    payload: Data,
    contentType: String,
    priority: Int32,
    runAtMs: Int64,
    idempotencyKey: String,
    maxAttempts: Int32,
    retryPolicy: RetryPolicy,
    leaseDurationMs: Int64,
    executionTimeoutMs: Int64,
    metadata: [String: String],
    parentID: String,
    cleanOnSuccess: Bool,
    createdBy: String,
    state: TaskState,
    attempt: Int32,
    progress: Int32 = 0,
    progressMessage: String = "",
    lastError: String = "",
    result: Data = Data(),
    resultContentType: String = "",
    workerID: String = "",
    leaseToken: String = "",
    leaseDeadlineMs: Int64 = 0,
    createdMs: Int64,
    startedMs: Int64 = 0,
    finishedMs: Int64 = 0,
    updatedMs: Int64,
    nextRunMs: Int64 = 0,
    cancelRequested: Bool = false,
    cancelReason: String = "",
    attempts: [AttemptRecord] = [],
    sequence: UInt64
  ) {
    self.id = id
    self.queue = queue
    self.type = type
    self.payload = payload
    self.contentType = contentType
    self.priority = priority
    self.runAtMs = runAtMs
    self.idempotencyKey = idempotencyKey
    self.maxAttempts = maxAttempts
    self.retryPolicy = retryPolicy
    self.leaseDurationMs = leaseDurationMs
    self.executionTimeoutMs = executionTimeoutMs
    self.metadata = metadata
    self.parentID = parentID
    self.cleanOnSuccess = cleanOnSuccess
    self.createdBy = createdBy
    self.state = state
    self.attempt = attempt
    self.progress = progress
    self.progressMessage = progressMessage
    self.lastError = lastError
    self.result = result
    self.resultContentType = resultContentType
    self.workerID = workerID
    self.leaseToken = leaseToken
    self.leaseDeadlineMs = leaseDeadlineMs
    self.createdMs = createdMs
    self.startedMs = startedMs
    self.finishedMs = finishedMs
    self.updatedMs = updatedMs
    self.nextRunMs = nextRunMs
    self.cancelRequested = cancelRequested
    self.cancelReason = cancelReason
    self.attempts = attempts
    self.sequence = sequence
  }

  /// A record for a task that was just stored from `spec`.
  public init(
    id: String,
    spec: borrowing NewTask,
    state: TaskState,
    createdMs: Int64,
    sequence: UInt64
  ) {
    self.init(
      id: id,
      queue: spec.queue,
      type: spec.type,
      payload: spec.payload,
      contentType: spec.contentType,
      priority: spec.priority,
      runAtMs: max(spec.runAtMs, createdMs),
      idempotencyKey: spec.idempotencyKey,
      maxAttempts: spec.maxAttempts,
      retryPolicy: spec.retryPolicy,
      leaseDurationMs: spec.leaseDurationMs,
      executionTimeoutMs: spec.executionTimeoutMs,
      metadata: spec.metadata,
      parentID: spec.parentID,
      cleanOnSuccess: spec.cleanOnSuccess,
      createdBy: spec.createdBy,
      state: state,
      attempt: 0,
      createdMs: createdMs,
      updatedMs: createdMs,
      nextRunMs: state == .scheduled ? spec.runAtMs : 0,
      sequence: sequence
    )
  }
}
