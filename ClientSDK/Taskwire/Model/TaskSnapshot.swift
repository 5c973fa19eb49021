public import Foundation

/// A task as the server knows it at one moment.
///
/// ``payload`` and ``result`` are only filled by ``TaskwireClient/get(_:)``; submit, list, cancel,
/// retry and watch snapshots leave them `nil` to stay small.
public struct TaskSnapshot: Sendable, Hashable, Identifiable {
  /// One attempt in the task's history.
  public struct Attempt: Sendable, Hashable {
    /// 1 for the first attempt.
    public var number: Int32
    /// The worker that ran it.
    public var workerID: String
    /// When it started.
    public var started: Date?
    /// When it ended; `nil` while running.
    public var ended: Date?
    /// How it ended: `running`, `succeeded`, `failed`, `lease_expired`, `timed_out`, `cancelled`
    /// or `released`.
    public var outcome: String
    /// The error it failed with, if any.
    public var error: String
    /// The size of its result, if it succeeded.
    public var resultSize: UInt64

    /// An attempt row with the given values.
    public init(
      number: Int32,
      workerID: String = "",
      started: Date? = nil,
      ended: Date? = nil,
      outcome: String,
      error: String = "",
      resultSize: UInt64 = 0
    ) {
      self.number = number
      self.workerID = workerID
      self.started = started
      self.ended = ended
      self.outcome = outcome
      self.error = error
      self.resultSize = resultSize
    }
  }

  /// The task's id.
  public var id: TaskID
  /// Its queue.
  public var queue: String
  /// Its type.
  public var type: String
  /// Its state.
  public var state: TaskState
  /// Attempts started so far.
  public var attempt: Int32
  /// Attempts allowed.
  public var maxAttempts: Int32
  /// Its priority (higher runs first).
  public var priority: Int32
  /// Progress 0...100 reported by the worker.
  public var progress: Int32
  /// The message of the last progress report.
  public var progressMessage: String
  /// The last failure's message; empty when none.
  public var lastError: String
  /// The payload (only from ``TaskwireClient/get(_:)``).
  public var payload: Data?
  /// The payload's content type, e.g. `application/json`.
  public var contentType: String
  /// The result of a succeeded task (only from ``TaskwireClient/get(_:)``).
  public var result: Data?
  /// The result's content type.
  public var resultContentType: String
  /// The worker holding the lease; empty when not running.
  public var workerID: String
  /// When the current lease runs out, while running.
  public var leaseDeadline: Date?
  /// Whether a cancel was requested while it runs.
  public var cancelRequested: Bool
  /// Its metadata.
  public var metadata: [String: String]
  /// Its idempotency key; empty when none.
  public var idempotencyKey: String
  /// The task that submitted it, if any.
  public var parent: TaskID?
  /// When it was created.
  public var created: Date?
  /// When its current or last attempt started.
  public var started: Date?
  /// When it finished.
  public var finished: Date?
  /// When it last changed.
  public var updated: Date?
  /// When it runs next, for scheduled and retrying tasks.
  public var nextRun: Date?
  /// One row per attempt (only from ``TaskwireClient/get(_:)``).
  public var attempts: [Attempt]
  /// The event sequence this snapshot reflects.
  public var sequence: UInt64

  /// A snapshot with the given values (for fixtures and tests; the client makes them for you).
  public init(
    id: TaskID,
    queue: String = "default",
    type: String,
    state: TaskState,
    attempt: Int32 = 0,
    maxAttempts: Int32 = 5,
    priority: Int32 = 0,
    progress: Int32 = 0,
    progressMessage: String = "",
    lastError: String = "",
    payload: Data? = nil,
    contentType: String = "",
    result: Data? = nil,
    resultContentType: String = "",
    workerID: String = "",
    leaseDeadline: Date? = nil,
    cancelRequested: Bool = false,
    metadata: [String: String] = [:],
    idempotencyKey: String = "",
    parent: TaskID? = nil,
    created: Date? = nil,
    started: Date? = nil,
    finished: Date? = nil,
    updated: Date? = nil,
    nextRun: Date? = nil,
    attempts: [Attempt] = [],
    sequence: UInt64 = 0
  ) {
    self.id = id
    self.queue = queue
    self.type = type
    self.state = state
    self.attempt = attempt
    self.maxAttempts = maxAttempts
    self.priority = priority
    self.progress = progress
    self.progressMessage = progressMessage
    self.lastError = lastError
    self.payload = payload
    self.contentType = contentType
    self.result = result
    self.resultContentType = resultContentType
    self.workerID = workerID
    self.leaseDeadline = leaseDeadline
    self.cancelRequested = cancelRequested
    self.metadata = metadata
    self.idempotencyKey = idempotencyKey
    self.parent = parent
    self.created = created
    self.started = started
    self.finished = finished
    self.updated = updated
    self.nextRun = nextRun
    self.attempts = attempts
    self.sequence = sequence
  }
}
