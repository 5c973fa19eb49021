import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SwiftProtobuf
import TaskwireProto
import TaskwireWire

/// A bare protocol client for tests: real TLS, real frames, nothing hidden. It can send any
/// bytes, so the abuse tests use it too.
final class RawClient: Sendable {
  let channel: any Channel
  private let frames: AsyncStream<Taskwire_V1_Frame>
  private let iterator: IteratorBox

  private final class IteratorBox: @unchecked Sendable {
    // Only the test task that owns the client reads from it, one call at a time.
    var iterator: AsyncStream<Taskwire_V1_Frame>.Iterator
    init(_ iterator: AsyncStream<Taskwire_V1_Frame>.Iterator) { self.iterator = iterator }
  }

  private init(channel: any Channel, frames: AsyncStream<Taskwire_V1_Frame>) {
    self.channel = channel
    self.frames = frames
    self.iterator = IteratorBox(frames.makeAsyncIterator())
  }

  /// Connects with TLS trusting `caPath`; `tlsVersions` pins the versions offered.
  static func connect(
    port: Int,
    caPath: String,
    host: String = "127.0.0.1",
    tlsVersions: (minimum: TLSVersion, maximum: TLSVersion)? = nil,
    plaintext: Bool = false,
    receiveBufferBytes: Int? = nil,
    reading: Bool = true,
    clientCertificate: (chainPEM: String, keyPEM: String)? = nil
  ) async throws -> RawClient {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .file(caPath)
    if let certificate = clientCertificate {
      tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.chainPEM.utf8))
        .map { .certificate($0) }
      tls.privateKey = .privateKey(
        try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)
      )
    }
    if let versions = tlsVersions {
      tls.minimumTLSVersion = versions.minimum
      tls.maximumTLSVersion = versions.maximum
    }
    let context = try NIOSSLContext(configuration: tls)
    let (stream, continuation) = AsyncStream.makeStream(of: Taskwire_V1_Frame.self)
    var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    if !reading {
      // A peer that does not read: nothing is taken off the socket until `startReading()`.
      bootstrap = bootstrap.channelOption(.autoRead, value: false)
    }
    if let bytes = receiveBufferBytes {
      bootstrap = bootstrap.channelOption(
        .socketOption(.so_rcvbuf),
        value: SocketOptionValue(bytes)
      )
    }
    let channel =
      try await bootstrap
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let pipeline = channel.pipeline.syncOperations
          if !plaintext {
            try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
          }
          try pipeline.addHandler(
            ByteToMessageHandler(FrameDecoder(maxFrameBytes: 64 * 1024 * 1024))
          )
          try pipeline.addHandler(Collector(continuation: continuation))
        }
      }
      .connect(host: host, port: port).get()
    return RawClient(channel: channel, frames: stream)
  }

  /// Sends frames in one write.
  func send(_ frames: Taskwire_V1_Frame...) async throws {
    try await self.send(frames)
  }

  func send(_ frames: [Taskwire_V1_Frame]) async throws {
    var buffer = self.channel.allocator.buffer(capacity: 256)
    for frame in frames { try buffer.writeFrame(frame) }
    try await self.channel.writeAndFlush(buffer)
  }

  /// Starts reading (for a client connected with `reading: false`).
  func startReading() async throws {
    try await self.channel.setOption(.autoRead, value: true).get()
    self.channel.read()
  }

  /// Sends raw bytes as they are.
  func sendBytes(_ bytes: [UInt8]) async throws {
    try await self.channel.writeAndFlush(self.channel.allocator.buffer(bytes: bytes))
  }

  /// The next frame, or `nil` once the connection closed (or `timeout` passed).
  func next(timeout: Duration = .seconds(10)) async -> Taskwire_V1_Frame? {
    let box = self.iterator
    return await withTaskGroup(of: Taskwire_V1_Frame?.self) { group in
      group.addTask { await box.iterator.next() }
      group.addTask {
        try? await Task.sleep(for: timeout)
        return nil
      }
      let first = await group.next() ?? nil
      group.cancelAll()
      return first
    }
  }

  /// Waits until the server closes the connection; returns whether it did within `timeout`.
  func closed(within timeout: Duration) async -> Bool {
    await channelClosed(self.channel, within: timeout)
  }

  func close() async {
    try? await self.channel.close()
  }

  /// Sends a hello and returns the answer frame.
  func hello(token: String, name: String = "test") async throws -> Taskwire_V1_Frame? {
    var frame = Taskwire_V1_Frame()
    frame.hello.protocolVersion = 1
    frame.hello.token = token
    frame.hello.clientName = name
    try await self.send(frame)
    return await self.next()
  }

  /// One unary call: sends `body` as call `id` and waits for its answer (skipping pushes).
  func call(_ id: UInt64, _ body: Taskwire_V1_Frame.OneOf_Body) async throws -> Taskwire_V1_Frame
    .OneOf_Body?
  {
    try await self.send(.request(id, body))
    while let frame = await self.next() {
      if frame.callID == id { return frame.body }
    }
    return nil
  }

  private final class Collector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<Taskwire_V1_Frame>.Continuation

    init(continuation: AsyncStream<Taskwire_V1_Frame>.Continuation) {
      self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      let body = self.unwrapInboundIn(data)
      if let frame = try? body.readFrameBody() {
        self.continuation.yield(frame)
      }
    }

    func channelInactive(context: ChannelHandlerContext) {
      self.continuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
      self.continuation.finish()
      context.close(promise: nil)
    }
  }
}

extension Taskwire_V1_Frame {
  static func request(_ id: UInt64, _ body: Taskwire_V1_Frame.OneOf_Body) -> Taskwire_V1_Frame {
    var frame = Taskwire_V1_Frame()
    frame.callID = id
    frame.body = body
    return frame
  }

  /// The status of an error or stream end, if this frame is one.
  var status: Taskwire_V1_Status? {
    switch self.body {
    case .error(let status): status
    case .streamEnd(let end): end.status
    default: nil
    }
  }
}

extension Taskwire_V1_Frame.OneOf_Body {
  var errorCode: Taskwire_V1_StatusCode? {
    if case .error(let status) = self { return status.code }
    return nil
  }
}

/// Whether `channel` closes within `timeout` (a failure deadline, not a sleep to synchronise).
func channelClosed(_ channel: any Channel, within timeout: Duration) async -> Bool {
  let closeFuture = channel.closeFuture
  return await withTaskGroup(of: Bool.self) { group in
    group.addTask {
      try? await closeFuture.get()
      return true
    }
    group.addTask {
      try? await Task.sleep(for: timeout)
      return false
    }
    let first = await group.next() ?? false
    group.cancelAll()
    return first
  }
}
