/// The protocol's limits and timeouts, with their documented defaults (docs/protocol.md, "Limits").
package struct WireLimits: Sendable, Hashable {
  /// Largest frame body a peer may send: 4 MiB.
  package var maxFrameBytes: Int = 4 * 1024 * 1024
  /// Largest task payload or result: 1 MiB.
  package var maxPayloadBytes: Int = 1024 * 1024
  /// Calls in flight on one connection: 100.
  package var maxConcurrentCalls: Int = 100
  /// TLS handshake plus hello: 10 s.
  package var handshakeTimeout: Duration = .seconds(10)
  /// A started frame must be complete within 30 s.
  package var frameTimeout: Duration = .seconds(30)
  /// A connection that receives nothing for 300 s is closed.
  package var idleTimeout: Duration = .seconds(300)

  package init() {}
}

extension Duration {
  /// Whole milliseconds, rounded down.
  package var milliseconds: Int64 {
    let (seconds, attoseconds) = self.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}
