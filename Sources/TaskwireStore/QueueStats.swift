public import TaskwireCore

/// Counts for one queue.
public struct QueueStats: Sendable, Hashable {
  /// The queue.
  public var queue: String
  /// Whether leasing from it is paused.
  public var paused: Bool
  /// Tasks per state (every state present, zero when none).
  public var counts: [TaskState: UInt64]
  /// Pending tasks that have been ready for longer than the stuck threshold.
  public var stuck: UInt64
  /// The run-at time of the oldest pending task, Unix ms; 0 when none is pending.
  public var oldestPendingMs: Int64

  /// Creates stats.
  public init(
    queue: String,
    paused: Bool,
    counts: [TaskState: UInt64],
    stuck: UInt64,
    oldestPendingMs: Int64
  ) {
    self.queue = queue
    self.paused = paused
    self.counts = counts
    self.stuck = stuck
    self.oldestPendingMs = oldestPendingMs
  }

  /// Pending, scheduled and retrying tasks: what the pending limit counts.
  public var waiting: UInt64 {
    (counts[.pending] ?? 0) + (counts[.scheduled] ?? 0) + (counts[.retrying] ?? 0)
  }
}
