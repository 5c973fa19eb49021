import NIOCore

/// Closes the connection when `IdleStateHandler` reports that nothing was read for the idle
/// timeout (300 s by default).
final class IdleCloseHandler: ChannelInboundHandler {
  typealias InboundIn = FrameBatch
  typealias InboundOut = FrameBatch

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
      context.close(promise: nil)
      return
    }
    context.fireUserInboundEventTriggered(event)
  }
}
