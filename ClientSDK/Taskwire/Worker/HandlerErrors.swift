/// Throw from a handler to fail the task for good: it ends `FAILED` at once, with no retry
/// left, whatever its attempts.
public struct NonRetryableError: Error, Sendable, CustomStringConvertible {
  /// The message recorded as the task's error.
  public var message: String

  /// A permanent failure with `message`.
  public init(_ message: String) {
    self.message = message
  }

  /// The message.
  public var description: String { self.message }
}

/// Throw from a handler to fail this attempt and retry after `delay` instead of the task's
/// backoff policy (when attempts remain).
public struct RetryLaterError: Error, Sendable, CustomStringConvertible {
  /// When to try again.
  public var delay: Duration
  /// The message recorded as the attempt's error.
  public var message: String

  /// A retryable failure to retry after `delay`.
  public init(after delay: Duration, _ message: String) {
    self.delay = delay
    self.message = message
  }

  /// The message.
  public var description: String { self.message }
}
