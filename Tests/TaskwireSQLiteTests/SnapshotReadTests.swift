import Foundation
import Synchronization
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Reading several tasks at one point in time")
struct SnapshotReadTests {
  private final class Counters: Sendable {
    let done = Atomic<Bool>(false)
    let mixed = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
  }

  @Test("get(taskIDs:) never shows half of a commit that changed both tasks")
  func consistentAcrossTasks() async throws {
    try await withStore { store in
      let counters = Counters()
      try await withThrowingTaskGroup(of: Void.self) { group in
        var pairs: [(String, String)] = []
        for round in 0..<200 {
          let queue = "pair-\(round)"
          let outcome = try await store.submit(
            [task("a", queue: queue), task("b", queue: queue)],
            nowMs: t0
          )
          pairs.append((try #require(outcome[0].record?.id), try #require(outcome[1].record?.id)))
        }
        let all = pairs
        // Readers: both tasks of a pair change in the same commits, so any one read of the two
        // must show them in the same state.
        for _ in 0..<2 {
          group.addTask {
            while !counters.done.load(ordering: .acquiring) {
              for (a, b) in all {
                let tasks = try await store.get(taskIDs: [a, b])
                counters.reads.add(1, ordering: .relaxed)
                if tasks.count != 2 || tasks[0].state != tasks[1].state {
                  counters.mixed.add(1, ordering: .relaxed)
                }
              }
            }
          }
        }
        // The writer: each pair is leased in one commit, then completed in one commit.
        for (round, (a, b)) in all.enumerated() {
          let grants = try await store.lease(
            queues: ["pair-\(round)"],
            types: [],
            max: 2,
            workerID: "w",
            nowMs: t0 + 1
          )
          #expect(Set(grants.map(\.taskID)) == [a, b])
          _ = try await store.complete(
            grants.map { Completion(taskID: $0.taskID, token: $0.leaseToken) },
            nowMs: t0 + 2
          )
        }
        counters.done.store(true, ordering: .releasing)
        try await group.waitForAll()
      }
      #expect(counters.reads.load(ordering: .relaxed) > 0)
      #expect(
        counters.mixed.load(ordering: .relaxed) == 0,
        "reads that saw one task of a pair changed"
      )
    }
  }
}
