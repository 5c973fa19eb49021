/// The state of a task. Raw values are the wire numbers of `taskwire.v1.TaskState`.
///
/// States added later (waiting on dependencies, on a parent, …) take numbers above 7: the
/// SQLite store's index of finished tasks covers the range 5–7 (`state BETWEEN 5 AND 7`).
public enum TaskState: Int, Sendable, CaseIterable, Codable, CustomStringConvertible {
  /// Ready to be leased.
  case pending = 1
  /// Waiting for its run-at time.
  case scheduled = 2
  /// Leased by a worker.
  case running = 3
  /// Failed an attempt; waiting for its backoff before it becomes pending again.
  case retrying = 4
  /// Completed with a result.
  case succeeded = 5
  /// Attempts exhausted or a permanent error: the dead-letter set.
  case failed = 6
  /// Cancelled before it finished.
  case cancelled = 7

  /// Whether the task has reached an end state (succeeded, failed or cancelled).
  public var isFinished: Bool {
    switch self {
    case .succeeded, .failed, .cancelled: true
    case .pending, .scheduled, .running, .retrying: false
    }
  }

  /// Whether the task counts against its queue's pending limit (waiting to run).
  public var isWaiting: Bool {
    switch self {
    case .pending, .scheduled, .retrying: true
    case .running, .succeeded, .failed, .cancelled: false
    }
  }

  /// The upper-case name used in logs and on the command line, e.g. `PENDING`.
  public var description: String {
    switch self {
    case .pending: "PENDING"
    case .scheduled: "SCHEDULED"
    case .running: "RUNNING"
    case .retrying: "RETRYING"
    case .succeeded: "SUCCEEDED"
    case .failed: "FAILED"
    case .cancelled: "CANCELLED"
    }
  }
}
