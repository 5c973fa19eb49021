import Logging
import NIOCore
import NIOPosix
import NIOSSL
import TaskwireProto
import TaskwireWire

/// Opens one connection: TCP, TLS (verifying the server's name or IP), the frame codec, and the
/// hello. Fails with the server's status when the hello is refused.
enum ConnectionFactory {
  static func connect(
    to endpoint: TaskwireClient.Endpoint,
    settings: ConnectionSettings,
    pushHandler: (@Sendable (ClientConnection.Push) -> Void)?
  ) async throws -> (ClientConnection, ClientConnection.Handshake) {
    let hostname = settings.serverHostnameOverride ?? endpoint.host
    // An IP literal goes as `nil`: SNI must not carry one, and NIOSSL then verifies the
    // certificate against the peer's IP address instead of a name.
    let isIPLiteral = (try? SocketAddress(ipAddress: hostname, port: 0)) != nil
    let sniHostname: String? = isIPLiteral ? nil : hostname
    let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connectTimeout(.milliseconds(settings.connectTimeout.milliseconds))
      .channelOption(.socketOption(.tcp_nodelay), value: 1)
    let connection: ClientConnection
    do {
      connection = try await bootstrap.connect(host: endpoint.host, port: endpoint.port) {
        channel in
        channel.eventLoop.makeCompletedFuture {
          let connection = ClientConnection(
            channel: channel,
            streamBufferLimit: settings.streamBufferLimit,
            pushHandler: pushHandler
          )
          let sync = channel.pipeline.syncOperations
          try sync.addHandler(
            try NIOSSLClientHandler(context: settings.sslContext, serverHostname: sniHostname)
          )
          try sync.addHandler(
            ByteToMessageHandler(FrameDecoder(maxFrameBytes: WireLimits().maxFrameBytes))
          )
          try sync.addHandler(
            ClientChannelHandler(
              connection: connection,
              pingInterval: .milliseconds(settings.pingInterval.milliseconds)
            )
          )
          return connection
        }
      }
    } catch let error as TaskwireError {
      throw error
    } catch {
      throw TaskwireError.unavailable(
        "cannot connect to \(endpoint)",
        cause: SendableCause(error)
      )
    }
    var hello = Taskwire_V1_Hello()
    hello.protocolVersion = taskwireProtocolVersion
    hello.token = settings.token
    hello.clientName = settings.clientName
    hello.instanceID = settings.instanceID
    // TLS handshake and hello share one deadline.
    let timeout = connection.channel.eventLoop.scheduleTask(
      in: .milliseconds(settings.connectTimeout.milliseconds)
    ) {
      connection.channel.close(promise: nil)
    }
    defer { timeout.cancel() }
    do {
      let handshake = try await connection.hello(hello)
      return (connection, handshake)
    } catch {
      connection.close()
      throw error
    }
  }
}
