import Foundation
import SwiftProtobuf
import TaskwireCoordinator
import TaskwireProto
import TaskwireStore
import Testing

@Suite("Watch filtered by created_by over TLS")
struct WatchCreatedByTests {
  /// Reads the watch events of call `id` until one of task `marker` arrived (it is included).
  private func events(
    _ client: RawClient,
    id: UInt64,
    until marker: String,
    timeout: Duration = .seconds(10)
  ) async throws -> [Taskwire_V1_WatchEvent] {
    var events: [Taskwire_V1_WatchEvent] = []
    while let frame = await client.next(timeout: timeout) {
      guard frame.callID == id else { continue }
      switch frame.body {
      case .watchEvent(let event):
        events.append(event)
        if event.taskID == marker { return events }
      case .streamEnd(let end):
        throw TestFailure("the watch ended early: \(end.status)")
      default: break
      }
    }
    throw TestFailure("the marker never came; \(events.count) events before the timeout")
  }

  /// Reads exactly `count` watch events of call `id`.
  private func events(_ client: RawClient, id: UInt64, count: Int) async throws
    -> [Taskwire_V1_WatchEvent]
  {
    var events: [Taskwire_V1_WatchEvent] = []
    while events.count < count, let frame = await client.next() {
      guard frame.callID == id else { continue }
      if case .watchEvent(let event) = frame.body { events.append(event) }
      if case .streamEnd(let end) = frame.body {
        throw TestFailure("the watch ended early: \(end.status)")
      }
    }
    guard events.count == count else { throw TestFailure("only \(events.count) of \(count)") }
    return events
  }

  /// A session whose token has `name` (what the server records as `created_by`).
  private func session(_ node: TestNode, _ role: Principal.Role, name: String) async throws
    -> Session
  {
    Session(try await node.client(token: try await node.token(role, name: name)))
  }

  /// The sequences of the stored events of `tasks` after `sequence`, in order.
  private func stored(_ node: TestNode, of tasks: Set<String>, after sequence: UInt64)
    async throws -> [UInt64]
  {
    try await node.coordinator.store.events(after: sequence, limit: 10_000)
      .filter { tasks.contains($0.taskID) }.map(\.sequence)
  }

  private func watch(createdBy: String, after sequence: UInt64 = 0) -> Taskwire_V1_Frame.OneOf_Body
  {
    .watchRequest(
      .with {
        $0.filter.createdBy = createdBy
        $0.afterSequence = sequence
      }
    )
  }

  @Test("A live watch filtered by created_by sees every event of that creator's tasks, no other")
  func live() async throws {
    try await withTestNode { node in
      let aliceName = "alice-\(UUID().uuidString)"
      let bobName = "bob-\(UUID().uuidString)"
      let alice = try await self.session(node, .client, name: aliceName)
      let bob = try await self.session(node, .client, name: bobName)
      let admin = try await node.session(.admin)
      let worker = try await node.session(.worker)

      let aliceWatcher = try await node.client()
      let bobWatcher = try await node.client()
      try await aliceWatcher.send(.request(1, self.watch(createdBy: aliceName)))
      try await bobWatcher.send(.request(1, self.watch(createdBy: bobName)))
      while node.coordinator.watchHub.watcherCount < 2 { await Task.yield() }

      var aliceTasks: Set<String> = []
      var bobTasks: Set<String> = []
      for index in 0..<4 {
        bobTasks.insert(try await bob.submit { $0.queue = "by-creator" }.task.id)
        if index < 3 {
          aliceTasks.insert(try await alice.submit { $0.queue = "by-creator" }.task.id)
        }
      }
      // created_by is the task's metadata: one set explicitly counts as alice's too.
      aliceTasks.insert(
        try await admin.submit {
          $0.queue = "by-creator"
          $0.metadata["created_by"] = aliceName
        }.task.id
      )
      // The worker's lease and completion events belong to the task's creator, not the worker.
      let leased = try await worker.lease("by-creator", max: 8)
      #expect(Set(leased.map(\.id)) == aliceTasks.union(bobTasks))
      for task in leased { _ = try await worker.complete(task) }
      let aliceMarker = try await alice.submit { $0.queue = "marker" }.task.id
      let bobMarker = try await bob.submit { $0.queue = "marker" }.task.id

      let aliceEvents = try await self.events(aliceWatcher, id: 1, until: aliceMarker)
      let bobEvents = try await self.events(bobWatcher, id: 1, until: bobMarker)
      // Four tasks × (created, running, finished), then the marker's creation.
      #expect(aliceEvents.count == 4 * 3 + 1)
      #expect(bobEvents.count == 4 * 3 + 1)
      #expect(Set(aliceEvents.map(\.taskID)) == aliceTasks.union([aliceMarker]))
      #expect(Set(bobEvents.map(\.taskID)) == bobTasks.union([bobMarker]))
      for events in [aliceEvents.dropLast(), bobEvents.dropLast()] {
        #expect(events.filter { $0.kind == .created }.count == 4)
        #expect(events.filter { $0.kind == .stateChanged && $0.state == .running }.count == 4)
        #expect(events.filter { $0.kind == .finished && $0.state == .succeeded }.count == 4)
      }
      // Exactly the stored events of those tasks, in sequence order.
      let aliceStored = try await self.stored(node, of: aliceTasks.union([aliceMarker]), after: 0)
      let bobStored = try await self.stored(node, of: bobTasks.union([bobMarker]), after: 0)
      #expect(aliceEvents.map(\.sequence) == aliceStored)
      #expect(bobEvents.map(\.sequence) == bobStored)
    }
  }

  @Test("Resuming a created_by watch from a sequence replays only that creator's events, once")
  func resume() async throws {
    try await withTestNode { node in
      let aliceName = "alice-\(UUID().uuidString)"
      let alice = try await self.session(node, .client, name: aliceName)
      let bob = try await self.session(node, .client, name: "bob-\(UUID().uuidString)")
      let worker = try await node.session(.worker)
      // Start after a known point, so the replay-then-live start cannot race the submits.
      _ = try await bob.submit { $0.queue = "before" }
      let start = try await node.coordinator.store.latestSequence()
      #expect(start > 0)

      var aliceTasks: Set<String> = []
      func submitBoth(_ count: Int) async throws {
        for _ in 0..<count {
          aliceTasks.insert(try await alice.submit { $0.queue = "resume-by" }.task.id)
          _ = try await bob.submit { $0.queue = "resume-by" }
        }
      }
      // Before the first watch: 5 each, and 4 of the 10 leased and completed.
      try await submitBoth(5)
      for task in try await worker.lease("resume-by", max: 4) {
        _ = try await worker.complete(task)
      }

      let first = try await node.client()
      try await first.send(.request(1, self.watch(createdBy: aliceName, after: start)))
      let seen = try await self.events(first, id: 1, count: 4)
      await first.close()  // the connection dies mid-stream

      // While nobody watches: 5 more each.
      try await submitBoth(5)

      let second = try await node.client()
      try await second.send(
        .request(1, self.watch(createdBy: aliceName, after: seen.last!.sequence))
      )
      // While the second watch replays or runs live: 3 more each, some leased, then a marker.
      try await submitBoth(3)
      for task in try await worker.lease("resume-by", max: 6) {
        _ = try await worker.complete(task)
      }
      let marker = try await alice.submit { $0.queue = "marker" }.task.id
      aliceTasks.insert(marker)
      let rest = try await self.events(second, id: 1, until: marker)

      let all = (seen + rest).map(\.sequence)
      let expected = try await self.stored(node, of: aliceTasks, after: start)
      #expect(all == expected, "every event of alice's tasks after the start, once, in order")
      #expect(Set((seen + rest).map(\.taskID)).isSubset(of: aliceTasks))
      #expect(aliceTasks.count == 14)
      #expect((seen + rest).filter { $0.kind == .created }.count == 14)
    }
  }

  @Test("idempotency_key is still refused; created_by is accepted")
  func refusals() async throws {
    try await withTestNode { node in
      let watcher = try await node.client()
      try await watcher.send(
        .request(1, .watchRequest(.with { $0.filter.idempotencyKey = "order-1" }))
      )
      let refused = await watcher.next()
      #expect(refused?.callID == 1)
      #expect(refused?.status?.code == .invalidArgument)
      #expect(refused?.status?.message.contains("idempotency_key") == true)

      try await watcher.send(.request(2, self.watch(createdBy: "nobody-yet")))
      while node.coordinator.watchHub.watcherCount < 1 { await Task.yield() }
      let nobody = try await self.session(node, .client, name: "nobody-yet")
      let created = try await nobody.submit { $0.queue = "accepted" }
      let events = try await self.events(watcher, id: 2, count: 1)
      #expect(events.map(\.taskID) == [created.task.id])
      #expect(events.map(\.kind) == [.created])
    }
  }
}
