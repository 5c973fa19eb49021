public import Foundation

/// Which tasks ``TaskwireClient/list(filter:pageSize:)``, ``TaskwireClient/count(filter:)`` and a
/// filtered ``TaskwireClient/watch(filter:after:)`` see. Empty properties do not filter.
///
/// A watch filters by ``queues``, ``types``, ``states`` and ``createdBy``; it refuses
/// ``idempotencyKey`` (`invalidArgument`) and does not apply ``createdAfter``/``createdBefore``.
public struct TaskFilter: Sendable, Hashable {
  /// Only these queues.
  public var queues: [String] = []
  /// Only these task types.
  public var types: [String] = []
  /// Only these states.
  public var states: [TaskState] = []
  /// Only tasks whose `created_by` metadata is this (by default the name of the token that
  /// submitted them). A watch applies it to every event of such a task, live and replayed.
  public var createdBy: String?
  /// Only the task with this idempotency key (list and count only: watch that task by id).
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
