package import TaskwireProto

/// An error that crosses the wire as a `Status`: a code, a message a human can act on, and for
/// limits the limit's name, its value and the value seen.
package struct WireStatus: Error, Hashable, Sendable, CustomStringConvertible {
  package var code: Taskwire_V1_StatusCode
  package var message: String
  package var limitName: String = ""
  package var limitValue: UInt64 = 0
  package var observedValue: UInt64 = 0
  package var resumeFrom: UInt64 = 0
  package var snapshotRequired: Bool = false

  package init(_ code: Taskwire_V1_StatusCode, _ message: String) {
    self.code = code
    self.message = message
  }

  /// A RESOURCE_EXHAUSTED or INVALID_ARGUMENT status for a limit, naming it and the value seen.
  package static func limit(
    _ name: String,
    limit: some BinaryInteger,
    observed: some BinaryInteger,
    code: Taskwire_V1_StatusCode = .resourceExhausted,
    what: String
  ) -> WireStatus {
    var status = WireStatus(code, "\(what) exceeds \(name) (limit \(limit), got \(observed))")
    status.limitName = name
    status.limitValue = UInt64(limit)
    status.observedValue = UInt64(observed)
    return status
  }

  /// Builds a status from its wire form.
  package init(_ proto: Taskwire_V1_Status) {
    self.code = proto.code
    self.message = proto.message
    self.limitName = proto.limitName
    self.limitValue = proto.limitValue
    self.observedValue = proto.observedValue
    self.resumeFrom = proto.resumeFrom
    self.snapshotRequired = proto.snapshotRequired
  }

  /// The wire form.
  package var proto: Taskwire_V1_Status {
    var status = Taskwire_V1_Status()
    status.code = self.code
    status.message = self.message
    status.limitName = self.limitName
    status.limitValue = self.limitValue
    status.observedValue = self.observedValue
    status.resumeFrom = self.resumeFrom
    status.snapshotRequired = self.snapshotRequired
    return status
  }

  package var description: String { "\(self.code.name): \(self.message)" }
}

extension Taskwire_V1_StatusCode {
  /// The documented name, as in docs/protocol.md (e.g. `LEASE_LOST`).
  package var name: String {
    switch self {
    case .ok: "OK"
    case .cancelled: "CANCELLED"
    case .invalidArgument: "INVALID_ARGUMENT"
    case .notFound: "NOT_FOUND"
    case .alreadyExists: "ALREADY_EXISTS"
    case .conflict: "CONFLICT"
    case .failedPrecondition: "FAILED_PRECONDITION"
    case .leaseLost: "LEASE_LOST"
    case .resourceExhausted: "RESOURCE_EXHAUSTED"
    case .unauthenticated: "UNAUTHENTICATED"
    case .permissionDenied: "PERMISSION_DENIED"
    case .deadlineExceeded: "DEADLINE_EXCEEDED"
    case .unavailable: "UNAVAILABLE"
    case .internal: "INTERNAL"
    case .UNRECOGNIZED(let value): "UNKNOWN(\(value))"
    }
  }

  /// Whether a client may retry a call that ended with this code (with backoff). LEASE_LOST never.
  package var isRetryable: Bool {
    switch self {
    case .resourceExhausted, .deadlineExceeded, .unavailable: true
    default: false
    }
  }
}
