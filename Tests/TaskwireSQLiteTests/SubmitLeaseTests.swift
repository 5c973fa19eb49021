import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Submit and lease")
struct SubmitLeaseTests {
  @Test("A submitted task is leased, completed and read back with its history")
  func roundTrip() async throws {
    try await withStore { store in
      let created = try await store.submitOne(task("email", metadata: ["created_by": "alice"]))
      #expect(created.state == .pending)
      #expect(created.id.count == 26)
      #expect(created.createdBy == "alice")

      let grants = try await store.lease(
        queues: ["default"],
        types: [],
        max: 10,
        workerID: "w1",
        nowMs: t0 + 10
      )
      #expect(grants.count == 1)
      let grant = try #require(grants.first)
      #expect(grant.taskID == created.id)
      #expect(grant.attempt == 1)
      #expect(grant.leaseToken.count == 32)
      #expect(grant.leaseDeadlineMs == t0 + 10 + 30_000)
      #expect(grant.payload == Data("p".utf8))

      let results = try await store.complete(
        [Completion(taskID: created.id, token: grant.leaseToken, result: Data("ok".utf8))],
        nowMs: t0 + 20
      )
      let outcome = try results[0].get()
      #expect(!outcome.repeated)

      let got = try #require(try await store.get(taskID: created.id))
      #expect(got.state == .succeeded)
      #expect(got.result == Data("ok".utf8))
      #expect(got.attempt == 1)
      #expect(got.startedMs == t0 + 10)
      #expect(got.finishedMs == t0 + 20)
      #expect(got.leaseToken == "")
      #expect(got.attempts.count == 1)
      #expect(got.attempts[0].outcome == .succeeded)
      #expect(got.attempts[0].workerID == "w1")
      #expect(got.attempts[0].durationMs == 10)
      #expect(got.attempts[0].resultSize == 2)
      #expect(try await store.get(taskID: "nope") == nil)
    }
  }
}

@Suite("Ordering, delays, limits and pause")
struct OrderingTests {
  @Test("Lease order: priority (higher first), then run-at, then submission")
  func priorityOrder() async throws {
    try await withStore { store in
      // Submitted first but runs later: its run-at is after the others'.
      let delayed = try await store.submitOne(
        task("delayed", priority: 5, runAtMs: t0 + 50),
        nowMs: t0
      )
      let low = try await store.submitOne(task("low", priority: 0), nowMs: t0 + 1)
      let high1 = try await store.submitOne(task("high1", priority: 10), nowMs: t0 + 2)
      let mid = try await store.submitOne(task("mid", priority: 5), nowMs: t0 + 3)
      let high2 = try await store.submitOne(task("high2", priority: 10), nowMs: t0 + 4)
      // Same priority and run-at as low (a past run-at counts as the submit time): submission order.
      let low2 = try await store.submitOne(
        task("low2", priority: 0, runAtMs: t0 - 100),
        nowMs: t0 + 1
      )
      #expect(low2.runAtMs == t0 + 1)
      #expect(try await store.promoteDue(nowMs: t0 + 60) == ["default": 1])
      var order: [String] = []
      for _ in 0..<6 {
        let grants = try await store.lease(
          queues: ["default"],
          types: [],
          max: 1,
          workerID: "w",
          nowMs: t0 + 100
        )
        order += grants.map(\.taskID)
      }
      #expect(order == [high1.id, high2.id, mid.id, delayed.id, low.id, low2.id])
    }
  }

  @Test("Leasing across several queues and types merges by the same order")
  func multiQueue() async throws {
    try await withStore { store in
      let a = try await store.submitOne(task("x", queue: "a", priority: 1))
      let b = try await store.submitOne(task("y", queue: "b", priority: 3))
      let c = try await store.submitOne(task("z", queue: "b", priority: 2))
      _ = try await store.submitOne(task("x", queue: "c", priority: 9))
      let grants = try await store.lease(
        queues: ["a", "b"],
        types: [],
        max: 10,
        workerID: "w",
        nowMs: t0 + 1
      )
      #expect(grants.map(\.taskID) == [b.id, c.id, a.id])
      let typed = try await store.submitOne(task("wanted", queue: "a"))
      _ = try await store.submitOne(task("other", queue: "a", priority: 100))
      let onlyWanted = try await store.lease(
        queues: ["a"],
        types: ["wanted"],
        max: 10,
        workerID: "w",
        nowMs: t0 + 2
      )
      #expect(onlyWanted.map(\.taskID) == [typed.id])
      // No queue named: every queue.
      let all = try await store.lease(queues: [], types: [], max: 10, workerID: "w", nowMs: t0 + 3)
      #expect(all.count == 2)
    }
  }

  @Test("Delayed tasks are SCHEDULED until promoted at their time")
  func delays() async throws {
    try await withStore { store in
      let delayed = try await store.submitOne(task(runAtMs: t0 + 5_000))
      #expect(delayed.state == .scheduled)
      #expect(delayed.nextRunMs == t0 + 5_000)
      #expect(try await store.nextDueMs() == t0 + 5_000)
      #expect(
        try await store.lease(queues: [], types: [], max: 5, workerID: "w", nowMs: t0 + 4_999)
          .isEmpty
      )
      #expect(try await store.promoteDue(nowMs: t0 + 4_999).isEmpty)
      #expect(try await store.promoteDue(nowMs: t0 + 5_000) == ["default": 1])
      #expect(try await store.get(taskID: delayed.id)?.state == .pending)
      #expect(try await store.nextDueMs() == nil)
      let grants = try await store.lease(
        queues: [],
        types: [],
        max: 5,
        workerID: "w",
        nowMs: t0 + 5_001
      )
      #expect(grants.map(\.taskID) == [delayed.id])
      // A running task's lease deadline is the next due time.
      #expect(try await store.nextDueMs() == t0 + 5_001 + 30_000)
    }
  }

  @Test("The per-queue pending limit refuses submits while full; leasing frees room")
  func pendingLimit() async throws {
    try await withStore(policy: StorePolicy(pendingLimit: 100, pendingLimits: ["small": 2])) {
      store in
      _ = try await store.submitOne(task(queue: "small"))
      _ = try await store.submitOne(task(queue: "small", runAtMs: t0 + 1_000))
      let full = try await store.submit([task(queue: "small")], nowMs: t0)
      #expect(full[0].error == .queueFull(queue: "small", limit: 2, pending: 2))
      // Other queues are not affected.
      _ = try await store.submitOne(task(queue: "other"))
      // A batch that would pass the limit is refused as a whole.
      _ = try await store.lease(queues: ["small"], types: [], max: 1, workerID: "w", nowMs: t0)
      let batch = try await store.submit([task(queue: "small"), task(queue: "small")], nowMs: t0)
      #expect(batch[0].error == .failedPrecondition("not applied: item 1 was rejected"))
      #expect(batch[1].error == .queueFull(queue: "small", limit: 2, pending: 2))
      #expect(try await store.submit([task(queue: "small")], nowMs: t0)[0].isCreated)
    }
  }

  @Test("A paused queue grants nothing until resumed")
  func pause() async throws {
    try await withStore { store in
      let t = try await store.submitOne(task(queue: "q"))
      try await store.setPaused(queue: "q", paused: true, nowMs: t0)
      #expect(try await store.pausedQueues() == ["q"])
      #expect(
        try await store.lease(queues: ["q"], types: [], max: 5, workerID: "w", nowMs: t0).isEmpty
      )
      #expect(
        try await store.lease(queues: [], types: [], max: 5, workerID: "w", nowMs: t0).isEmpty
      )
      // Submitting to a paused queue still works.
      #expect(try await store.submit([task(queue: "q")], nowMs: t0)[0].isCreated)
      try await store.setPaused(queue: "q", paused: false, nowMs: t0)
      #expect(try await store.pausedQueues().isEmpty)
      let grants = try await store.lease(queues: ["q"], types: [], max: 1, workerID: "w", nowMs: t0)
      #expect(grants.map(\.taskID) == [t.id])
    }
  }
}
