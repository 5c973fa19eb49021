import NIOCore
import TaskwireProto
import TaskwireWire

/// The frames a connection has gathered for its next write, in order.
///
/// Small frames are copied into one buffer, so a burst of tiny calls goes out as one write. A
/// frame of ``largeFrameBytes`` or more is kept as the buffer it was encoded into: its payload
/// is not copied again on its way to TLS.
struct Outbound {
  /// Frames at least this large are queued as their own buffers instead of copied.
  static let largeFrameBytes = 8 * 1024

  private let allocator: ByteBufferAllocator
  private var buffers: [ByteBuffer] = []
  private var small: ByteBuffer

  init(allocator: ByteBufferAllocator) {
    self.allocator = allocator
    self.small = allocator.buffer(capacity: 0)
  }

  var isEmpty: Bool { self.buffers.isEmpty && self.small.readableBytes == 0 }

  /// Appends an encoded frame (length prefix included).
  mutating func append(_ frame: ByteBuffer) {
    guard frame.readableBytes >= Self.largeFrameBytes else {
      self.small.writeImmutableBuffer(frame)
      return
    }
    self.closeSmall()
    self.buffers.append(frame)
  }

  /// Encodes `frame` and appends it.
  mutating func append(_ frame: Taskwire_V1_Frame) throws {
    try self.small.writeFrame(frame)
  }

  /// Everything gathered, in order; empties the outbound.
  mutating func take() -> [ByteBuffer] {
    self.closeSmall()
    defer { self.buffers = [] }
    return self.buffers
  }

  /// Ends the small frames' buffer (later frames must follow what is queued before them).
  private mutating func closeSmall() {
    guard self.small.readableBytes > 0 else { return }
    self.buffers.append(self.small)
    self.small = self.allocator.buffer(capacity: 0)
  }
}
