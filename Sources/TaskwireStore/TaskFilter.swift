public import TaskwireCore

/// Which tasks `list` and `count` return. Empty sets and zero values do not filter.
public struct TaskFilter: Sendable, Hashable {
  /// Only these queues.
  public var queues: [String]
  /// Only these types.
  public var types: [String]
  /// Only these states.
  public var states: [TaskState]
  /// Only tasks created by this principal.
  public var createdBy: String
  /// Only the task with this idempotency key.
  public var idempotencyKey: String
  /// Only tasks created at or after this time, Unix ms (0: no bound).
  public var createdAfterMs: Int64
  /// Only tasks created before this time, Unix ms (0: no bound).
  public var createdBeforeMs: Int64

  /// Creates a filter; the default matches every task.
  public init(
    queues: [String] = [],
    types: [String] = [],
    states: [TaskState] = [],
    createdBy: String = "",
    idempotencyKey: String = "",
    createdAfterMs: Int64 = 0,
    createdBeforeMs: Int64 = 0
  ) {
    self.queues = queues
    self.types = types
    self.states = states
    self.createdBy = createdBy
    self.idempotencyKey = idempotencyKey
    self.createdAfterMs = createdAfterMs
    self.createdBeforeMs = createdBeforeMs
  }
}

/// One page of `list`.
public struct TaskPage: Sendable, Hashable {
  /// The tasks, in id (creation) order, without attempt history.
  public var tasks: [TaskRecord]
  /// Pass this as `cursor` for the next page; `nil` on the last page.
  public var nextCursor: String?

  /// Creates a page.
  public init(tasks: [TaskRecord], nextCursor: String?) {
    self.tasks = tasks
    self.nextCursor = nextCursor
  }
}
