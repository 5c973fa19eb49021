public import Foundation
package import TaskwireProto

/// A token's role: what its connections may do.
public struct Role: Hashable, Sendable, CustomStringConvertible {
  package let wire: Taskwire_V1_Role

  package init(_ wire: Taskwire_V1_Role) {
    self.wire = wire
  }

  /// Submit, get, list, count, watch, cancel, retry and delete.
  public static let client = Role(.client)
  /// Lease, heartbeat, complete, fail, release, cancel-ack, and submit child tasks.
  public static let worker = Role(.worker)
  /// Everything, plus tokens, queues, workers and schedules.
  public static let admin = Role(.admin)

  /// `client`, `worker` or `admin`.
  public var description: String {
    switch self.wire {
    case .client: "client"
    case .worker: "worker"
    case .admin: "admin"
    case .unspecified: "unspecified"
    case .UNRECOGNIZED(let value): "unknown(\(value))"
    }
  }
}

/// Counts of one queue, from ``TaskwireClient/stats(queues:)``.
public struct QueueStats: Sendable, Hashable {
  /// The queue.
  public var queue: String
  /// Whether leasing from it is paused.
  public var paused: Bool
  /// Ready tasks.
  public var pending: UInt64
  /// Tasks waiting for their run-at time.
  public var scheduled: UInt64
  /// Leased tasks.
  public var running: UInt64
  /// Tasks waiting for a retry.
  public var retrying: UInt64
  /// Succeeded tasks still kept.
  public var succeeded: UInt64
  /// Failed tasks (the dead-letter set).
  public var failed: UInt64
  /// Cancelled tasks still kept.
  public var cancelled: UInt64
  /// Tasks pending longer than the stuck threshold.
  public var stuck: UInt64
  /// When the oldest pending task was created.
  public var oldestPending: Date?
}

/// A connected worker, from ``TaskwireClient/workers()``.
public struct WorkerInfo: Sendable, Hashable {
  /// The worker's id.
  public var id: String
  /// The client name it gave.
  public var name: String
  /// Its network address.
  public var address: String
  /// The queues it leases from.
  public var queues: [String]
  /// The tasks it holds.
  public var taskIDs: [TaskID]
  /// Its last heartbeat.
  public var lastHeartbeat: Date?
  /// When it connected.
  public var connected: Date?
}

/// An API token's public facts (never its secret), from ``TaskwireClient/tokens()``.
public struct TokenInfo: Sendable, Hashable {
  /// The token's id.
  public var id: String
  /// Its unique name.
  public var name: String
  /// Its role.
  public var role: Role
  /// When it was created.
  public var created: Date?
  /// When it was revoked; `nil` while active.
  public var revoked: Date?
}
