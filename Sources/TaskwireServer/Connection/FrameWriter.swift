import NIOCore
import TaskwireProto
import TaskwireWire

/// Writes frames to a connection: several frames are encoded into one buffer and one write.
/// Writes wait while the channel is not writable, so a peer that stops reading stalls its own
/// calls instead of growing the server's memory.
struct FrameWriter: Sendable {
  let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  let allocator: ByteBufferAllocator

  /// Encodes and writes `frames`; a closed connection is not an error here (the peer left).
  func write(_ frames: [Taskwire_V1_Frame]) async {
    guard !frames.isEmpty else { return }
    if frames.count == 1, let buffer = try? frames[0].framedBuffer() {
      // One frame: its own encoding buffer goes out as it is, not copied into another.
      try? await self.outbound.write(buffer)
      return
    }
    var buffer = self.allocator.buffer(capacity: 128 * frames.count)
    for frame in frames {
      do {
        try buffer.writeFrame(frame)
      } catch {
        var failure = Taskwire_V1_Frame()
        failure.callID = frame.callID
        failure.error = WireStatus(.internal, "cannot encode answer: \(error)").proto
        try? buffer.writeFrame(failure)
      }
    }
    try? await self.outbound.write(buffer)
  }

  /// Sends a connection error (call id 0); the caller then closes the connection.
  func connectionError(_ status: WireStatus) async {
    var frame = Taskwire_V1_Frame()
    frame.error = status.proto
    await self.write([frame])
  }
}
