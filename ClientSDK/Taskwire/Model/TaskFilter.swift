public import Foundation

/// Which tasks ``TaskwireClient/list(filter:pageSize:)``, ``TaskwireClient/count(filter:)`` and a
/// filtered ``TaskwireClient/watch(filter:after:)`` see. Empty properties do not filter.
public struct TaskFilter: Sendable, Hashable {
  /// Only these queues.
  public var queues: [String] = []
  /// Only these task types.
  public var types: [String] = []
  /// Only these states.
  public var states: [TaskState] = []
  /// Only tasks whose `created_by` metadata is this.
  public var createdBy: String?
  /// Only the task with this idempotency key.
  public var idempotencyKey: String?
  /// Only tasks created at or after this time.
  public var createdAfter: Date?
  /// Only tasks created before this time.
  public var createdBefore: Date?

  /// A filter that matches every task.
  public init() {}

  /// A filter on queues, types and states.
  public init(queues: [String] = [], types: [String] = [], states: [TaskState] = []) {
    self.queues = queues
    self.types = types
    self.states = states
  }
}
