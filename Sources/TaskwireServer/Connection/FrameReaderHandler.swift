import NIOCore
import TaskwireProto
import TaskwireWire

/// The frames decoded from one read burst, handed on together so their answers can share a write.
struct FrameBatch: Sendable {
  var frames: [Taskwire_V1_Frame]
}

/// Turns TLS plaintext into decoded frames.
///
/// - Rejects a declared length over `maxFrameBytes` from the 4-byte header alone, answering with a
///   connection error (RESOURCE_EXHAUSTED, limit `max_frame`) and closing.
/// - Closes a connection whose started frame is not complete within `frameTimeout`.
/// - Bytes that do not parse as a `Frame` get a connection error (INVALID_ARGUMENT) and a close.
/// - Emits one ``FrameBatch`` per read burst.
final class FrameReaderHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = FrameBatch
  typealias OutboundOut = ByteBuffer

  private var decoder: FrameDecoder
  private let frameTimeout: TimeAmount
  private var buffer: ByteBuffer?
  private var pending: [Taskwire_V1_Frame] = []
  private var frameTimer: Scheduled<Void>?
  private var failed = false

  init(maxFrameBytes: Int, frameTimeout: Duration) {
    self.decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
    self.frameTimeout = .nanoseconds(Int64(frameTimeout.milliseconds) * 1_000_000)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !self.failed else { return }
    let incoming = self.unwrapInboundIn(data)
    if self.buffer == nil || self.buffer!.readableBytes == 0 {
      self.buffer = incoming
    } else {
      var incoming = incoming
      self.buffer!.writeBuffer(&incoming)
    }
    do {
      while let body = try self.decoder.decode(buffer: &self.buffer!) {
        guard body.readableBytes > 0 else {
          throw WireStatus(.invalidArgument, "empty frame: a frame must carry a body")
        }
        do {
          self.pending.append(try body.readFrameBody())
        } catch {
          throw WireStatus(.invalidArgument, "frame is not a valid taskwire.v1.Frame: \(error)")
        }
      }
    } catch let error as FrameTooLargeError {
      self.fail(
        context: context,
        status: .limit(
          "max_frame",
          limit: error.maxFrameBytes,
          observed: error.declaredLength,
          what: "declared frame length"
        )
      )
      return
    } catch let status as WireStatus {
      self.fail(context: context, status: status)
      return
    } catch {
      self.fail(context: context, status: WireStatus(.internal, "frame decoding failed: \(error)"))
      return
    }
    self.updateFrameTimer(context: context)
    if self.buffer!.readableBytes == 0 {
      self.buffer!.clear()
    } else if self.buffer!.readerIndex > 64 * 1024 {
      self.buffer!.discardReadBytes()
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    if !self.pending.isEmpty {
      let batch = FrameBatch(frames: self.pending)
      self.pending.removeAll(keepingCapacity: true)
      context.fireChannelRead(self.wrapInboundOut(batch))
    }
    context.fireChannelReadComplete()
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.frameTimer?.cancel()
    self.frameTimer = nil
    context.fireChannelInactive()
  }

  /// Arms the frame timer while a frame is partly received; disarms it once none is.
  private func updateFrameTimer(context: ChannelHandlerContext) {
    let partial = (self.buffer?.readableBytes ?? 0) > 0
    if partial, self.frameTimer == nil {
      let channel = context.channel
      let timeout = self.frameTimeout
      self.frameTimer = context.eventLoop.scheduleTask(in: timeout) {
        channel.close(promise: nil)
      }
    } else if !partial, let timer = self.frameTimer {
      timer.cancel()
      self.frameTimer = nil
    }
  }

  /// Sends a connection error frame (call id 0) and closes.
  private func fail(context: ChannelHandlerContext, status: WireStatus) {
    self.failed = true
    self.buffer = nil
    self.frameTimer?.cancel()
    self.frameTimer = nil
    var frame = Taskwire_V1_Frame()
    frame.error = status.proto
    let channel = context.channel
    if let bytes = try? frame.framedBuffer() {
      context.writeAndFlush(self.wrapOutboundOut(bytes)).whenComplete { _ in
        channel.close(promise: nil)
      }
    } else {
      context.close(promise: nil)
    }
  }
}
