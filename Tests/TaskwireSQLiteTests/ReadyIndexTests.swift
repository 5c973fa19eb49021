import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// The writer's in-memory index of PENDING tasks (`ReadyIndex`), which the lease reads instead
/// of the table's ready indexes: its order across types and queues, its rebuild at open, and
/// the tasks that leave PENDING other than by lease.
@Suite("Ready index")
struct ReadyIndexTests {
  private func leaseIDs(
    _ store: SQLiteTaskStore,
    queues: [String] = ["default"],
    types: [String] = [],
    max: Int = 100,
    nowMs: Int64 = t0 + 10
  ) async throws -> [String] {
    try await store.lease(queues: queues, types: types, max: max, workerID: "w", nowMs: nowMs)
      .map(\.taskID)
  }

  @Test("An untyped lease over several queues and types takes tasks in one lease order")
  func mergedOrder() async throws {
    try await withStore { store in
      // (queue, type, priority, submitted at): the expected order is by priority, then run-at
      // (the submit time of a task not delayed), then submission.
      let specs: [(String, String, Int32, Int64)] = [
        ("a", "x", 0, t0 + 5), ("a", "y", 5, t0 + 9), ("b", "x", 5, t0 + 8),
        ("b", "z", 0, t0 + 4), ("a", "x", 9, t0 + 9), ("a", "y", 0, t0 + 3),
      ]
      var ids: [String] = []
      for (queue, type, priority, at) in specs {
        ids.append(
          try await store.submitOne(task(type, queue: queue, priority: priority), nowMs: at).id
        )
      }
      let expected = [ids[4], ids[2], ids[1], ids[5], ids[3], ids[0]]
      #expect(try await leaseIDs(store, queues: ["a", "b"], max: 3) == Array(expected.prefix(3)))
      #expect(
        try await leaseIDs(store, queues: ["a", "b"], max: 10) == Array(expected.dropFirst(3))
      )
      #expect(try await leaseIDs(store, queues: ["a", "b"]).isEmpty)
    }
  }

  @Test("A typed lease takes only its types, in order, and leaves the others")
  func typedLease() async throws {
    try await withStore { store in
      let x1 = try await store.submitOne(task("x", priority: 1)).id
      let y1 = try await store.submitOne(task("y", priority: 3)).id
      let x2 = try await store.submitOne(task("x", priority: 2)).id
      let z1 = try await store.submitOne(task("z", priority: 9)).id
      #expect(try await leaseIDs(store, types: ["x", "y"]) == [y1, x2, x1])
      #expect(try await leaseIDs(store, types: ["x"]).isEmpty)
      #expect(try await leaseIDs(store) == [z1])
    }
  }

  @Test("PENDING tasks are leased in order after the store is reopened")
  func rebuiltAtOpen() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var ids: [String] = []
    do {
      let store = try await SQLiteTaskStore(configuration: .init(path: path))
      for priority: Int32 in [1, 7, 3, 7] {
        ids.append(try await store.submitOne(task("t", priority: priority)).id)
      }
      // One leased before the restart: it is RUNNING, not in the rebuilt index.
      #expect(try await leaseIDs(store, max: 1) == [ids[1]])
      try await store.close()
    }
    let store = try await SQLiteTaskStore(configuration: .init(path: path))
    #expect(try await leaseIDs(store) == [ids[3], ids[2], ids[0]])
    try await store.close()
  }

  @Test("A cancelled PENDING task is never leased; retried, it is leased once, in its place")
  func cancelThenRetry() async throws {
    try await withStore { store in
      let first = try await store.submitOne(task("t"), nowMs: t0 - 30).id
      let second = try await store.submitOne(task("t"), nowMs: t0 - 20).id
      let third = try await store.submitOne(task("t"), nowMs: t0 - 10).id
      _ = try await store.cancel(taskID: first, reason: "no", nowMs: t0)
      _ = try await store.cancel(taskID: second, reason: "no", nowMs: t0)
      _ = try await store.retry(taskID: second, resetAttempts: false, nowMs: t0 + 1)
      #expect(try await leaseIDs(store) == [second, third])
      #expect(try await leaseIDs(store).isEmpty)
      let stats = try await store.stats(
        queues: ["default"],
        nowMs: t0 + 20,
        stuckAfterMs: [:],
        defaultStuckAfterMs: 0
      )
      #expect(stats.first?.counts[.pending] == 0)
      #expect(stats.first?.stuck == 0)
    }
  }

  @Test("Thousands of PENDING tasks cancelled leave the lease order and the stats exact")
  func manyCancelled() async throws {
    try await withStore(durability: .relaxed) { store in
      // Submitted one millisecond apart: run-at times from t0 - 10,000 on.
      var created: [String] = []
      for i in 0..<5_000 {
        created.append(try await store.submitOne(task("t"), nowMs: t0 - 10_000 + Int64(i)).id)
      }
      // Cancel five in six (4,166): more dead entries than the index keeps, so the writer
      // compacts it between groups.
      var kept: [String] = []
      for (i, id) in created.enumerated() {
        if i % 6 == 0 {
          kept.append(id)
        } else {
          _ = try await store.cancel(taskID: id, reason: "bulk", nowMs: t0)
        }
      }
      #expect(kept.count == 834)
      let stats = try await store.stats(
        queues: ["default"],
        nowMs: t0,
        stuckAfterMs: [:],
        defaultStuckAfterMs: 5_000
      )
      #expect(stats.first?.counts[.pending] == 834)
      let stuck = try await store.get(taskIDs: kept).filter { $0.runAtMs <= t0 - 5_000 }.count
      #expect(stats.first?.stuck == UInt64(stuck))
      let oldest = try #require(try await store.get(taskID: kept[0]))
      #expect(stats.first?.oldestPendingMs == oldest.runAtMs)
      var leased: [String] = []
      while true {
        let ids = try await leaseIDs(store, max: 64)
        if ids.isEmpty { break }
        leased += ids
      }
      #expect(leased == kept)
    }
  }
}
