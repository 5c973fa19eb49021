/// Errors of a ``TaskStore``; each maps to one wire status code.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
  /// No such task, token, … (NOT_FOUND).
  case notFound(String)
  /// The lease token is not the task's current one (LEASE_LOST; never retried).
  case leaseLost(taskID: String)
  /// The idempotency key was used with a different request (CONFLICT).
  case conflict(key: String)
  /// The queue holds as many waiting tasks as it may (RESOURCE_EXHAUSTED).
  case queueFull(queue: String, limit: Int, pending: Int)
  /// The task's state does not allow the call (FAILED_PRECONDITION).
  case failedPrecondition(String)
  /// A named thing exists already (ALREADY_EXISTS).
  case alreadyExists(String)
  /// A bad argument (INVALID_ARGUMENT).
  case invalid(String)
  /// The store is closed or closing (UNAVAILABLE).
  case unavailable(String)
  /// Anything else: I/O, corruption (INTERNAL).
  case `internal`(String)

  /// A message for people.
  public var description: String {
    switch self {
    case .notFound(let what): "not found: \(what)"
    case .leaseLost(let id): "lease lost: task \(id) is no longer held with this token"
    case .conflict(let key):
      "idempotency key \"\(key)\" was already used with a different request"
    case .queueFull(let queue, let limit, let pending):
      "queue \"\(queue)\" is full: \(pending) waiting tasks, limit \(limit)"
    case .failedPrecondition(let message): message
    case .alreadyExists(let what): "already exists: \(what)"
    case .invalid(let message): "invalid argument: \(message)"
    case .unavailable(let message): "unavailable: \(message)"
    case .internal(let message): "internal error: \(message)"
    }
  }
}
