public import Logging
import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import Synchronization
public import TaskwireCoordinator
import TaskwireProto
import TaskwireWire

/// The Taskwire coordinator's network face: a TLS listener speaking length-prefixed protobuf
/// frames (docs/protocol.md), one task per connection, calls routed to the ``Coordinator``.
///
/// Run it as a `Service` in a `ServiceGroup`; graceful shutdown sends GoAway, stops accepting,
/// ends long polls and watches, finishes unary calls in flight and closes every connection.
public final class TaskwireServer: Service, Sendable {
  private let configuration: Configuration
  private let coordinator: Coordinator
  private let logger: Logger
  private let registry: ConnectionRegistry
  /// The bound address once listening, or why the server could not listen; callers of
  /// ``listeningAddress()`` wait for it.
  private let bound = Mutex<
    (
      waiters: [CheckedContinuation<SocketAddress, any Error>],
      result: Result<SocketAddress, any Error>?
    )
  >(([], nil))

  /// Creates a server; nothing is bound until ``run()``.
  public init(configuration: Configuration, coordinator: Coordinator, logger: Logger) {
    self.configuration = configuration
    self.coordinator = coordinator
    self.logger = logger
    self.registry = ConnectionRegistry(
      maxConnections: configuration.limits.maxConnections,
      maxConnectionsPerAddress: configuration.limits.maxConnectionsPerAddress
    )
  }

  /// The bound address, once listening (port 0 resolved to the real port). Throws what ``run()``
  /// threw if the server could not listen (the port is taken, the TLS files are bad).
  public func listeningAddress() async throws -> (host: String, port: Int) {
    let address = try await withCheckedThrowingContinuation { continuation in
      let ready = self.bound.withLock { state -> Result<SocketAddress, any Error>? in
        if let result = state.result { return result }
        state.waiters.append(continuation)
        return nil
      }
      if let ready { continuation.resume(with: ready) }
    }
    return (address.ipAddress ?? self.configuration.host, address.port ?? 0)
  }

  /// Binds, accepts and serves until cancelled or gracefully shut down.
  public func run() async throws {
    do {
      try await self.listenAndServe()
    } catch {
      // A server that never got to listen fails its `listeningAddress()` callers too; they
      // would wait forever otherwise (EmbeddedServer's address writer, so `EmbeddedServer.run()`
      // itself; TestServer restarting on a port taken meanwhile).
      self.settleBound(.failure(error))
      throw error
    }
  }

  /// Records the bound address (or the failure to bind) once, and wakes who waits for it.
  private func settleBound(_ result: Result<SocketAddress, any Error>) {
    let waiters = self.bound.withLock { state in
      guard state.result == nil else { return [CheckedContinuation<SocketAddress, any Error>]() }
      state.result = result
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume(with: result) }
  }

  private func listenAndServe() async throws {
    let sslContext = try NIOSSLContext(configuration: try self.configuration.tls.makeServerTLS())
    let limits = self.configuration.limits.wire
    let registry = self.registry
    let idleTimeout = TimeAmount.milliseconds(limits.idleTimeout.milliseconds)
    let handshakeTimeout = TimeAmount.milliseconds(limits.handshakeTimeout.milliseconds)
    let group = MultiThreadedEventLoopGroup.singleton
    let router = CallRouter(
      coordinator: self.coordinator,
      registry: registry,
      limits: limits,
      logger: self.logger
    )
    let pending = AcceptedConnections()

    let serverChannel = try await ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 1024)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
      .childChannelOption(.autoRead, value: true)
      .bind(host: self.configuration.host, port: self.configuration.port) {
        channel -> EventLoopFuture<(NIOAsyncChannel<FrameBatch, ByteBuffer>, Scheduled<Void>)?> in
        channel.eventLoop.makeCompletedFuture {
          let timer = channel.eventLoop.scheduleTask(in: handshakeTimeout) {
            channel.close(promise: nil)
          }
          let pipeline = channel.pipeline.syncOperations
          try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
          if let limit = registry.admit(channel) {
            timer.cancel()
            try pipeline.addHandler(RejectConnectionHandler(limit: limit))
            return nil
          }
          channel.closeFuture.whenComplete { _ in
            timer.cancel()
            registry.remove(channel)
          }
          try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
          try pipeline.addHandler(
            FrameReaderHandler(
              maxFrameBytes: limits.maxFrameBytes,
              frameTimeout: limits.frameTimeout
            )
          )
          try pipeline.addHandler(IdleCloseHandler())
          let asyncChannel = try NIOAsyncChannel<FrameBatch, ByteBuffer>(
            wrappingChannelSynchronously: channel
          )
          guard pending.hold(asyncChannel) else {
            // The accept loop has ended (cancelled, or shutting down): no one will serve this
            // connection. Closed before it is active, its handler finishes the writer itself.
            channel.close(promise: nil)
            return nil
          }
          return (asyncChannel, timer)
        }
      }

    let address = serverChannel.channel.localAddress!
    self.settleBound(.success(address))
    self.logger.info(
      "listening",
      metadata: ["address": "\(address.ipAddress ?? "?"):\(address.port ?? 0)"]
    )

    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { connections in
        defer {
          // However the loop ended — cancellation drops what the listener's stream still holds —
          // close every connection it never took; `executeThenClose` finishes each one's writer.
          for unserved in pending.stopAccepting() {
            connections.addTask { _ = try? await unserved.executeThenClose { _, _ in } }
          }
        }
        try await serverChannel.executeThenClose { inbound in
          for try await accepted in inbound {
            guard let (channel, timer) = accepted else { continue }
            pending.take(channel)
            let connection = ServerConnection(
              channel: channel,
              router: router,
              registry: registry,
              limits: limits,
              handshakeTimer: timer,
              logger: self.logger
            )
            // The connection's read loop runs on its channel's event loop: a read burst's
            // frames reach it, and its calls reach the store, with no thread hand-off.
            connections.addTask(
              executorPreference: EventLoopTaskExecutor(channel.channel.eventLoop)
            ) {
              await connection.run()
            }
          }
        }
      }
    } onGracefulShutdown: {
      self.logger.info("shutting down: no new connections")
      serverChannel.channel.close(promise: nil)
    }
  }
}

/// Answers a connection over a connection limit with a connection error, then closes it.
private final class RejectConnectionHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  let limit: WireStatusLimit

  init(limit: WireStatusLimit) { self.limit = limit }

  func channelActive(context: ChannelHandlerContext) {
    var frame = Taskwire_V1_Frame()
    frame.error =
      WireStatus.limit(
        self.limit.name,
        limit: self.limit.limit,
        observed: self.limit.observed,
        what: "connections"
      ).proto
    let channel = context.channel
    if let buffer = try? frame.framedBuffer() {
      context.writeAndFlush(self.wrapOutboundOut(buffer)).whenComplete { _ in
        channel.close(promise: nil)
      }
    } else {
      context.close(promise: nil)
    }
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
