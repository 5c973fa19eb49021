/// One attempt of a task: the history row.
public struct AttemptRecord: Sendable, Hashable {
  /// How an attempt ended.
  public enum Outcome: Int, Sendable, Hashable, CaseIterable {
    /// Still running.
    case running = 1
    /// Completed.
    case succeeded = 2
    /// The worker reported a failure.
    case failed = 3
    /// The lease ran out.
    case leaseExpired = 4
    /// The execution timeout ran out.
    case timedOut = 5
    /// Ended by a cancel (acknowledged by the worker, or found when the lease ran out).
    case cancelled = 6
    /// The worker handed the lease back; the attempt does not count.
    case released = 7
  }

  /// 1-based attempt number.
  public var number: Int32
  /// The worker that ran it.
  public var workerID: String
  /// When it started, Unix ms.
  public var startedMs: Int64
  /// When it ended; 0 while running.
  public var endedMs: Int64
  /// `endedMs - startedMs`; 0 while running.
  public var durationMs: Int64
  /// How it ended.
  public var outcome: Outcome
  /// The error, for failed, expired and timed-out attempts.
  public var error: String
  /// The result's size in bytes, for a succeeded attempt.
  public var resultSize: Int64

  /// Creates a row.
  public init(
    number: Int32,
    workerID: String,
    startedMs: Int64,
    endedMs: Int64 = 0,
    durationMs: Int64 = 0,
    outcome: Outcome,
    error: String = "",
    resultSize: Int64 = 0
  ) {
    self.number = number
    self.workerID = workerID
    self.startedMs = startedMs
    self.endedMs = endedMs
    self.durationMs = durationMs
    self.outcome = outcome
    self.error = error
    self.resultSize = resultSize
  }
}
