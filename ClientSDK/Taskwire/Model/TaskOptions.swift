public import Foundation

/// How a submitted task runs. Every property left at its default uses the server's default for
/// the queue and type (docs/protocol.md, "Defaults").
public struct TaskOptions: Sendable, Hashable {
  /// How retries are spaced. `nil` in ``TaskOptions/retryPolicy`` means the server's default
  /// (exponential: 1 s doubling, capped at 5 min, ±20 % jitter).
  public struct RetryPolicy: Sendable, Hashable {
    /// The shape of the backoff.
    public enum Kind: Sendable, Hashable {
      /// The same delay before every retry.
      case fixed
      /// `initial × multiplier^(attempt-1)`, capped at `maximum`.
      case exponential
    }

    /// The shape of the backoff.
    public var kind: Kind
    /// The first delay.
    public var initial: Duration
    /// The growth factor per attempt (exponential only).
    public var multiplier: Double
    /// The longest delay.
    public var maximum: Duration
    /// Fraction 0...1: each delay is multiplied by a random factor in `[1-jitter, 1+jitter]`.
    public var jitter: Double

    /// A fixed delay before every retry.
    public static func fixed(_ delay: Duration, jitter: Double = 0) -> RetryPolicy {
      RetryPolicy(kind: .fixed, initial: delay, multiplier: 1, maximum: delay, jitter: jitter)
    }

    /// An exponential backoff.
    public static func exponential(
      initial: Duration = .seconds(1),
      multiplier: Double = 2,
      maximum: Duration = .seconds(300),
      jitter: Double = 0.2
    ) -> RetryPolicy {
      RetryPolicy(
        kind: .exponential,
        initial: initial,
        multiplier: multiplier,
        maximum: maximum,
        jitter: jitter
      )
    }
  }

  /// The queue; `nil` = `default`.
  public var queue: String?
  /// Higher runs first; 0 by default.
  public var priority: Int32 = 0
  /// Run no earlier than this time. Takes precedence over ``delay``.
  public var runAt: Date?
  /// Run no earlier than this long after the submit.
  public var delay: Duration?
  /// A caller key unique per queue: submitting the same key again returns the existing task
  /// (``SubmittedTask/existing``) instead of a duplicate, and makes the submit safe to retry
  /// automatically after a connection loss.
  public var idempotencyKey: String?
  /// Attempts before the task fails for good; `nil` = the server's default (5).
  public var maxAttempts: Int32?
  /// How retries are spaced; `nil` = the server's default.
  public var retryPolicy: RetryPolicy?
  /// How long a lease lasts without a heartbeat; `nil` = the server's default (30 s). The worker
  /// heartbeats every third of it.
  public var leaseDuration: Duration?
  /// The longest one attempt may run; `nil` = no limit.
  public var executionTimeout: Duration?
  /// Free-form metadata (`created_by`, trace context, ...).
  public var metadata: [String: String] = [:]
  /// The task that submitted this one, if any.
  public var parent: TaskID?
  /// Delete the task (not its idempotency key) once it succeeds.
  public var cleanOnSuccess = false

  /// Options with every value at its default.
  public init() {}

  /// Options with the most common values set.
  public init(
    queue: String? = nil,
    priority: Int32 = 0,
    delay: Duration? = nil,
    idempotencyKey: String? = nil,
    maxAttempts: Int32? = nil,
    leaseDuration: Duration? = nil,
    executionTimeout: Duration? = nil,
    metadata: [String: String] = [:]
  ) {
    self.queue = queue
    self.priority = priority
    self.delay = delay
    self.idempotencyKey = idempotencyKey
    self.maxAttempts = maxAttempts
    self.leaseDuration = leaseDuration
    self.executionTimeout = executionTimeout
    self.metadata = metadata
  }
}
