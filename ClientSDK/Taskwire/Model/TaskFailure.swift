/// A task that ended without a result: ``TaskwireClient/result(of:)`` throws this when the task
/// ended `FAILED` or `CANCELLED`.
///
/// It is the task's outcome, not a failed call; calls that fail throw ``TaskwireError``.
public struct TaskFailure: Error, Hashable, Sendable, CustomStringConvertible {
  /// The task.
  public var taskID: TaskID
  /// `failed` or `cancelled`.
  public var state: TaskState
  /// The last error the worker reported (empty for a cancel without one).
  public var message: String
  /// Attempts used.
  public var attempts: Int32

  /// Creates a failure.
  public init(taskID: TaskID, state: TaskState, message: String, attempts: Int32) {
    self.taskID = taskID
    self.state = state
    self.message = message
    self.attempts = attempts
  }

  /// `task <id> FAILED after <n> attempt(s): <message>`.
  public var description: String {
    "task \(self.taskID) \(self.state) after \(self.attempts) attempt(s): \(self.message)"
  }
}
