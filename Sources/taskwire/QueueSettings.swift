import ArgumentParser
import TaskwireCore
import TaskwireStore

/// Per-queue and per-type settings from the config file's `"queues"` object (docs/server.md):
///
/// ```json
/// "queues": {
///   "emails": {
///     "max-attempts": 10, "lease-ms": 60000, "execution-timeout-ms": 600000, "priority": 1,
///     "retry": {"kind": "exponential", "initial-ms": 2000, "multiplier": 2, "max-ms": 600000,
///               "jitter": 0.2},
///     "max-pending": 50000, "retention-hours": 72,
///     "types": {"send": {"max-attempts": 3}}
///   }
/// }
/// ```
struct QueueSettings {
  var defaults = DefaultsTable()
  var pendingLimits: [String: Int] = [:]
  var retentionMs: [String: Int64] = [:]

  init() {}

  init(_ object: Any?) throws {
    guard let object else { return }
    guard let queues = object as? [String: Any] else {
      throw ValidationError("\"queues\" in the config file must be an object of queue names")
    }
    for (queue, value) in queues {
      guard let settings = value as? [String: Any] else {
        throw ValidationError("\"queues\".\"\(queue)\" must be an object")
      }
      self.defaults.queues[queue] = try Self.override(settings, at: "queues.\(queue)")
      if let pending = settings["max-pending"] {
        guard let limit = pending as? Int, limit > 0 else {
          throw ValidationError("queues.\(queue).max-pending must be a positive integer")
        }
        self.pendingLimits[queue] = limit
      }
      if let hours = settings["retention-hours"] {
        guard let value = hours as? Int, value > 0 else {
          throw ValidationError("queues.\(queue).retention-hours must be a positive integer")
        }
        self.retentionMs[queue] = Int64(value) * 3_600_000
      }
      if let types = settings["types"] {
        guard let types = types as? [String: Any] else {
          throw ValidationError("queues.\(queue).types must be an object of type names")
        }
        for (type, value) in types {
          guard let typeSettings = value as? [String: Any] else {
            throw ValidationError("queues.\(queue).types.\(type) must be an object")
          }
          self.defaults.types[.init(queue: queue, type: type)] =
            try Self.override(typeSettings, at: "queues.\(queue).types.\(type)")
        }
      }
    }
  }

  private static func override(_ settings: [String: Any], at path: String) throws
    -> TaskDefaults.Override
  {
    func int(_ key: String) throws -> Int64? {
      guard let value = settings[key] else { return nil }
      guard let number = value as? Int, number >= 0 else {
        throw ValidationError("\(path).\(key) must be a non-negative integer")
      }
      return Int64(number)
    }
    var override = TaskDefaults.Override()
    override.maxAttempts = try int("max-attempts").map { Int32($0) }
    override.leaseDurationMs = try int("lease-ms")
    override.executionTimeoutMs = try int("execution-timeout-ms")
    override.priority = try int("priority").map { Int32($0) }
    if let retry = settings["retry"] {
      guard let retry = retry as? [String: Any] else {
        throw ValidationError("\(path).retry must be an object")
      }
      let kind: RetryPolicy.Kind
      switch retry["kind"] as? String ?? "exponential" {
      case "fixed": kind = .fixed
      case "exponential": kind = .exponential
      case let other:
        throw ValidationError("\(path).retry.kind must be fixed or exponential, got \(other)")
      }
      let base = RetryPolicy.default
      let policy = RetryPolicy(
        kind: kind,
        initialMs: (retry["initial-ms"] as? Int).map(Int64.init) ?? base.initialMs,
        multiplier: (retry["multiplier"] as? Double) ?? (retry["multiplier"] as? Int).map(
          Double.init
        ) ?? base.multiplier,
        maxMs: (retry["max-ms"] as? Int).map(Int64.init) ?? base.maxMs,
        jitter: (retry["jitter"] as? Double) ?? base.jitter
      )
      if let problem = policy.validationError() {
        throw ValidationError("\(path).retry: \(problem)")
      }
      override.retryPolicy = policy
    }
    return override
  }
}
