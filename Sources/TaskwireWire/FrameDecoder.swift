package import NIOCore

/// Splits a byte stream into frames: a 4-byte big-endian length N, then N bytes of one `Frame`.
///
/// The declared length is checked against the limit from the 4-byte header alone, before a single
/// byte of the body is buffered, so a peer that announces 4 GiB costs nothing.
package struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
  package typealias InboundOut = ByteBuffer

  /// The size of the length prefix.
  package static let headerLength = 4

  /// Frames whose declared body length exceeds this are rejected.
  package let maxFrameBytes: Int

  /// Creates a decoder that rejects frames longer than `maxFrameBytes`.
  package init(maxFrameBytes: Int) {
    self.maxFrameBytes = maxFrameBytes
  }

  package mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
    guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
      return nil
    }
    guard length <= self.maxFrameBytes else {
      throw FrameTooLargeError(declaredLength: UInt64(length), maxFrameBytes: self.maxFrameBytes)
    }
    guard buffer.readableBytes >= Self.headerLength + Int(length) else {
      return nil
    }
    buffer.moveReaderIndex(forwardBy: Self.headerLength)
    return buffer.readSlice(length: Int(length))
  }

  package mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
    try self.decode(buffer: &buffer)
  }
}

/// A declared frame length over the limit; the connection must be closed.
package struct FrameTooLargeError: Error, Hashable {
  /// The length the peer announced.
  package var declaredLength: UInt64
  /// The limit in force.
  package var maxFrameBytes: Int

  package init(declaredLength: UInt64, maxFrameBytes: Int) {
    self.declaredLength = declaredLength
    self.maxFrameBytes = maxFrameBytes
  }
}
