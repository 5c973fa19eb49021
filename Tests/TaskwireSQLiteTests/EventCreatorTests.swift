import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Events carry their task's creator")
struct EventCreatorTests {
  @Test("Every kind of event carries created_by, as committed and as read back for a replay")
  func everyEventKind() async throws {
    let log = CommitLog()
    try await withStore(onCommit: log.listener) { store in
      let alice = try await store.submitOne(task("a", metadata: ["created_by": "alice"]))
      let nobody = try await store.submitOne(task("n"))
      let bob = try await store.submitOne(
        task("b", clean: true, metadata: ["created_by": "bob"])
      )
      let carol = try await store.submitOne(
        task("c", runAtMs: t0 + 500, metadata: ["created_by": "carol"])
      )
      #expect(carol.state == .scheduled)

      // alice's task: leased, progress, failed (retry scheduled), promoted by the sweep, leased
      // again, cancel requested, cancel acknowledged, retried by hand, cancelled, deleted.
      var grant = try #require(
        try await store.lease(queues: [], types: ["a"], max: 1, workerID: "w", nowMs: t0 + 1).first
      )
      _ = try await store.heartbeat(
        taskID: alice.id,
        token: grant.leaseToken,
        progress: ProgressUpdate(percent: 50, message: "half"),
        nowMs: t0 + 2
      )
      let failed = try await store.fail(
        taskID: alice.id,
        token: grant.leaseToken,
        error: "boom",
        permanent: false,
        retryAfterMs: nil,
        nowMs: t0 + 3
      )
      #expect(failed.state == .retrying)
      #expect(try await store.promoteDue(nowMs: t0 + 2_000) == ["default": 2])
      grant = try #require(
        try await store.lease(queues: [], types: ["a"], max: 1, workerID: "w", nowMs: t0 + 2_001)
          .first
      )
      _ = try await store.cancel(taskID: alice.id, reason: "stop", nowMs: t0 + 2_002)
      try await store.cancelAck(
        taskID: alice.id,
        token: grant.leaseToken,
        message: "stopped",
        nowMs: t0 + 2_003
      )
      _ = try await store.retry(taskID: alice.id, resetAttempts: false, nowMs: t0 + 2_004)
      _ = try await store.cancel(taskID: alice.id, reason: "again", nowMs: t0 + 2_005)
      try await store.delete(taskID: alice.id, nowMs: t0 + 2_006)

      // carol's task: promoted above, leased, its lease expires (retry scheduled).
      _ = try #require(
        try await store.lease(queues: [], types: ["c"], max: 1, workerID: "w", nowMs: t0 + 2_010)
          .first
      )
      #expect(try await store.expireLeases(nowMs: t0 + 2_010 + 30_000).count == 1)

      // bob's task: leased, completed, cleaned on success (deleted).
      let bobGrant = try #require(
        try await store.lease(queues: [], types: ["b"], max: 1, workerID: "w", nowMs: t0 + 2_020)
          .first
      )
      let done = try await store.complete(
        [Completion(taskID: bob.id, token: bobGrant.leaseToken)],
        nowMs: t0 + 2_021
      )
      #expect((try? done[0].get()) != nil)

      let events = try await store.events(after: 0, limit: 1_000)
      #expect(log.events == events, "committed and read back alike")
      let byTask = Dictionary(grouping: events, by: \.taskID)
      #expect(
        byTask[alice.id]?.map(\.kind) == [
          .created, .stateChanged, .progress, .retryScheduled, .stateChanged, .stateChanged,
          .cancelRequested, .finished, .stateChanged, .finished, .deleted,
        ]
      )
      #expect(byTask[alice.id]?.allSatisfy { $0.createdBy == "alice" } == true)
      #expect(
        byTask[carol.id]?.map(\.kind) == [.created, .stateChanged, .stateChanged, .retryScheduled]
      )
      #expect(byTask[carol.id]?.allSatisfy { $0.createdBy == "carol" } == true)
      #expect(byTask[bob.id]?.map(\.kind) == [.created, .stateChanged, .finished, .deleted])
      #expect(byTask[bob.id]?.allSatisfy { $0.createdBy == "bob" } == true)
      #expect(byTask[nobody.id]?.map(\.createdBy) == [""])
      #expect(events.count == 20, "alice 11, carol 4, bob 4, nobody 1")
    }
  }
}
