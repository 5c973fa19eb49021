import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TaskwireProto
import TaskwireTesting
import TaskwireWire
import Testing

@testable import Taskwire

@Suite("Calls beyond max_concurrent_calls wait in the client (real TLS, in-process server)")
struct CallQueueTests {
  @Test("1,000 concurrent submits on one connection all succeed")
  func thousandSubmits() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        let ids = try await withThrowingTaskGroup(of: TaskID.self) { group in
          for index in 0..<1_000 {
            group.addTask {
              try await client.submit(
                type: "burst.item",
                payload: Data("\(index)".utf8),
                options: TaskOptions(queue: "burst")
              ).task.id
            }
          }
          var ids: Set<TaskID> = []
          for try await id in group { ids.insert(id) }
          return ids
        }
        #expect(ids.count == 1_000)
        #expect(try await client.count(filter: TaskFilter(queues: ["burst"])) == 1_000)
      }
    }
  }

  @Test(
    "With every slot held by a watch, a call waits; cancelled it throws at once; a watch's end lets the next through",
    .timeLimit(.minutes(1))
  )
  func waitsForASlot() async throws {
    try await self.withAllSlotsHeld { client, connection, task, stop in
      // Every slot is taken: a get waits in the queue; cancelling its task fails it unsent.
      try await withThrowingTaskGroup(of: Void.self) { callers in
        callers.addTask {
          do {
            _ = try await client.get(task)
            Issue.record("the waiting get was answered while every slot was held")
          } catch let error as TaskwireError {
            #expect(error.code == .cancelled)
          }
        }
        await connection.waitForQueuedCalls(1)
        callers.cancelAll()
        try await callers.waitForAll()
      }
      #expect(connection.isUsable)

      // The next get waits too, and goes out once one watch ends.
      try await withThrowingTaskGroup(of: TaskSnapshot.self) { callers in
        callers.addTask { try await client.get(task) }
        await connection.waitForQueuedCalls(1)
        stop[0].open()
        let snapshot = try await callers.next()
        #expect(snapshot?.id == task)
      }
    }
  }

  @Test(
    "A call waiting for a slot fails like the calls in flight when the connection drops",
    .timeLimit(.minutes(1))
  )
  func waitingCallFailsOnDrop() async throws {
    try await self.withAllSlotsHeld { client, connection, task, _ in
      try await withThrowingTaskGroup(of: Void.self) { callers in
        callers.addTask {
          do {
            // Without an idempotency key a submit is not retried: it shows the raw error.
            _ = try await client.submit(type: "slot.queued", payload: Data())
            Issue.record("the waiting submit succeeded on a dropped connection")
          } catch let error as TaskwireError {
            #expect(error.code == .unavailable)
          }
        }
        await connection.waitForQueuedCalls(1)
        client.dropConnectionForTesting()
        try await callers.waitForAll()
      }
    }
  }

  @Test("The queue is first in, first out, gated by the limit, and forgets removed calls")
  func queueOrder() {
    var queue = CallQueue<String>()
    queue.setLimit(announced: 0)
    #expect(queue.limit == 100)
    queue.setLimit(announced: 2)
    #expect(queue.admitsNow(inFlight: 1))
    #expect(!queue.admitsNow(inFlight: 2))
    for id in UInt64(1)...5 { _ = queue.append(id, "call \(id)") }
    #expect(!queue.admitsNow(inFlight: 0))
    #expect(queue.next(inFlight: 2) == nil)
    #expect(queue.remove(2) == "call 2")
    #expect(queue.remove(2) == nil)
    #expect(queue.next(inFlight: 1)?.id == 1)
    #expect(queue.next(inFlight: 1)?.id == 3)
    #expect(queue.removeAll().elements == ["call 4", "call 5"])
    #expect(queue.isEmpty)
    #expect(queue.admitsNow(inFlight: 0))

    // Calls that come and go behind one that keeps waiting leave nothing behind.
    _ = queue.append(6, "first")
    for id in UInt64(10)..<10_010 {
      _ = queue.append(id, "call \(id)")
      #expect(queue.remove(id) != nil)
    }
    _ = queue.append(20_000, "last")
    #expect(queue.count == 2)
    #expect(queue.next(inFlight: 0)?.element == "first")
    #expect(queue.next(inFlight: 0)?.element == "last")
    #expect(queue.next(inFlight: 0) == nil)
  }

  @Test(
    "Over a scripted peer: the hello's limit bounds the calls sent; a refused call goes again",
    .timeLimit(.minutes(1))
  )
  func scriptedPeer() async throws {
    let record = ScriptedPeer.Record()
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .bind(host: "127.0.0.1", port: 0) { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1 << 20)),
            ScriptedPeer(limit: 3, refusals: 2, record: record)
          )
        }
      }
    let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: "127.0.0.1", port: server.channel.localAddress!.port!) { channel in
        channel.eventLoop.makeCompletedFuture {
          let connection = ClientConnection(
            channel: channel,
            streamBufferLimit: 10,
            pushHandler: nil
          )
          try channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1 << 20)),
            ClientChannelHandler(connection: connection, pingInterval: .minutes(5))
          )
          return connection
        }
      }
    let handshake = try await connection.hello(Taskwire_V1_Hello())
    #expect(handshake.limits.maxConcurrentCalls == 3)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<50 {
        group.addTask {
          let answer = try await connection.unary(.healthRequest(Taskwire_V1_HealthRequest()))
          guard case .healthResponse = answer else {
            Issue.record("unexpected answer \(answer)")
            return
          }
        }
      }
      try await group.waitForAll()
    }
    let (answered, refused, mostUnanswered) = record.summary
    #expect(answered == 50)
    #expect(refused == 2)
    #expect(mostUnanswered <= 3)
    connection.close()
    try await server.channel.close()
  }

  /// Starts a test server and a client, submits one task, and holds every slot of the client's
  /// connection with a watch of it (see ``withOpenWatches(_:of:on:_:)``) while `body` runs with
  /// the client, its connection, the task and the watches' stop latches.
  private func withAllSlotsHeld(
    _ body: (TaskwireClient, ClientConnection, TaskID, [Latch]) async throws -> Void
  ) async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        let task = try await client.submit(type: "slot.hold", payload: Data()).task.id
        let connection = try await client.connection.connection()
        let limit = try self.announcedLimit(client)
        try await self.withOpenWatches(limit, of: task, on: client) { stop in
          try await body(client, connection, task, stop)
        }
      }
    }
  }

  /// The server's `max_concurrent_calls` from the hello reply (the test server's default, 100).
  private func announcedLimit(_ client: TaskwireClient) throws -> Int {
    let limit = Int(try #require(client.connection.handshake).limits.maxConcurrentCalls)
    #expect(limit == 100)
    return limit
  }

  /// Opens `count` watches of `task` on `client` (each holds a slot until told to stop), waits
  /// until the server has sent each its snapshot, runs `body` with their stop latches, then ends
  /// them all.
  private func withOpenWatches(
    _ count: Int,
    of task: TaskID,
    on client: TaskwireClient,
    _ body: ([Latch]) async throws -> Void
  ) async throws {
    let stop = (0..<count).map { _ in Latch() }
    let opened = Counter()
    try await withThrowingTaskGroup(of: Void.self) { watches in
      for latch in stop {
        watches.addTask {
          var events = client.watch(task).makeAsyncIterator()
          _ = try await events.next()
          opened.increment()
          await latch.wait()
        }
      }
      await opened.wait(for: count)
      do {
        try await body(stop)
      } catch {
        for latch in stop { latch.open() }
        throw error
      }
      for latch in stop { latch.open() }
      try await watches.waitForAll()
    }
  }
}

/// A peer that plays the server for ``ClientConnection`` alone: answers the hello with `limit`,
/// refuses the first `refusals` calls with `max_concurrent_calls`, and answers the other calls
/// at the end of each read burst, recording the most calls it held unanswered at once.
private final class ScriptedPeer: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  /// What the peer saw, read by the test.
  final class Record: Sendable {
    private let state = Mutex<(answered: Int, refused: Int, mostUnanswered: Int)>((0, 0, 0))

    var summary: (answered: Int, refused: Int, mostUnanswered: Int) { self.state.withLock { $0 } }

    func update(_ body: (inout (answered: Int, refused: Int, mostUnanswered: Int)) -> Void) {
      self.state.withLock { body(&$0) }
    }
  }

  private let limit: UInt32
  private var refusals: Int
  private let record: Record
  private var unanswered: [UInt64] = []

  init(limit: UInt32, refusals: Int, record: Record) {
    self.limit = limit
    self.refusals = refusals
    self.record = record
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard let frame = try? Self.unwrapInboundIn(data).readFrameBody() else { return }
    var answer = Taskwire_V1_Frame()
    answer.callID = frame.callID
    if case .hello = frame.body {
      answer.helloReply.limits.maxConcurrentCalls = self.limit
    } else if self.refusals > 0 {
      self.refusals -= 1
      answer.error.code = .resourceExhausted
      answer.error.limitName = "max_concurrent_calls"
      self.record.update { $0.refused += 1 }
    } else {
      self.unanswered.append(frame.callID)
      let count = self.unanswered.count
      self.record.update { $0.mostUnanswered = max($0.mostUnanswered, count) }
      return
    }
    self.write(answer, context: context)
    context.flush()
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    for id in self.unanswered {
      var answer = Taskwire_V1_Frame()
      answer.callID = id
      answer.healthResponse = Taskwire_V1_HealthResponse()
      self.write(answer, context: context)
    }
    let count = self.unanswered.count
    self.record.update { $0.answered += count }
    self.unanswered.removeAll()
    context.flush()
  }

  private func write(_ frame: Taskwire_V1_Frame, context: ChannelHandlerContext) {
    guard let buffer = try? frame.framedBuffer() else { return }
    context.write(Self.wrapOutboundOut(buffer), promise: nil)
  }
}
