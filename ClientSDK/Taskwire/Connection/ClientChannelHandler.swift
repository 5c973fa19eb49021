import NIOCore
import TaskwireProto
import TaskwireWire

/// The last handler of a client channel: decodes frame bodies and hands them to the
/// ``ClientConnection``; pings the server when the connection was quiet for a while; reports the
/// close with its cause.
final class ClientChannelHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  private let connection: ClientConnection
  private let pingInterval: TimeAmount
  private var pingTask: RepeatedTask?
  private var cause: (any Error)?

  init(connection: ClientConnection, pingInterval: TimeAmount) {
    self.connection = connection
    self.pingInterval = pingInterval
  }

  func channelActive(context: ChannelHandlerContext) {
    let connection = self.connection
    self.pingTask = context.eventLoop.scheduleRepeatedTask(
      initialDelay: self.pingInterval,
      delay: self.pingInterval
    ) { _ in
      connection.pingIfIdle()
    }
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let body = Self.unwrapInboundIn(data)
    do {
      let frame = try body.readFrameBody()
      self.connection.received(frame)
    } catch {
      self.cause = TaskwireError(
        code: .internal,
        message: "the server sent a frame that does not parse"
      )
      context.close(promise: nil)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.pingTask?.cancel()
    self.pingTask = nil
    self.connection.closed(cause: self.cause)
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if self.cause == nil { self.cause = error }
    context.close(promise: nil)
  }
}
