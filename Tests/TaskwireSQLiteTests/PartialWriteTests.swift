import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// A write operation is all or nothing: one that fails after it wrote part of its rows (here an
/// SQLite error injected by a trigger) leaves none of them, and the writer's in-memory counters
/// are undone with it.
@Suite("Atomic write operations")
struct PartialWriteTests {
  @Test("A completion call that fails after it wrote leaves nothing behind; the store goes on")
  func failedAfterWriting() async throws {
    try await withStore { store in
      let a = try await store.submitOne(task("a"))
      let x = try await store.submitOne(task("x"))
      let grants = try await store.lease(
        queues: [],
        types: [],
        max: 2,
        workerID: "w",
        nowMs: t0 + 1
      )
      #expect(grants.count == 2)
      // a's completion first: it is written in full before x's fails.
      let completions = grants.sorted { $0.taskID == a.id && $1.taskID == x.id }
        .map { Completion(taskID: $0.taskID, token: $0.leaseToken) }
      #expect(completions.map(\.taskID) == [a.id, x.id])

      // Another connection makes the event of x's completion fail, after x's row was updated.
      try execute(
        store.configuration.path,
        """
        CREATE TRIGGER fail_x BEFORE INSERT ON events
        WHEN NEW.task_id = '\(x.id)' AND NEW.state = \(TaskState.succeeded.rawValue)
        BEGIN SELECT RAISE(ABORT, 'injected failure'); END
        """
      )
      await #expect(throws: StoreError.self) {
        _ = try await store.complete(completions, nowMs: t0 + 2)
      }
      // Nothing of the failed call stayed: neither a's completion nor x's row update.
      #expect(try await store.get(taskID: a.id)?.state == .running)
      #expect(try await store.get(taskID: x.id)?.state == .running)

      try execute(store.configuration.path, "DROP TRIGGER fail_x")
      let results = try await store.complete(completions, nowMs: t0 + 3)
      #expect(results.allSatisfy { (try? $0.get()) != nil })
      #expect(try await store.get(taskID: a.id)?.state == .succeeded)
      #expect(try await store.get(taskID: x.id)?.state == .succeeded)
      // The queue's counters (kept in memory by the writer) were undone with the group.
      let stats = try await store.stats(
        queues: ["default"],
        nowMs: t0 + 4,
        stuckAfterMs: [:],
        defaultStuckAfterMs: 60_000
      )
      #expect(stats.first?.counts[.running] == 0)
      #expect(stats.first?.counts[.succeeded] == 2)
    }
  }
}
