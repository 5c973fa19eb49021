import TaskwireWire
package import TaskwireProto

/// The one error every Taskwire call throws: a ``Code`` that maps 1:1 to the wire status codes,
/// a message for humans, and the structured fields a program acts on.
///
/// Programs branch on ``code`` and the structured fields (``resumeFrom``, ``snapshotRequired``,
/// ``limit``), never on ``message``. Descriptions never contain tokens or payload bytes.
public struct TaskwireError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A status code. An evolvable set: more codes may be added, so `switch` over it with a default.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    package let wire: Taskwire_V1_StatusCode

    package init(_ wire: Taskwire_V1_StatusCode) {
      self.wire = wire
    }

    /// The call was cancelled by the caller.
    public static let cancelled = Code(.cancelled)
    /// The request is malformed or a field is out of range.
    public static let invalidArgument = Code(.invalidArgument)
    /// The task, token or schedule does not exist.
    public static let notFound = Code(.notFound)
    /// A named thing (token, schedule) exists already.
    public static let alreadyExists = Code(.alreadyExists)
    /// An idempotency key was reused with a different request.
    public static let conflict = Code(.conflict)
    /// The task is in the wrong state for this call (or a watch resume point is too old).
    public static let failedPrecondition = Code(.failedPrecondition)
    /// The lease token is stale: another worker owns the task now. Never retried.
    public static let leaseLost = Code(.leaseLost)
    /// A limit was hit; ``TaskwireError/limit`` says which.
    public static let resourceExhausted = Code(.resourceExhausted)
    /// The token is missing, unknown or revoked.
    public static let unauthenticated = Code(.unauthenticated)
    /// The token's role does not allow this call.
    public static let permissionDenied = Code(.permissionDenied)
    /// A timeout ran out.
    public static let deadlineExceeded = Code(.deadlineExceeded)
    /// The server is unreachable, shutting down, or the connection dropped. Retry with backoff.
    public static let unavailable = Code(.unavailable)
    /// A bug or an unexpected store error on the server.
    public static let `internal` = Code(.internal)

    /// The documented name, e.g. `LEASE_LOST`.
    public var description: String { self.wire.name }

    /// Whether the protocol says a call that ended with this code may be retried with backoff.
    public var isRetryable: Bool { self.wire.isRetryable }
  }

  /// A limit the server enforced: its name (e.g. `max_payload`), its value and the value seen.
  public struct Limit: Hashable, Sendable {
    /// The limit's documented name, e.g. `max_payload` or `watch_buffer`.
    public var name: String
    /// The limit in force.
    public var value: UInt64
    /// The value the request had.
    public var observed: UInt64
  }

  /// What went wrong.
  public var code: Code
  /// A human-readable explanation. Never parse it.
  public var message: String
  /// The underlying error (a TLS or socket error, for example), if any.
  public var cause: (any Error & Sendable)?
  /// For a watch that fell behind or was ended by a server shutdown: the sequence to resume after.
  public var resumeFrom: UInt64?
  /// For a watch resume point older than the events kept: take a fresh snapshot instead.
  public var snapshotRequired: Bool
  /// The limit that was hit, for ``Code/resourceExhausted`` and some ``Code/invalidArgument``.
  public var limit: Limit?

  /// Creates an error.
  public init(code: Code, message: String, cause: (any Error & Sendable)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
    self.resumeFrom = nil
    self.snapshotRequired = false
    self.limit = nil
  }

  package init(_ status: Taskwire_V1_Status) {
    self.init(code: Code(status.code), message: status.message)
    self.resumeFrom = status.resumeFrom > 0 ? status.resumeFrom : nil
    self.snapshotRequired = status.snapshotRequired
    if !status.limitName.isEmpty {
      self.limit = Limit(
        name: status.limitName,
        value: status.limitValue,
        observed: status.observedValue
      )
    }
  }

  /// `CODE: message`, plus the cause's description.
  public var description: String {
    var text = "\(self.code): \(self.message)"
    if let cause = self.cause { text += " (cause: \(cause))" }
    return text
  }

  public static func == (lhs: TaskwireError, rhs: TaskwireError) -> Bool {
    lhs.code == rhs.code && lhs.message == rhs.message && lhs.resumeFrom == rhs.resumeFrom
      && lhs.snapshotRequired == rhs.snapshotRequired && lhs.limit == rhs.limit
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(self.code)
    hasher.combine(self.message)
  }
}

extension TaskwireError {
  package static func unavailable(
    _ message: String,
    cause: (any Error & Sendable)? = nil
  ) -> TaskwireError {
    TaskwireError(code: .unavailable, message: message, cause: cause)
  }

  package static let callCancelled = TaskwireError(
    code: .cancelled,
    message: "the call was cancelled"
  )
}
