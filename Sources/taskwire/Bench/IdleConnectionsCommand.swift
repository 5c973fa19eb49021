import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import TaskwireProto
import TaskwireWire

/// `taskwire bench-connections`: opens N TLS connections, says hello on each, prints
/// `ready N`, and holds them idle until stdin closes or it is terminated. The memory benchmark runs
/// it as a separate process so the client's own memory is not counted.
struct IdleConnectionsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-connections",
    abstract: "Hold N idle, authenticated TLS connections (used by `taskwire bench`).",
    shouldDisplay: false
  )

  @Option var address: String
  @Option var ca: String
  @Option var token: String
  @Option var count = 10_000

  func run() async throws {
    raiseOpenFileLimit()
    guard let colon = self.address.lastIndex(of: ":"),
      let port = Int(self.address[self.address.index(after: colon)...])
    else {
      throw ValidationError("--address must be HOST:PORT")
    }
    let host = String(self.address[..<colon])
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .file(self.ca)
    let context = try NIOSSLContext(configuration: tls)
    var hello = Taskwire_V1_Frame()
    hello.hello.protocolVersion = taskwireProtocolVersion
    hello.hello.token = self.token
    hello.hello.clientName = "bench-idle"
    let helloBytes = try hello.framedBuffer()
    var channels: [any Channel] = []
    channels.reserveCapacity(self.count)
    // Open in waves of 200 so the server's accept backlog is never the limit.
    var opened = 0
    while opened < self.count {
      let wave = min(200, self.count - opened)
      let batch = try await withThrowingTaskGroup(of: (any Channel).self) { group in
        for _ in 0..<wave {
          group.addTask {
            let answered = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
              .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                  try channel.pipeline.syncOperations.addHandler(
                    NIOSSLClientHandler(context: context, serverHostname: nil)
                  )
                  try channel.pipeline.syncOperations.addHandler(
                    FirstByteHandler(answered: answered)
                  )
                }
              }
              .connect(host: host, port: port).get()
            try await channel.writeAndFlush(helloBytes)
            try await answered.futureResult.get()
            return channel
          }
        }
        var channels: [any Channel] = []
        for try await channel in group { channels.append(channel) }
        return channels
      }
      channels += batch
      opened += wave
    }
    FileHandle.standardOutput.write(Data("ready \(channels.count)\n".utf8))
    // Hold until stdin closes (the bench terminates this process).
    _ = FileHandle.standardInput.readDataToEndOfFile()
    for channel in channels { channel.close(promise: nil) }
  }
}

/// Completes `answered` when the first bytes (the hello reply) arrive.
private final class FirstByteHandler: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer
  let answered: EventLoopPromise<Void>
  init(answered: EventLoopPromise<Void>) { self.answered = answered }
  func channelRead(context: ChannelHandlerContext, data: NIOAny) { self.answered.succeed(()) }
  func channelInactive(context: ChannelHandlerContext) {
    self.answered.fail(BenchError("connection closed before the hello reply"))
  }
}

/// Raises the soft open-file limit to the hard limit (10,000 connections need 10,000 descriptors).
func raiseOpenFileLimit() {
  var limit = rlimit()
  if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0,
    limit.rlim_cur < limit.rlim_max
  {
    limit.rlim_cur = limit.rlim_max
    setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
  }
}
