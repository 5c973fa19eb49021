public import TaskwireStore

/// Why a coordinator operation was refused, in terms that map 1:1 onto the wire status codes.
public struct CallError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The status code families the coordinator produces.
  public enum Code: Sendable, Hashable {
    case cancelled, invalidArgument, notFound, alreadyExists, conflict, failedPrecondition
    case leaseLost, resourceExhausted, permissionDenied, deadlineExceeded, unavailable, `internal`
  }

  public var code: Code
  public var message: String
  /// For limits: the limit's name, its value and the value seen.
  public var limitName: String = ""
  public var limitValue: UInt64 = 0
  public var observedValue: UInt64 = 0

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  /// A limit that was hit: names it, its value and the value seen.
  public static func limit(
    _ name: String,
    limit: some BinaryInteger,
    observed: some BinaryInteger,
    code: Code = .resourceExhausted,
    what: String
  ) -> CallError {
    var error = CallError(code, "\(what) exceeds \(name) (limit \(limit), got \(observed))")
    error.limitName = name
    error.limitValue = UInt64(limit)
    error.observedValue = UInt64(observed)
    return error
  }

  public var description: String { "\(self.code): \(self.message)" }

  /// The call error for a store error.
  public init(_ error: StoreError) {
    switch error {
    case .notFound(let what): self = CallError(.notFound, "not found: \(what)")
    case .leaseLost(let task):
      self = CallError(.leaseLost, "lease of task \(task) is no longer held by this token")
    case .conflict(let key):
      self = CallError(
        .conflict,
        "idempotency key \"\(key)\" was used before with a different request"
      )
    case .queueFull(let queue, let limit, let pending):
      self = .limit(
        "max_pending",
        limit: limit,
        observed: pending + 1,
        what: "pending tasks in queue \"\(queue)\""
      )
    case .failedPrecondition(let why): self = CallError(.failedPrecondition, why)
    case .alreadyExists(let what): self = CallError(.alreadyExists, "already exists: \(what)")
    case .invalid(let why): self = CallError(.invalidArgument, why)
    case .unavailable(let why): self = CallError(.unavailable, why)
    case .internal(let why): self = CallError(.internal, "store error: \(why)")
    }
  }
}
