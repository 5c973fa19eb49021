public import TaskwireCore

/// One entry of the store's event log. Sequence numbers are assigned by the store, store-wide, in
/// commit order, strictly increasing, with no gap a reader could see fill later.
public struct EventRecord: Sendable, Hashable {
  /// What happened.
  public enum Kind: Int, Sendable, Hashable, CaseIterable {
    /// The task was submitted (state pending or scheduled).
    case created = 1
    /// The task moved (leased, promoted, released, manually retried).
    case stateChanged = 2
    /// The running task reported progress.
    case progress = 3
    /// An attempt failed and the task waits for its next one (`nextRunMs`).
    case retryScheduled = 4
    /// A cancel was requested while the task ran.
    case cancelRequested = 5
    /// The task finished: succeeded, failed or cancelled.
    case finished = 6
    /// The task was deleted.
    case deleted = 7
  }

  /// The store-wide sequence number.
  public var sequence: UInt64
  /// The task.
  public var taskID: String
  /// What happened.
  public var kind: Kind
  /// The task's state after the event.
  public var state: TaskState
  /// The task's attempt count after the event.
  public var attempt: Int32
  /// Progress 0–100 (progress events).
  public var progress: Int32
  /// Progress message or cancel reason.
  public var message: String
  /// The error (failures).
  public var error: String
  /// The result size in bytes (success).
  public var resultSize: Int64
  /// When it happened, Unix ms.
  public var timeMs: Int64
  /// The task's queue.
  public var queue: String
  /// The task's type.
  public var type: String
  /// When a retrying or scheduled task runs next; 0 otherwise.
  public var nextRunMs: Int64
  /// Who created the task (``TaskRecord/createdBy``: its `metadata["created_by"]`), or empty.
  /// Every event of a task carries it, so a watch can filter by creator without reading the task.
  public var createdBy: String

  /// Creates an event.
  public init(
    sequence: UInt64,
    taskID: String,
    kind: Kind,
    state: TaskState,
    attempt: Int32,
    progress: Int32 = 0,
    message: String = "",
    error: String = "",
    resultSize: Int64 = 0,
    timeMs: Int64,
    queue: String,
    type: String,
    nextRunMs: Int64 = 0,
    createdBy: String = ""
  ) {
    self.sequence = sequence
    self.taskID = taskID
    self.kind = kind
    self.state = state
    self.attempt = attempt
    self.progress = progress
    self.message = message
    self.error = error
    self.resultSize = resultSize
    self.timeMs = timeMs
    self.queue = queue
    self.type = type
    self.nextRunMs = nextRunMs
    self.createdBy = createdBy
  }
}
