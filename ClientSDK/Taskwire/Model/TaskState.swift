package import TaskwireProto

/// A task's lifecycle state. An evolvable set: later releases add states, so `switch` with a
/// default.
public struct TaskState: Hashable, Sendable, CustomStringConvertible {
  package let wire: Taskwire_V1_TaskState

  package init(_ wire: Taskwire_V1_TaskState) {
    self.wire = wire
  }

  /// Ready to be leased.
  public static let pending = TaskState(.pending)
  /// Waiting for its run-at time.
  public static let scheduled = TaskState(.scheduled)
  /// Leased by a worker.
  public static let running = TaskState(.running)
  /// An attempt failed; waiting for its backoff.
  public static let retrying = TaskState(.retrying)
  /// Finished with a result. Terminal.
  public static let succeeded = TaskState(.succeeded)
  /// Attempts exhausted or a permanent failure: the dead-letter set. Terminal; `retry` requeues.
  public static let failed = TaskState(.failed)
  /// Cancelled. Terminal.
  public static let cancelled = TaskState(.cancelled)

  /// Whether the task has finished (succeeded, failed or cancelled).
  public var isTerminal: Bool {
    self == .succeeded || self == .failed || self == .cancelled
  }

  /// The state's name in capitals, e.g. `RUNNING`.
  public var description: String {
    switch self.wire {
    case .unspecified: "UNSPECIFIED"
    case .pending: "PENDING"
    case .scheduled: "SCHEDULED"
    case .running: "RUNNING"
    case .retrying: "RETRYING"
    case .succeeded: "SUCCEEDED"
    case .failed: "FAILED"
    case .cancelled: "CANCELLED"
    case .UNRECOGNIZED(let value): "UNKNOWN(\(value))"
    }
  }
}
