import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// Pipelined single submits share one store operation but each stands alone, as if it were its
/// own call, in order.
@Suite("Submit each")
struct SubmitEachTests {
  @Test("Limits count per queue when one call's tasks go back and forth between queues")
  func interleavedQueues() async throws {
    let policy = StorePolicy(pendingLimits: ["a": 2, "b": 1])
    try await withStore(policy: policy) { store in
      _ = try await store.submitOne(task(queue: "a", payload: "earlier"))
      let outcomes = try await store.submitEach(
        [
          task(queue: "a"),  // 0 created: "a" now holds 2
          task(queue: "b"),  // 1 created: "b" now holds 1
          task(queue: "a"),  // 2 full
          task(queue: "b"),  // 3 full
          task(queue: "default"),  // 4 created
          task(queue: "b"),  // 5 full
          task(queue: "a"),  // 6 full
        ],
        nowMs: t0 + 10
      )
      #expect(outcomes[0].isCreated)
      #expect(outcomes[1].isCreated)
      #expect(outcomes[2].error == .queueFull(queue: "a", limit: 2, pending: 2))
      #expect(outcomes[3].error == .queueFull(queue: "b", limit: 1, pending: 1))
      #expect(outcomes[4].isCreated)
      #expect(outcomes[5].error == .queueFull(queue: "b", limit: 1, pending: 1))
      #expect(outcomes[6].error == .queueFull(queue: "a", limit: 2, pending: 2))
      #expect(try await store.count(filter: TaskFilter(queues: ["a"])) == 2)
      #expect(try await store.count(filter: TaskFilter(queues: ["b"])) == 1)
    }
  }

  @Test("Refused items leave no trace; the others stand; keys and limits apply in order")
  func itemsStandAlone() async throws {
    let policy = StorePolicy(pendingLimits: ["small": 2])
    try await withStore(policy: policy) { store in
      let existing = try await store.submitOne(task(key: "old"))
      let outcomes = try await store.submitEach(
        [
          task(payload: "a"),  // 0 created
          task(""),  // 1 invalid: no type
          task(key: "k", payload: "same"),  // 2 created
          task(key: "k", payload: "same"),  // 3 the same request: existing (2)
          task(key: "k", payload: "different"),  // 4 conflict with 2
          task(key: "old"),  // 5 existing from an earlier call
          task(queue: "small", payload: "1"),  // 6 created
          task(queue: "small", payload: "2"),  // 7 created: the queue is now at its limit
          task(queue: "small", key: "s", payload: "3"),  // 8 queue full
          task(queue: "small", key: "s", payload: "3"),  // 9 the same request as 8: refused too
          task(payload: "b"),  // 10 created
        ],
        nowMs: t0 + 10
      )
      #expect(outcomes.count == 11)
      #expect(outcomes[0].isCreated)
      if case .invalid? = outcomes[1].error {} else { Issue.record("item 1: \(outcomes[1])") }
      #expect(outcomes[2].isCreated)
      #expect(outcomes[3].isExisting)
      #expect(outcomes[3].record?.id == outcomes[2].record?.id)
      #expect(outcomes[4].error == .conflict(key: "k"))
      #expect(outcomes[5].isExisting)
      #expect(outcomes[5].record?.id == existing.id)
      #expect(outcomes[6].isCreated)
      #expect(outcomes[7].isCreated)
      #expect(outcomes[8].error == .queueFull(queue: "small", limit: 2, pending: 2))
      #expect(outcomes[9].error == .queueFull(queue: "small", limit: 2, pending: 2))
      #expect(outcomes[10].isCreated)
      // Five new tasks plus the earlier one; the refused items wrote nothing, not even a key.
      #expect(try await store.count(filter: TaskFilter()) == 6)
      #expect(try await store.count(filter: TaskFilter(queues: ["small"])) == 2)
      // Once the queue has room, the refused key is free: a new task, not an existing one.
      let grants = try await store.lease(
        queues: ["small"],
        types: [],
        max: 1,
        workerID: "w",
        nowMs: t0 + 20
      )
      #expect(grants.count == 1)
      let retried = try await store.submit(
        [task(queue: "small", key: "s", payload: "3")],
        nowMs: t0 + 30
      )
      #expect(retried[0].isCreated)
    }
  }
}
