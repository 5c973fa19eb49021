/// Task defaults for the whole server, per queue, and per queue and type. Resolution order, later
/// wins: ``base``, the queue's override, the queue and type's override (the per-task values the
/// submitter sets win over all of them; the caller applies those).
public struct DefaultsTable: Sendable, Hashable, Codable {
  /// A queue and a task type.
  public struct QueueType: Sendable, Hashable, Codable {
    /// The queue.
    public var queue: String
    /// The task type.
    public var type: String

    /// Creates the pair.
    public init(queue: String, type: String) {
      self.queue = queue
      self.type = type
    }
  }

  /// The server-wide defaults.
  public var base: TaskDefaults
  /// Overrides per queue.
  public var queues: [String: TaskDefaults.Override]
  /// Overrides per queue and type.
  public var types: [QueueType: TaskDefaults.Override]

  /// Creates a table.
  public init(
    base: TaskDefaults = .standard,
    queues: [String: TaskDefaults.Override] = [:],
    types: [QueueType: TaskDefaults.Override] = [:]
  ) {
    self.base = base
    self.queues = queues
    self.types = types
  }

  /// The defaults for a task of `type` on `queue`.
  public func resolve(queue: String, type: String) -> TaskDefaults {
    var result = base
    if let override = queues[queue] { result = result.applying(override) }
    if let override = types[QueueType(queue: queue, type: type)] {
      result = result.applying(override)
    }
    return result
  }
}
