package import NIOCore
package import SwiftProtobuf
package import TaskwireProto

/// Decoding options every Taskwire peer uses: unknown fields are dropped, never stored or forwarded;
/// nesting stays at swift-protobuf's default depth limit.
package let frameDecodingOptions: BinaryDecodingOptions = {
  var options = BinaryDecodingOptions()
  options.discardUnknownFields = true
  return options
}()

extension ByteBuffer {
  /// Appends `frame` with its 4-byte big-endian length prefix.
  package mutating func writeFrame(_ frame: Taskwire_V1_Frame) throws {
    let bytes: [UInt8] = try frame.serializedBytes()
    self.reserveCapacity(minimumWritableBytes: FrameDecoder.headerLength + bytes.count)
    self.writeInteger(UInt32(bytes.count))
    self.writeBytes(bytes)
  }

  /// Decodes the readable bytes (one frame body, without its length prefix) as a `Frame`.
  package func readFrameBody() throws -> Taskwire_V1_Frame {
    try Taskwire_V1_Frame(
      serializedBytes: ProtobufBytes(buffer: self),
      options: frameDecodingOptions
    )
  }
}

extension Taskwire_V1_Frame {
  /// The frame encoded with its length prefix, ready for the wire.
  package func framedBuffer(allocator: ByteBufferAllocator = ByteBufferAllocator()) throws
    -> ByteBuffer
  {
    var buffer = allocator.buffer(capacity: 64)
    try buffer.writeFrame(self)
    return buffer
  }
}

/// Lets swift-protobuf read a `ByteBuffer`'s bytes in place.
private struct ProtobufBytes: SwiftProtobufContiguousBytes {
  var buffer: ByteBuffer

  init(buffer: ByteBuffer) {
    self.buffer = buffer
  }

  init(repeating: UInt8, count: Int) {
    self.buffer = ByteBuffer(repeating: repeating, count: count)
  }

  init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
    self.buffer = ByteBuffer(bytes: Array(sequence))
  }

  var count: Int { self.buffer.readableBytes }

  func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try self.buffer.withUnsafeReadableBytes(body)
  }

  mutating func withUnsafeMutableBytes<R>(
    _ body: (UnsafeMutableRawBufferPointer) throws -> R
  ) rethrows -> R {
    try self.buffer.withUnsafeMutableReadableBytes(body)
  }
}
