public import Foundation

/// A task a worker holds a lease on, as a raw handler receives it.
public struct LeasedTask: Sendable {
  /// The task's id.
  public var id: TaskID
  /// Its queue.
  public var queue: String
  /// Its type.
  public var type: String
  /// The payload bytes.
  public var payload: Data
  /// The payload's content type (`application/json` from the typed API).
  public var contentType: String
  /// This attempt's number, 1 for the first.
  public var attempt: Int32
  /// Attempts allowed in all.
  public var maxAttempts: Int32
  /// The task's metadata.
  public var metadata: [String: String]
  /// The task that submitted it, if any.
  public var parent: TaskID?
  /// Its priority.
  public var priority: Int32
  /// How long the lease lasts without a heartbeat (the worker heartbeats every third of it).
  public var leaseDuration: Duration
  /// The longest this attempt may run; `nil` = no limit.
  public var executionTimeout: Duration?
  /// The lease token: every call about this task carries it. Never logged.
  var leaseToken: String
}

/// What a raw handler returns: the result bytes and their content type.
public struct TaskResult: Sendable, Hashable {
  /// The result bytes (at most the server's `max_payload`).
  public var payload: Data
  /// Their content type.
  public var contentType: String

  /// A result.
  public init(_ payload: Data = Data(), contentType: String = "") {
    self.payload = payload
    self.contentType = contentType
  }
}
