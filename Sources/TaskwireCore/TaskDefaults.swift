/// The values a task gets when its submission leaves them out.
public struct TaskDefaults: Sendable, Hashable, Codable {
  /// How many attempts a task gets in all (first run included). Default 5.
  public var maxAttempts: Int32
  /// The backoff between attempts. Default ``RetryPolicy/default``.
  public var retryPolicy: RetryPolicy
  /// How long a lease lasts without a heartbeat, in milliseconds. Default 30 s.
  public var leaseDurationMs: Int64
  /// How long one attempt may run in all, in milliseconds; 0 means no limit (the default).
  public var executionTimeoutMs: Int64
  /// The priority; higher runs first. Default 0.
  public var priority: Int32

  /// Creates defaults; every parameter has the documented default.
  public init(
    maxAttempts: Int32 = 5,
    retryPolicy: RetryPolicy = .default,
    leaseDurationMs: Int64 = 30_000,
    executionTimeoutMs: Int64 = 0,
    priority: Int32 = 0
  ) {
    self.maxAttempts = maxAttempts
    self.retryPolicy = retryPolicy
    self.leaseDurationMs = leaseDurationMs
    self.executionTimeoutMs = executionTimeoutMs
    self.priority = priority
  }

  /// The built-in defaults.
  public static let standard = TaskDefaults()

  /// Some of the defaults, to lay over others (per queue, or per queue and type).
  public struct Override: Sendable, Hashable, Codable {
    /// Replaces ``TaskDefaults/maxAttempts`` when set.
    public var maxAttempts: Int32?
    /// Replaces ``TaskDefaults/retryPolicy`` when set.
    public var retryPolicy: RetryPolicy?
    /// Replaces ``TaskDefaults/leaseDurationMs`` when set.
    public var leaseDurationMs: Int64?
    /// Replaces ``TaskDefaults/executionTimeoutMs`` when set.
    public var executionTimeoutMs: Int64?
    /// Replaces ``TaskDefaults/priority`` when set.
    public var priority: Int32?

    /// Creates an override; `nil` leaves a value as it is.
    public init(
      maxAttempts: Int32? = nil,
      retryPolicy: RetryPolicy? = nil,
      leaseDurationMs: Int64? = nil,
      executionTimeoutMs: Int64? = nil,
      priority: Int32? = nil
    ) {
      self.maxAttempts = maxAttempts
      self.retryPolicy = retryPolicy
      self.leaseDurationMs = leaseDurationMs
      self.executionTimeoutMs = executionTimeoutMs
      self.priority = priority
    }
  }

  /// These defaults with `override`'s values laid over them.
  public func applying(_ override: Override) -> TaskDefaults {
    var result = self
    if let v = override.maxAttempts { result.maxAttempts = v }
    if let v = override.retryPolicy { result.retryPolicy = v }
    if let v = override.leaseDurationMs { result.leaseDurationMs = v }
    if let v = override.executionTimeoutMs { result.executionTimeoutMs = v }
    if let v = override.priority { result.priority = v }
    return result
  }
}
