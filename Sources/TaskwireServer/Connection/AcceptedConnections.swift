import NIOCore
import Synchronization

/// Connections the listener accepted and wrapped, from the child channel initializer until the
/// accept loop takes them; what is left when the loop ends, the server closes.
///
/// NIO hands each accepted `NIOAsyncChannel` to the accept loop through the listener's inbound
/// stream. When the task running ``TaskwireServer/run()`` is cancelled, that stream ends at once
/// and drops what it still buffers, and also what initializers still running deliver later
/// (swift-nio #2813). Nothing then calls `executeThenClose` on those connections: one stays open,
/// unserved (the peer waits for its hello reply until the handshake timer), or — when the channel
/// becomes active after the drop — its outbound writer is released unfinished and the process
/// traps with "Deinited NIOAsyncWriter without calling finish()". Holding every wrapped channel
/// here until the loop takes it keeps both from happening: the server closes the rest itself.
final class AcceptedConnections: Sendable {
  typealias Connection = NIOAsyncChannel<FrameBatch, ByteBuffer>

  private struct State {
    var waiting: [ObjectIdentifier: Connection] = [:]
    var closed = false
  }

  private let state = Mutex(State())

  /// Keeps `connection` until ``take(_:)``. Returns `false` once the accept loop has ended: the
  /// caller closes the connection instead (no one would serve it).
  func hold(_ connection: Connection) -> Bool {
    self.state.withLock { state in
      guard !state.closed else { return false }
      state.waiting[ObjectIdentifier(connection.channel)] = connection
      return true
    }
  }

  /// The accept loop took `connection` and serves it from now on.
  func take(_ connection: Connection) {
    _ = self.state.withLock { $0.waiting.removeValue(forKey: ObjectIdentifier(connection.channel)) }
  }

  /// The accept loop has ended: returns the connections it never took (to be closed with
  /// `executeThenClose`, which finishes the writer), and refuses any that arrive later.
  func stopAccepting() -> [Connection] {
    self.state.withLock { state in
      state.closed = true
      defer { state.waiting = [:] }
      return Array(state.waiting.values)
    }
  }
}
