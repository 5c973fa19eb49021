public import Foundation
public import TaskwireCore

/// The answer for one item of a submit batch.
public enum SubmitOutcome: Sendable, Hashable {
  /// The task was stored.
  case created(TaskRecord)
  /// The same request was submitted before with this key: that task (it may have finished; if it
  /// was deleted since, the record is rebuilt from the request and the key's row, without history).
  case existing(TaskRecord)
  /// The item was refused; if any item of a batch is refused, none is stored.
  case rejected(StoreError)
}

/// A task handed to a worker.
public struct LeaseGrant: Sendable, Hashable {
  /// The task id.
  public var taskID: String
  /// The queue.
  public var queue: String
  /// The type.
  public var type: String
  /// The payload.
  public var payload: Data
  /// The payload's media type.
  public var contentType: String
  /// The priority.
  public var priority: Int32
  /// The attempt this lease is for (1-based).
  public var attempt: Int32
  /// Attempts in all.
  public var maxAttempts: Int32
  /// The token that fences this attempt.
  public var leaseToken: String
  /// When the lease ends without a heartbeat, Unix ms.
  public var leaseDeadlineMs: Int64
  /// The lease duration a heartbeat extends by, ms.
  public var leaseDurationMs: Int64
  /// The execution timeout, ms; 0 for none.
  public var executionTimeoutMs: Int64
  /// Metadata.
  public var metadata: [String: String]
  /// The parent task; empty for none.
  public var parentID: String
  /// When the task was submitted.
  public var createdMs: Int64
  /// The sequence number of the grant's event.
  public var sequence: UInt64

  /// Creates a grant.
  public init(
    taskID: String,
    queue: String,
    type: String,
    payload: Data,
    contentType: String,
    priority: Int32,
    attempt: Int32,
    maxAttempts: Int32,
    leaseToken: String,
    leaseDeadlineMs: Int64,
    leaseDurationMs: Int64,
    executionTimeoutMs: Int64,
    metadata: [String: String],
    parentID: String,
    createdMs: Int64,
    sequence: UInt64
  ) {
    self.taskID = taskID
    self.queue = queue
    self.type = type
    self.payload = payload
    self.contentType = contentType
    self.priority = priority
    self.attempt = attempt
    self.maxAttempts = maxAttempts
    self.leaseToken = leaseToken
    self.leaseDeadlineMs = leaseDeadlineMs
    self.leaseDurationMs = leaseDurationMs
    self.executionTimeoutMs = executionTimeoutMs
    self.metadata = metadata
    self.parentID = parentID
    self.createdMs = createdMs
    self.sequence = sequence
  }
}

/// Progress reported with a heartbeat.
public struct ProgressUpdate: Sendable, Hashable {
  /// 0–100.
  public var percent: Int32
  /// A short message.
  public var message: String

  /// Creates an update.
  public init(percent: Int32, message: String) {
    self.percent = percent
    self.message = message
  }
}

/// The answer to a heartbeat.
public struct HeartbeatOutcome: Sendable, Hashable {
  /// The new lease deadline, Unix ms.
  public var leaseDeadlineMs: Int64
  /// Whether a cancel was requested: the worker should stop and acknowledge.
  public var cancelRequested: Bool

  /// Creates an outcome.
  public init(leaseDeadlineMs: Int64, cancelRequested: Bool) {
    self.leaseDeadlineMs = leaseDeadlineMs
    self.cancelRequested = cancelRequested
  }
}

/// One completion of a batched complete.
public struct Completion: Sendable, Hashable {
  /// The task.
  public var taskID: String
  /// The lease token of the attempt.
  public var token: String
  /// The result bytes.
  public var result: Data
  /// The result's media type.
  public var contentType: String

  /// Creates a completion.
  public init(taskID: String, token: String, result: Data = Data(), contentType: String = "") {
    self.taskID = taskID
    self.token = token
    self.result = result
    self.contentType = contentType
  }
}

/// The answer to one completion.
public struct CompletionOutcome: Sendable, Hashable {
  /// The task.
  public var taskID: String
  /// The queue.
  public var queue: String
  /// The type.
  public var type: String
  /// The attempt that completed.
  public var attempt: Int32
  /// When it finished.
  public var finishedMs: Int64
  /// Whether this repeats an earlier completion with the same token (nothing changed now).
  public var repeated: Bool

  /// Creates an outcome.
  public init(
    taskID: String,
    queue: String,
    type: String,
    attempt: Int32,
    finishedMs: Int64,
    repeated: Bool
  ) {
    self.taskID = taskID
    self.queue = queue
    self.type = type
    self.attempt = attempt
    self.finishedMs = finishedMs
    self.repeated = repeated
  }
}

/// The answer to a fail.
public struct FailOutcome: Sendable, Hashable {
  /// `.retrying`, `.failed`, or `.cancelled` when a cancel had been requested.
  public var state: TaskState
  /// When the next attempt becomes pending (retrying), Unix ms; 0 otherwise.
  public var nextRunMs: Int64

  /// Creates an outcome.
  public init(state: TaskState, nextRunMs: Int64) {
    self.state = state
    self.nextRunMs = nextRunMs
  }
}

/// The answer to a cancel.
public struct CancelOutcome: Sendable, Hashable {
  /// The worker to tell, for a running task.
  public struct Notify: Sendable, Hashable {
    /// The worker holding the lease.
    public var workerID: String
    /// The lease token of its attempt.
    public var leaseToken: String

    /// Creates a notice.
    public init(workerID: String, leaseToken: String) {
      self.workerID = workerID
      self.leaseToken = leaseToken
    }
  }

  /// The task after the cancel (without attempt history).
  public var task: TaskRecord
  /// Set when the task runs: push the cancel to this worker.
  public var notify: Notify?

  /// Creates an outcome.
  public init(task: TaskRecord, notify: Notify?) {
    self.task = task
    self.notify = notify
  }
}

/// A lease that ran out (or an attempt past its execution timeout), as handled by the store.
public struct ExpiredLease: Sendable, Hashable {
  /// Why the attempt ended.
  public enum Reason: Sendable, Hashable {
    /// No heartbeat before the deadline.
    case leaseExpired
    /// The attempt ran past the task's execution timeout.
    case executionTimeout
  }

  /// The task.
  public var taskID: String
  /// The queue.
  public var queue: String
  /// The worker that held it.
  public var workerID: String
  /// The attempt that ended.
  public var attempt: Int32
  /// Why.
  public var reason: Reason
  /// `.retrying`, `.failed` or `.cancelled`.
  public var newState: TaskState
  /// When a retrying task becomes pending; 0 otherwise.
  public var nextRunMs: Int64

  /// Creates a record.
  public init(
    taskID: String,
    queue: String,
    workerID: String,
    attempt: Int32,
    reason: Reason,
    newState: TaskState,
    nextRunMs: Int64
  ) {
    self.taskID = taskID
    self.queue = queue
    self.workerID = workerID
    self.attempt = attempt
    self.reason = reason
    self.newState = newState
    self.nextRunMs = nextRunMs
  }
}

/// What a purge removed.
public struct PurgeCounts: Sendable, Hashable {
  /// Finished tasks past their retention.
  public var tasks: Int
  /// Expired idempotency keys.
  public var idempotencyKeys: Int
  /// Events past their retention.
  public var events: Int
  /// Whether a limit per call was hit: call again soon.
  public var more: Bool

  /// Creates counts.
  public init(tasks: Int = 0, idempotencyKeys: Int = 0, events: Int = 0, more: Bool = false) {
    self.tasks = tasks
    self.idempotencyKeys = idempotencyKeys
    self.events = events
    self.more = more
  }
}
