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
  /// Appends `frame` with its 4-byte big-endian length prefix. The body is serialized straight
  /// into a buffer that already holds the prefix, so the frame is copied once on its way out.
  package mutating func writeFrame(_ frame: Taskwire_V1_Frame) throws {
    var framed: FramedBytes = try frame.serializedBytes()
    self.writeBuffer(&framed.buffer)
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
  /// The frame encoded with its length prefix, ready for the wire: serialized straight into
  /// the buffer it returns (one allocation, no copy).
  package func framedBuffer() throws -> ByteBuffer {
    let framed: FramedBytes = try self.serializedBytes()
    return framed.buffer
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

/// Serialization target that reserves the 4-byte length prefix in front of the body.
private struct FramedBytes: SwiftProtobufContiguousBytes {
  var buffer: ByteBuffer

  init(repeating: UInt8, count: Int) {
    self.buffer = ByteBuffer()
    self.buffer.reserveCapacity(FrameDecoder.headerLength + count)
    self.buffer.writeInteger(UInt32(count))
    self.buffer.writeRepeatingByte(repeating, count: count)
  }

  init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
    let bytes = Array(sequence)
    self.buffer = ByteBuffer()
    self.buffer.writeInteger(UInt32(bytes.count))
    self.buffer.writeBytes(bytes)
  }

  var count: Int { self.buffer.readableBytes - FrameDecoder.headerLength }

  func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try self.buffer.withUnsafeReadableBytes {
      try body(UnsafeRawBufferPointer(rebasing: $0.dropFirst(FrameDecoder.headerLength)))
    }
  }

  mutating func withUnsafeMutableBytes<R>(
    _ body: (UnsafeMutableRawBufferPointer) throws -> R
  ) rethrows -> R {
    try self.buffer.withUnsafeMutableReadableBytes {
      try body(UnsafeMutableRawBufferPointer(rebasing: $0.dropFirst(FrameDecoder.headerLength)))
    }
  }
}
