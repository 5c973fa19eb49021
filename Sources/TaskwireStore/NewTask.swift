public import Foundation
public import TaskwireCore

/// A task to store, with every default already resolved by the caller.
public struct NewTask: Sendable, Hashable {
  /// The queue (e.g. `default`).
  public var queue: String
  /// The task type, which workers use to pick a handler.
  public var type: String
  /// The payload bytes, passed through untouched.
  public var payload: Data
  /// The payload's media type (e.g. `application/json`); empty when unknown.
  public var contentType: String
  /// Higher runs first.
  public var priority: Int32
  /// When the task may run, Unix ms; 0 (or a time not after the submit) means now.
  public var runAtMs: Int64
  /// The caller's idempotency key, unique per queue; empty for none.
  public var idempotencyKey: String
  /// Attempts in all, first run included; at least 1.
  public var maxAttempts: Int32
  /// The backoff between attempts.
  public var retryPolicy: RetryPolicy
  /// How long a lease lasts without a heartbeat, ms.
  public var leaseDurationMs: Int64
  /// How long one attempt may run in all, ms; 0 for no limit.
  public var executionTimeoutMs: Int64
  /// Free-form metadata (created-by, trace context, …).
  public var metadata: [String: String]
  /// The parent task's id; empty for none.
  public var parentID: String
  /// Delete the task (not its idempotency key) as soon as it succeeds.
  public var cleanOnSuccess: Bool
  /// The relative delay the caller asked for (0 = it gave an absolute run-at or none); `runAtMs`
  /// already holds the time it resolved to. Used only for the idempotency fingerprint.
  public var requestedDelayMs: Int64 = 0

  /// Who created the task: `metadata["created_by"]`, or empty.
  public var createdBy: String { metadata["created_by"] ?? "" }

  /// Creates a task description; the defaults are ``TaskDefaults/standard``'s.
  public init(
    queue: String = "default",
    type: String,
    payload: Data = Data(),
    contentType: String = "",
    priority: Int32 = 0,
    runAtMs: Int64 = 0,
    idempotencyKey: String = "",
    maxAttempts: Int32 = TaskDefaults.standard.maxAttempts,
    retryPolicy: RetryPolicy = TaskDefaults.standard.retryPolicy,
    leaseDurationMs: Int64 = TaskDefaults.standard.leaseDurationMs,
    executionTimeoutMs: Int64 = TaskDefaults.standard.executionTimeoutMs,
    metadata: [String: String] = [:],
    parentID: String = "",
    cleanOnSuccess: Bool = false
  ) {
    self.queue = queue
    self.type = type
    self.payload = payload
    self.contentType = contentType
    self.priority = priority
    self.runAtMs = runAtMs
    self.idempotencyKey = idempotencyKey
    self.maxAttempts = maxAttempts
    self.retryPolicy = retryPolicy
    self.leaseDurationMs = leaseDurationMs
    self.executionTimeoutMs = executionTimeoutMs
    self.metadata = metadata
    self.parentID = parentID
    self.cleanOnSuccess = cleanOnSuccess
  }

  /// Checks the values a store relies on; returns a message naming the field, or `nil`.
  public func validationError() -> String? {
    if queue.isEmpty { return "queue must not be empty" }
    if type.isEmpty { return "type must not be empty" }
    if maxAttempts < 1 { return "max attempts must be at least 1 (got \(maxAttempts))" }
    if leaseDurationMs < 1 { return "lease duration must be positive (got \(leaseDurationMs) ms)" }
    if executionTimeoutMs < 0 {
      return "execution timeout must not be negative (got \(executionTimeoutMs) ms)"
    }
    if runAtMs < 0 { return "run-at must not be negative (got \(runAtMs))" }
    return retryPolicy.validationError()
  }
}
