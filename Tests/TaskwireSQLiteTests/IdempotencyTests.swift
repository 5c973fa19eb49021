import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Idempotent and atomic submits")
struct IdempotencyTests {
  @Test("The same key and request returns the existing task; a different request conflicts")
  func sameAndDifferent() async throws {
    try await withStore { store in
      let first = try await store.submitOne(task(key: "k1"))
      let again = try await store.submit([task(key: "k1")], nowMs: t0 + 10)
      #expect(again[0].isExisting)
      #expect(again[0].record?.id == first.id)
      let different = try await store.submit([task(key: "k1", payload: "other")], nowMs: t0 + 10)
      #expect(different[0].error == .conflict(key: "k1"))
      // Keys are scoped to a queue.
      let otherQueue = try await store.submit([task(queue: "q2", key: "k1")], nowMs: t0 + 10)
      #expect(otherQueue[0].isCreated)
      #expect(try await store.count(filter: TaskFilter()) == 2)
    }
  }

  @Test("A key outlives its task's deletion and clean-on-success until it expires")
  func keptAfterDelete() async throws {
    let policy = StorePolicy(idempotencyRetentionMs: 60_000)
    try await withStore(policy: policy) { store in
      let t = try await store.submitOne(task(key: "k"))
      let cleaned = try await store.submitOne(task(key: "c", clean: true))
      let grants = try await store.lease(queues: [], types: [], max: 2, workerID: "w", nowMs: t0)
      let results = try await store.complete(
        grants.map { Completion(taskID: $0.taskID, token: $0.leaseToken) },
        nowMs: t0 + 100
      )
      #expect(results.allSatisfy { (try? $0.get()) != nil })
      #expect(try await store.get(taskID: cleaned.id) == nil)
      try await store.delete(taskID: t.id, nowMs: t0 + 200)
      #expect(try await store.get(taskID: t.id) == nil)

      let repeat1 = try await store.submit([task(key: "k")], nowMs: t0 + 1_000)
      #expect(repeat1[0].isExisting)
      #expect(repeat1[0].record?.id == t.id)
      #expect(repeat1[0].record?.state == .succeeded)
      let repeat2 = try await store.submit([task(key: "c", clean: true)], nowMs: t0 + 1_000)
      #expect(repeat2[0].record?.id == cleaned.id)
      #expect(
        try await store.submit([task(key: "k", payload: "x")], nowMs: t0 + 1_000)[0].error
          == .conflict(key: "k")
      )

      // After the retention the key is free again (even before a purge).
      let fresh = try await store.submit([task(key: "k")], nowMs: t0 + 100 + 60_001)
      #expect(fresh[0].isCreated)
      #expect(fresh[0].record?.id != t.id)
    }
  }

  @Test("A key stays while its task is unfinished, however long")
  func keptWhileRunning() async throws {
    try await withStore(policy: StorePolicy(idempotencyRetentionMs: 10)) { store in
      let t = try await store.submitOne(task(key: "k"))
      let later = try await store.submit([task(key: "k")], nowMs: t0 + 10_000_000)
      #expect(later[0].record?.id == t.id)
    }
  }

  @Test("A batch is atomic: one refused item stores nothing")
  func atomicBatch() async throws {
    try await withStore { store in
      _ = try await store.submitOne(task(key: "taken"))
      let before = try await store.latestSequence()
      let outcomes = try await store.submit(
        [task("a"), task("b", key: "taken", payload: "different"), task("c"), task("", key: "z")],
        nowMs: t0 + 1
      )
      #expect(outcomes[0].error == .failedPrecondition("not applied: item 1 was rejected"))
      #expect(outcomes[1].error == .conflict(key: "taken"))
      #expect(outcomes[2].error == .failedPrecondition("not applied: item 1 was rejected"))
      guard case .invalid = outcomes[3].error else {
        Issue.record("expected invalid, got \(outcomes[3])")
        return
      }
      #expect(try await store.count(filter: TaskFilter()) == 1)
      #expect(try await store.latestSequence() == before)
      let stats = try await store.stats(
        queues: ["default"],
        nowMs: t0,
        stuckAfterMs: [:],
        defaultStuckAfterMs: 1
      )
      #expect(stats[0].counts[.pending] == 1)
    }
  }

  @Test("The same key twice in one batch gives one task")
  func duplicateInBatch() async throws {
    try await withStore { store in
      let outcomes = try await store.submit([task(key: "d"), task(key: "d")], nowMs: t0)
      #expect(outcomes[0].isCreated)
      #expect(outcomes[1].isExisting)
      #expect(outcomes[0].record?.id == outcomes[1].record?.id)
      let conflict = try await store.submit(
        [task(key: "e"), task(key: "e", payload: "x")],
        nowMs: t0
      )
      #expect(conflict[1].error == .conflict(key: "e"))
      #expect(try await store.count(filter: TaskFilter()) == 1)
    }
  }

  @Test("The fingerprint covers every field but the key")
  func fingerprint() {
    let base = task(key: "a")
    #expect(base.fingerprint == task(key: "b").fingerprint)
    #expect(base.fingerprint.count == 32)
    var changed = base
    changed.metadata = ["x": "1"]
    #expect(changed.fingerprint != base.fingerprint)
    changed = base
    changed.priority = 1
    #expect(changed.fingerprint != base.fingerprint)
    changed = base
    changed.payload = Data("q".utf8)
    #expect(changed.fingerprint != base.fingerprint)
    changed = base
    changed.retryPolicy.jitter = 0.5
    #expect(changed.fingerprint != base.fingerprint)
  }
}
