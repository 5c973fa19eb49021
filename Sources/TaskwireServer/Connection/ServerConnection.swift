import Logging
import NIOCore
import ServiceLifecycle
import TaskwireCoordinator
import SwiftProtobuf
import TaskwireProto
import TaskwireWire

/// Who a connection is, once its hello was accepted.
struct CallContext: Sendable {
  var connectionID: String
  /// The worker id leases are recorded under: the hello's instance id, or the connection id.
  var workerID: String
  var clientName: String
  var address: String
  var principal: Principal
}

/// One accepted connection: handshake, then calls until the peer goes or the server drains.
///
/// A single task per connection reads batches of frames; each call runs in a child task of the
/// connection's task group (a long poll or a watch must not hold up the calls behind it).
///
/// The connection's task runs on its channel's event loop (``EventLoopTaskExecutor``), and so do
/// the children that only wait for the store (submits, completions, long polls): a read burst
/// reaches the read loop, and the store's answer reaches the socket, without a hand-off to the
/// cooperative pool and back. Short calls and watches run on the pool: a large list answer or a
/// watch's fan-out must not hold up every connection on the loop.
struct ServerConnection {
  let channel: NIOAsyncChannel<FrameBatch, ByteBuffer>
  let router: CallRouter
  let registry: ConnectionRegistry
  let limits: WireLimits
  let handshakeTimer: Scheduled<Void>
  let logger: Logger

  func run() async {
    let rawChannel = self.channel.channel
    defer { self.registry.remove(rawChannel) }
    do {
      try await self.channel.executeThenClose { inbound, outbound in
        let writer = FrameWriter(outbound: outbound, allocator: rawChannel.allocator)
        var iterator = inbound.makeAsyncIterator()
        guard var first = try await iterator.next(), !first.frames.isEmpty else { return }
        let hello = first.frames.removeFirst()
        guard let context = await self.handshake(hello, writer: writer) else { return }
        self.handshakeTimer.cancel()
        let calls = CallTable(maxConcurrentCalls: self.limits.maxConcurrentCalls)
        self.registry.authenticated(
          rawChannel,
          tokenID: context.principal.tokenID,
          workerID: context.workerID,
          push: { frame in
            if let buffer = try? frame.framedBuffer() {
              rawChannel.writeAndFlush(buffer, promise: nil)
            }
          }
        )
        defer { self.router.connectionClosed(context) }
        try await withGracefulShutdownHandler {
          try await withThrowingDiscardingTaskGroup { group in
            var batch = first
            while true {
              let keepGoing = await self.process(
                batch.frames,
                context: context,
                calls: calls,
                writer: writer,
                group: &group
              )
              guard keepGoing, let next = try await iterator.next() else { break }
              batch = next
            }
            // The peer is gone (or broke the protocol): no answer can reach it. Long polls stop
            // waiting, and cancelled calls hand back tasks they were granted instead of
            // answering with them (a failed read cancels the group the same way).
            calls.cancelAll()
            group.cancelAll()
          }
        } onGracefulShutdown: {
          var goAway = Taskwire_V1_Frame()
          goAway.goAway.reason = "server shutting down"
          if let buffer = try? goAway.framedBuffer() {
            rawChannel.writeAndFlush(buffer, promise: nil)
          }
          // Closed through the loop's queue, behind the last answers: a call answered from a
          // pool thread has its write queued there, and a close run at once on the loop (the
          // last answer may be a long poll's, written on the loop) would overtake it.
          calls.drain { rawChannel.eventLoop.execute { rawChannel.close(promise: nil) } }
        }
      }
    } catch {
      self.logger.debug("connection ended", metadata: ["error": "\(error)"])
    }
  }

  /// Checks the hello; answers it. Returns `nil` (after a connection error) when it fails.
  private func handshake(_ frame: Taskwire_V1_Frame, writer: FrameWriter) async -> CallContext? {
    guard frame.callID == 0, case .hello(let hello)? = frame.body else {
      await writer.connectionError(
        WireStatus(.unauthenticated, "the first frame must be a hello with call_id 0")
      )
      return nil
    }
    guard hello.protocolVersion == taskwireProtocolVersion else {
      await writer.connectionError(
        WireStatus(
          .failedPrecondition,
          "protocol version \(hello.protocolVersion) is not supported; this server speaks \(taskwireProtocolVersion)"
        )
      )
      return nil
    }
    let principal: Principal
    switch await self.router.authenticate(token: hello.token) {
    case .success(let found): principal = found
    case .failure(let status):
      await writer.connectionError(status)
      return nil
    }
    let connectionID = randomIdentifier()
    let context = CallContext(
      connectionID: connectionID,
      workerID: hello.instanceID.isEmpty ? connectionID : hello.instanceID,
      clientName: String(hello.clientName.prefix(200)),
      address: self.channel.channel.remoteAddress?.description ?? "unknown",
      principal: principal
    )
    var reply = Taskwire_V1_Frame()
    reply.helloReply.protocolVersion = taskwireProtocolVersion
    reply.helloReply.serverVersion = taskwireVersion
    reply.helloReply.role = principal.role.proto
    reply.helloReply.connectionID = connectionID
    reply.helloReply.limits.maxFrameBytes = UInt32(self.limits.maxFrameBytes)
    reply.helloReply.limits.maxPayloadBytes = UInt32(self.limits.maxPayloadBytes)
    reply.helloReply.limits.maxConcurrentCalls = UInt32(self.limits.maxConcurrentCalls)
    reply.helloReply.limits.heartbeatIntervalMs = UInt64(self.router.defaultHeartbeatIntervalMs)
    reply.helloReply.limits.idleTimeoutMs = UInt64(self.limits.idleTimeout.milliseconds)
    await writer.write([reply])
    return context
  }

  /// Routes one batch of frames. Returns `false` when the connection must close.
  private func process(
    _ frames: [Taskwire_V1_Frame],
    context: CallContext,
    calls: CallTable,
    writer: FrameWriter,
    group: inout ThrowingDiscardingTaskGroup<any Error>
  ) async -> Bool {
    // Answers made here (errors, pongs) are written by this loop itself: while the peer does not
    // read, the loop waits, stops reading, and TCP pushes back — nothing piles up in memory.
    var immediate: [Taskwire_V1_Frame] = []
    // Ids of calls answered in `immediate` (not in the call table).
    var inline: Set<UInt64> = []
    // Single submits of this burst go to the store together: one hand-off, one commit, one write.
    var submits: [(id: UInt64, request: Taskwire_V1_SubmitRequest)] = []
    // Likewise single completions: one store hand-off for the burst, each item on its own.
    var completes: [(id: UInt64, request: Taskwire_V1_CompleteRequest)] = []
    for frame in frames {
      let id = frame.callID
      if id == 0 {
        switch frame.body {
        case .ping(let ping)?:
          var pong = Taskwire_V1_Frame()
          pong.pong.nonce = ping.nonce
          immediate.append(pong)
        case .pong?:
          break
        default:
          await writer.connectionError(
            WireStatus(.invalidArgument, "call_id 0 carries only ping and pong after the hello")
          )
          return false
        }
        continue
      }
      guard let body = frame.body else {
        immediate.append(
          .answer(id, .error(WireStatus(.invalidArgument, "frame has no body").proto))
        )
        continue
      }
      if case .cancelCall = body {
        calls.cancel(id)
        continue
      }
      let isWatch: Bool
      let isLong: Bool
      switch body {
      case .watchRequest: (isWatch, isLong) = (true, true)
      case .leaseRequest(let lease): (isWatch, isLong) = (false, lease.waitMs > 0)
      default: (isWatch, isLong) = (false, false)
      }
      guard let allowed = CallPermissions.allows(context.principal.role.proto, body) else {
        immediate.append(.failure(id, WireStatus(.invalidArgument, "frame body is not a request")))
        continue
      }
      guard allowed else {
        let role = context.principal.role.proto.name
        let status = WireStatus(.permissionDenied, "role \(role) may not call \(body.callName)")
        immediate.append(.failure(id, status, stream: isWatch))
        continue
      }
      // An id answered here stays in flight until the burst's write: reusing it meanwhile is the
      // same protocol error as reusing the id of a call still running.
      guard !inline.contains(id) else {
        await writer.connectionError(
          WireStatus(.invalidArgument, "call_id \(id) is already in flight on this connection")
        )
        return false
      }
      if case .healthRequest = body {
        // In-memory only: answered here, in the burst's one write, without a task of its own.
        guard !calls.isInFlight(id) else {
          await writer.connectionError(
            WireStatus(.invalidArgument, "call_id \(id) is already in flight on this connection")
          )
          return false
        }
        inline.insert(id)
        immediate.append(.answer(id, await self.router.health()))
        continue
      }
      let cancellation: CallCancellation
      switch calls.begin(id, long: isLong) {
      case .admitted(let admitted):
        cancellation = admitted
      case .duplicate:
        await writer.connectionError(
          WireStatus(.invalidArgument, "call_id \(id) is already in flight on this connection")
        )
        return false
      case .tooMany(let inFlight):
        let status = WireStatus.limit(
          "max_concurrent_calls",
          limit: calls.maxConcurrentCalls,
          observed: inFlight + 1,
          what: "calls in flight on this connection"
        )
        immediate.append(.failure(id, status, stream: isWatch))
        continue
      case .draining:
        let status = WireStatus(.unavailable, "server is shutting down; reconnect")
        immediate.append(.failure(id, status, stream: isWatch))
        continue
      }
      let router = self.router
      if case .submitRequest(let request) = body {
        submits.append((id, request))
        continue
      }
      if case .completeRequest(let request) = body {
        completes.append((id, request))
        continue
      }
      if case .watchRequest(let request) = body {
        group.addTask(executorPreference: globalConcurrentExecutor) {
          let end = await router.watch(request, context: context, cancellation: cancellation) {
            events in await writer.write(events.map { .answer(id, .watchEvent($0)) })
          }
          calls.end(id)
          await writer.write([.answer(id, .streamEnd(.with { $0.status = end.proto }))])
          calls.answered()
        }
      } else if isLong {
        // A long poll ends its wait when cancel_call or shutdown fires its cancellation. Tasks it
        // was granted go out even then (the worker must learn it holds them); otherwise a
        // cancelled poll answers with the cancellation's status. It runs on the connection's
        // event loop (as the connection's task does), so the store's answer goes from its writer
        // thread to the socket in one hand-off.
        group.addTask {
          let work = await router.unary(body, context: context, interrupt: cancellation)
          let answer =
            cancellation.hasFired && !work.grantsTasks ? .error(cancellation.status.proto) : work
          calls.end(id)
          await writer.write([.answer(id, answer)])
          calls.answered()
        }
      } else {
        // A short call runs to its answer: cancel_call may not cut it short (docs/protocol.md
        // 6.5), so it needs no race and no extra tasks. It runs on the pool, off the loop.
        group.addTask(executorPreference: globalConcurrentExecutor) {
          let answer = await router.unary(body, context: context)
          calls.end(id)
          await writer.write([.answer(id, answer)])
          calls.answered()
        }
      }
    }
    if !submits.isEmpty {
      let router = self.router
      let batch = submits
      group.addTask {
        let answers = await router.submitEach(batch.map(\.request), context: context)
        for call in batch { calls.end(call.id) }
        await writer.write(zip(batch, answers).map { .answer($0.id, $1) })
        for _ in batch { calls.answered() }
      }
    }
    if !completes.isEmpty {
      let router = self.router
      let batch = completes
      group.addTask {
        let answers = await router.completeEach(batch.map(\.request), context: context)
        for call in batch { calls.end(call.id) }
        await writer.write(zip(batch, answers).map { .answer($0.id, $1) })
        for _ in batch { calls.answered() }
      }
    }
    await writer.write(immediate)
    return true
  }
}

extension CallCancellation {
  /// The status a call cut short by this signal answers with.
  var status: WireStatus {
    switch self.reason {
    case .shutdown: WireStatus(.unavailable, "server is shutting down; retry on another connection")
    case .cancelledByClient, nil: WireStatus(.cancelled, "call cancelled by the client")
    }
  }
}

extension Taskwire_V1_Frame.OneOf_Body {
  /// Whether this answer hands tasks to a worker: such an answer goes out even when the call was
  /// cancelled meanwhile, or the tasks would sit leased to no one until their lease expired.
  var grantsTasks: Bool {
    if case .leaseResponse(let response) = self { return !response.tasks.isEmpty }
    return false
  }
}

extension Taskwire_V1_Frame {
  /// The failure answer of call `id`: an `error`, or for a stream its `stream_end`.
  static func failure(_ id: UInt64, _ status: WireStatus, stream: Bool = false) -> Taskwire_V1_Frame
  {
    .answer(id, stream ? .streamEnd(.with { $0.status = status.proto }) : .error(status.proto))
  }

  /// A frame answering call `id`.
  static func answer(_ id: UInt64, _ body: Taskwire_V1_Frame.OneOf_Body) -> Taskwire_V1_Frame {
    var frame = Taskwire_V1_Frame()
    frame.callID = id
    frame.body = body
    return frame
  }
}

extension Taskwire_V1_Role {
  /// The documented name (`client`, `worker`, `admin`).
  var name: String {
    switch self {
    case .client: "client"
    case .worker: "worker"
    case .admin: "admin"
    case .unspecified, .UNRECOGNIZED: "none"
    }
  }
}

extension Taskwire_V1_Frame.OneOf_Body {
  /// The call's name as docs/protocol.md spells it (e.g. `lease_request`).
  var callName: String {
    let text = String(describing: self)
    return String(text.prefix { $0 != "(" })
  }
}

/// 16 random bytes as 32 lowercase hex characters.
func randomIdentifier() -> String {
  var generator = SystemRandomNumberGenerator()
  let high = generator.next() as UInt64
  let low = generator.next() as UInt64
  return String(high, radix: 16).leftPadded(to: 16) + String(low, radix: 16).leftPadded(to: 16)
}

extension String {
  fileprivate func leftPadded(to length: Int) -> String {
    String(repeating: "0", count: max(0, length - self.count)) + self
  }
}
