import SwiftProtobuf
import TaskwireCoordinator
import TaskwireCore
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import TaskwireProto
import Testing

@Suite("Watch streams over TLS")
struct WatchTests {
  /// Reads watch events of call `id` until `count` arrived (or the stream ends / times out).
  private func events(_ client: RawClient, id: UInt64, count: Int, timeout: Duration = .seconds(10))
    async -> (events: [Taskwire_V1_WatchEvent], end: Taskwire_V1_Status?)
  {
    var events: [Taskwire_V1_WatchEvent] = []
    while events.count < count, let frame = await client.next(timeout: timeout) {
      guard frame.callID == id else { continue }
      switch frame.body {
      case .watchEvent(let event): events.append(event)
      case .streamEnd(let end): return (events, end.status)
      default: break
      }
    }
    return (events, nil)
  }

  @Test("Events of a task arrive in order: created, running, progress, finished")
  func orderPerTask() async throws {
    try await withTestNode { node in
      let watcher = try await node.client()
      try await watcher.send(.request(1, .watchRequest(.with { $0.filter.queues = ["order-w"] })))
      while node.coordinator.watchHub.watcherCount == 0 { await Task.yield() }
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      let created = try await client.submit { $0.queue = "order-w" }
      let task = try #require(try await worker.lease("order-w").first)
      _ = try await worker.heartbeat(task, percent: 50)
      _ = try await worker.complete(task)
      let (events, end) = await self.events(watcher, id: 1, count: 4)
      #expect(end == nil)
      #expect(events.map(\.kind) == [.created, .stateChanged, .progress, .finished])
      #expect(events.map(\.state) == [.pending, .running, .running, .succeeded])
      #expect(events.allSatisfy { $0.taskID == created.task.id })
      #expect(events.map(\.sequence) == events.map(\.sequence).sorted())
      #expect(Set(events.map(\.sequence)).count == 4)
      #expect(events[2].progress == 50)
    }
  }

  @Test("Kill the connection mid-stream and resume: every event exactly once")
  func resumeExactlyOnce() async throws {
    try await withTestNode { node in
      let client = try await node.session(.client)
      let first = try await node.client()
      try await first.send(.request(1, .watchRequest(.with { $0.filter.queues = ["resume"] })))
      while node.coordinator.watchHub.watcherCount == 0 { await Task.yield() }
      for _ in 0..<30 { _ = try await client.submit { $0.queue = "resume" } }
      let (seen, _) = await self.events(first, id: 1, count: 12)
      #expect(seen.count == 12)
      await first.close()  // the connection dies mid-stream
      for _ in 0..<30 { _ = try await client.submit { $0.queue = "resume" } }
      let second = try await node.client()
      try await second.send(
        .request(
          1,
          .watchRequest(
            .with {
              $0.filter.queues = ["resume"]
              $0.afterSequence = seen.last!.sequence
            }
          )
        )
      )
      let (rest, _) = await self.events(second, id: 1, count: 48)
      let all = (seen + rest).map(\.sequence)
      #expect(all.count == 60, "every one of the 60 created events")
      #expect(Set(all).count == 60, "no duplicates")
      #expect(all == all.sorted(), "in sequence order")
    }
  }

  @Test("Snapshot then live for task ids: nothing between snapshot and subscription is lost")
  func snapshotThenLive() async throws {
    let clock = ManualWallClock(nowMs: 1_800_000_000_000)
    try await withTestNode(configure: { $0.clock = clock }) { node in
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      let created = try await client.submit { $0.queue = "snap" }
      let task = try #require(try await worker.lease("snap").first)
      // Progress keeps changing while the watch starts.
      let watcher = try await node.client()
      async let progress: Void = {
        for percent in 1...20 {
          _ = try? await worker.heartbeat(task, percent: Int32(percent * 5))
          _ = clock.advance(by: 110)  // past the 100 ms progress coalescing window
        }
      }()
      try await watcher.send(.request(1, .watchRequest(.with { $0.taskIds = [created.task.id] })))
      await progress
      _ = try await worker.complete(task)
      var received: [Taskwire_V1_WatchEvent] = []
      while let frame = await watcher.next(timeout: .seconds(5)) {
        if case .watchEvent(let event)? = frame.body {
          received.append(event)
          if event.kind == .finished { break }
        }
      }
      let snapshot = try #require(received.first)
      #expect(snapshot.kind == .snapshot)
      let live = received.dropFirst().map(\.sequence)
      let stored = try await node.coordinator.store.events(after: snapshot.sequence, limit: 1_000)
        .filter { $0.taskID == created.task.id }.map(\.sequence)
      #expect(Array(live) == stored, "every event after the snapshot's sequence, once, in order")
      #expect(received.last?.kind == .finished)
    }
  }

  @Test("A resume point older than the events kept gets FAILED_PRECONDITION with snapshot_required")
  func tooOld() async throws {
    try await withTestNode(configure: { $0.storePolicy.maxEvents = 5 }) { node in
      let client = try await node.session(.client)
      for _ in 0..<20 { _ = try await client.submit { $0.queue = "old" } }
      await node.coordinator.purge(nowMs: node.coordinator.nowMs)
      let oldest = try await node.coordinator.store.oldestRetainedSequence()
      #expect(oldest > 2, "the purge kept only the newest events")
      let watcher = try await node.client()
      try await watcher.send(.request(1, .watchRequest(.with { $0.afterSequence = 1 })))
      let frame = await watcher.next()
      #expect(frame?.callID == 1)
      #expect(frame?.status?.code == .failedPrecondition)
      #expect(frame?.status?.snapshotRequired == true)
      // A resume point still kept replays from there.
      try await watcher.send(.request(2, .watchRequest(.with { $0.afterSequence = oldest })))
      let replayed = await watcher.next()
      guard case .watchEvent(let event)? = replayed?.body else {
        throw TestFailure("expected a replayed event, got \(String(describing: replayed))")
      }
      #expect(event.sequence == oldest + 1)
    }
  }

  @Test("1,000 concurrent watchers all see every event")
  func thousandWatchers() async throws {
    try await withTestNode { node in
      var clients: [RawClient] = []
      for _ in 0..<10 {
        let client = try await node.client()
        let requests = (UInt64(1)...100).map { id in
          Taskwire_V1_Frame.request(id, .watchRequest(.with { $0.filter.queues = ["fanout"] }))
        }
        try await client.send(requests)
        clients.append(client)
      }
      while node.coordinator.watchHub.watcherCount < 1_000 { await Task.yield() }
      let submitter = try await node.session(.client)
      for _ in 0..<5 { _ = try await submitter.submit { $0.queue = "fanout" } }
      var total = 0
      for client in clients {
        var perCall: [UInt64: Int] = [:]
        while perCall.values.reduce(0, +) < 500,
          let frame = await client.next(timeout: .seconds(10))
        {
          if case .watchEvent? = frame.body { perCall[frame.callID, default: 0] += 1 }
        }
        #expect(perCall.count == 100)
        #expect(perCall.values.allSatisfy { $0 == 5 })
        total += perCall.values.reduce(0, +)
      }
      #expect(total == 5_000)
    }
  }
}
