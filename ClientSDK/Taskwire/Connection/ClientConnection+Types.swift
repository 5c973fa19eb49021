import NIOCore
package import TaskwireProto

extension ClientConnection {
  /// What the server pushes outside any call.
  package enum Push: Sendable {
    /// A cancel was requested for a task this worker connection holds.
    case cancelNotice(taskID: String, leaseToken: String, reason: String)
  }

  /// The server's answer to the hello.
  package struct Handshake: Sendable {
    package var role: Taskwire_V1_Role
    package var limits: Taskwire_V1_Limits
    package var serverVersion: String
    package var connectionID: String
  }

  /// Where a call's answer goes.
  enum Slot {
    /// A unary call: resumed with its answer.
    case unary(UnsafeContinuation<Taskwire_V1_Frame.OneOf_Body, any Error>)
    /// A watch: fed its events, finished by its `stream_end`; cut when more than `bufferLimit`
    /// events wait for its consumer.
    case stream(
      AsyncThrowingStream<Taskwire_V1_WatchEvent, any Error>.Continuation,
      bufferLimit: Int
    )
    /// A stream the client cancelled: it holds its slot until the server's `stream_end`.
    case cancelledStream

    /// Fails the waiting caller (none for a cancelled stream).
    func fail(_ error: TaskwireError) {
      switch self {
      case .unary(let continuation): continuation.resume(throwing: error)
      case .stream(let continuation, _): continuation.finish(throwing: error)
      case .cancelledStream: break
      }
    }
  }

  /// A call waiting for a slot: its encoded request and where its answer goes.
  struct Queued {
    var request: ByteBuffer
    var slot: Slot
  }
}
