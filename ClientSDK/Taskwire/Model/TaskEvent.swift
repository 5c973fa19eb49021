public import Foundation
package import TaskwireProto

/// One change to a task, as a watch delivers it. Every event has a store-wide ``sequence`` that
/// only grows.
public struct TaskEvent: Sendable, Hashable {
  /// What happened. An evolvable set: `switch` with a default.
  public struct Kind: Hashable, Sendable, CustomStringConvertible {
    package let wire: Taskwire_V1_EventKind

    package init(_ wire: Taskwire_V1_EventKind) {
      self.wire = wire
    }

    /// The current state of a watched task; ``TaskEvent/snapshot`` is set.
    public static let snapshot = Kind(.snapshot)
    /// The task was submitted.
    public static let created = Kind(.created)
    /// The task's state changed.
    public static let stateChanged = Kind(.stateChanged)
    /// The worker reported progress.
    public static let progress = Kind(.progress)
    /// An attempt failed and a retry is scheduled at ``TaskEvent/nextRun``.
    public static let retryScheduled = Kind(.retryScheduled)
    /// A cancel was requested for the running task.
    public static let cancelRequested = Kind(.cancelRequested)
    /// The task reached a terminal state (``TaskEvent/state`` says which).
    public static let finished = Kind(.finished)
    /// The task was deleted.
    public static let deleted = Kind(.deleted)

    /// The kind's name, e.g. `PROGRESS`.
    public var description: String {
      switch self.wire {
      case .unspecified: "UNSPECIFIED"
      case .snapshot: "SNAPSHOT"
      case .created: "CREATED"
      case .stateChanged: "STATE_CHANGED"
      case .progress: "PROGRESS"
      case .retryScheduled: "RETRY_SCHEDULED"
      case .cancelRequested: "CANCEL_REQUESTED"
      case .finished: "FINISHED"
      case .deleted: "DELETED"
      case .UNRECOGNIZED(let value): "UNKNOWN(\(value))"
      }
    }
  }

  /// The event's sequence number; resume a watch after it to miss nothing.
  public var sequence: UInt64
  /// The task it is about.
  public var taskID: TaskID
  /// What happened.
  public var kind: Kind
  /// The task's state after the event.
  public var state: TaskState
  /// The task's attempt count.
  public var attempt: Int32
  /// Progress 0...100.
  public var progress: Int32
  /// The progress message.
  public var progressMessage: String
  /// The failure message, for failures.
  public var error: String
  /// The result's size, for a succeeded task (fetch it with ``TaskwireClient/get(_:)``).
  public var resultSize: UInt64
  /// When it happened.
  public var time: Date?
  /// The task's queue.
  public var queue: String
  /// The task's type.
  public var type: String
  /// For ``Kind/retryScheduled``: when the next attempt runs.
  public var nextRun: Date?
  /// For ``Kind/snapshot``: the whole task.
  public var snapshot: TaskSnapshot?

  /// An event with the given values (for fixtures and tests; watches make them for you).
  public init(
    sequence: UInt64,
    taskID: TaskID,
    kind: Kind,
    state: TaskState,
    attempt: Int32 = 0,
    progress: Int32 = 0,
    progressMessage: String = "",
    error: String = "",
    resultSize: UInt64 = 0,
    time: Date? = nil,
    queue: String = "",
    type: String = "",
    nextRun: Date? = nil,
    snapshot: TaskSnapshot? = nil
  ) {
    self.sequence = sequence
    self.taskID = taskID
    self.kind = kind
    self.state = state
    self.attempt = attempt
    self.progress = progress
    self.progressMessage = progressMessage
    self.error = error
    self.resultSize = resultSize
    self.time = time
    self.queue = queue
    self.type = type
    self.nextRun = nextRun
    self.snapshot = snapshot
  }
}
