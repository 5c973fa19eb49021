import CSQLiteCrashVFS
import Foundation
import Synchronization
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// Power loss, modelled by the crash VFS (Tests/CSQLiteCrashVFS): writes reach the "disk" only
/// when SQLite syncs them; a power cut drops the rest. Serialized: the power cut is process-wide.
@Suite("Power cut", .serialized)
struct PowerCutTests {
  static let vfs = "taskwire-crash"

  init() {
    #expect(taskwire_crash_vfs_register(Self.vfs) == 0)
    taskwire_crash_vfs_reset()
  }

  struct Outcome {
    var ackedSubmits: [String] = []
    var ackedCompletions: [String] = []
    var lostSubmits: [String] = []
    var undoneCompletions: [String] = []
    var lostBeforeSync: [String] = []
    var syncedSubmits: [String] = []
  }

  /// Concurrent submits and completions, all acknowledged; then the power goes; then the file is
  /// reopened with the normal VFS and checked.
  func run(
    durability: SQLiteTaskStore.Durability,
    synchronousOff: Bool = false,
    relaxedSyncPoint: Bool = false
  ) async throws -> Outcome {
    taskwire_crash_vfs_reset()
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let store = try await SQLiteTaskStore(
      configuration: .init(
        path: path,
        durability: durability,
        testing: .init(
          vfs: Self.vfs,
          synchronousOff: synchronousOff,
          manualWALSync: true,
          walSync: { path in _ = taskwire_crash_vfs_sync_path(path) }
        )
      )
    )
    var outcome = Outcome()

    func submitConcurrently(_ n: Int, tag: String) async throws -> [String] {
      try await withThrowingTaskGroup(of: String.self) { group in
        for i in 0..<n {
          group.addTask {
            try await store.submitOne(task("\(tag)-\(i)"), nowMs: t0 + Int64(i)).id
          }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
    }

    outcome.ackedSubmits = try await submitConcurrently(200, tag: "a")
    let grants = try await store.lease(
      queues: [],
      types: [],
      max: 60,
      workerID: "w",
      nowMs: t0 + 1_000
    )
    #expect(grants.count == 60)
    outcome.ackedCompletions = try await withThrowingTaskGroup(of: String.self) { group in
      for grant in grants {
        group.addTask {
          let results = try await store.complete(
            [Completion(taskID: grant.taskID, token: grant.leaseToken, result: Data("r".utf8))],
            nowMs: t0 + 2_000
          )
          _ = try results[0].get()
          return grant.taskID
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    if relaxedSyncPoint {
      // Everything acknowledged before this sync must survive; what follows may be lost.
      store.syncWAL()
      outcome.syncedSubmits = outcome.ackedSubmits
      outcome.lostBeforeSync = try await submitConcurrently(100, tag: "b")
      outcome.ackedSubmits += outcome.lostBeforeSync
    }

    taskwire_crash_vfs_power_cut()
    // The store is dead now: writes fail (and do not hang).
    await #expect(throws: StoreError.self) {
      _ = try await store.submit([task("after-cut")], nowMs: t0 + 5_000)
    }
    try await store.close()
    taskwire_crash_vfs_reset()

    let reopened = try await SQLiteTaskStore(configuration: .init(path: path))
    for id in outcome.ackedSubmits where try await reopened.get(taskID: id) == nil {
      outcome.lostSubmits.append(id)
    }
    for id in outcome.ackedCompletions where try await reopened.get(taskID: id)?.state != .succeeded
    {
      outcome.undoneCompletions.append(id)
    }
    // Nothing acknowledged as complete is leased again.
    let again = try await reopened.lease(
      queues: [],
      types: [],
      max: 1_000,
      workerID: "w2",
      nowMs: t0 + 10_000
    )
    #expect(Set(again.map(\.taskID)).isDisjoint(with: outcome.ackedCompletions))
    try await reopened.close()
    return outcome
  }

  @Test("full: every acknowledged submit and completion survives a power cut")
  func full() async throws {
    let syncsBefore = taskwire_crash_vfs_sync_count()
    let outcome = try await run(durability: .full)
    #expect(outcome.ackedSubmits.count == 200)
    #expect(outcome.ackedCompletions.count == 60)
    #expect(outcome.lostSubmits.isEmpty)
    #expect(outcome.undoneCompletions.isEmpty)
    #expect(taskwire_crash_vfs_sync_count() > syncsBefore)
  }

  @Test(
    "full: a power cut in the middle of concurrent submits and completions loses nothing acknowledged"
  )
  func cutUnderLoad() async throws {
    taskwire_crash_vfs_reset()
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let store = try await SQLiteTaskStore(
      configuration: .init(path: path, testing: .init(vfs: Self.vfs))
    )
    let acked = AckLog()
    let (cut, cutNow) = AsyncStream.makeStream(of: Void.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for submitter in 0..<32 {
        group.addTask {
          for i in 0..<1_000 {
            guard
              let id = try? await store.submit([task("s\(submitter)-\(i)")], nowMs: t0)[0]
                .record?.id
            else { return }
            let count = acked.state.withLock {
              $0.submits.append(id)
              return $0.submits.count
            }
            if count == 400 { cutNow.yield() }
          }
        }
      }
      for worker in 0..<4 {
        group.addTask {
          while true {
            guard
              let grants = try? await store.lease(
                queues: [],
                types: [],
                max: 8,
                workerID: "w\(worker)",
                nowMs: t0 + 1
              )
            else { return }
            for grant in grants {
              guard
                let results = try? await store.complete(
                  [Completion(taskID: grant.taskID, token: grant.leaseToken)],
                  nowMs: t0 + 2
                ), (try? results[0].get()) != nil
              else { return }
              acked.state.withLock { $0.completions.append(grant.taskID) }
            }
          }
        }
      }
      // The power goes while everything above is still running.
      for await _ in cut { break }
      taskwire_crash_vfs_power_cut()
      try await group.waitForAll()
    }
    try await store.close()
    taskwire_crash_vfs_reset()

    let (submits, completions) = acked.state.withLock { ($0.submits, $0.completions) }
    #expect(submits.count >= 400)
    let reopened = try await SQLiteTaskStore(configuration: .init(path: path))
    var lost = 0
    for id in submits where try await reopened.get(taskID: id) == nil { lost += 1 }
    var undone = 0
    for id in completions where try await reopened.get(taskID: id)?.state != .succeeded {
      undone += 1
    }
    #expect(lost == 0)
    #expect(undone == 0)
    try await reopened.close()
  }

  @Test("The test is real: with synchronous=OFF the same scenario loses acknowledged writes")
  func synchronousOffLoses() async throws {
    let outcome = try await run(durability: .full, synchronousOff: true)
    #expect(outcome.ackedSubmits.count == 200)
    #expect(!outcome.lostSubmits.isEmpty)
    #expect(!outcome.undoneCompletions.isEmpty)
  }

  @Test("relaxed: writes acknowledged before a WAL sync survive; later ones may be lost")
  func relaxed() async throws {
    let outcome = try await run(durability: .relaxed, relaxedSyncPoint: true)
    let lost = Set(outcome.lostSubmits)
    #expect(lost.isDisjoint(with: outcome.syncedSubmits))
    #expect(outcome.undoneCompletions.isEmpty)
    // Without the sync the later writes were only in the "page cache": the cut takes them.
    #expect(!lost.isEmpty)
    #expect(lost.isSubset(of: outcome.lostBeforeSync))
  }
}

@Suite("Relaxed durability")
struct RelaxedDurabilityTests {
  @Test("The background WAL sync runs by itself in relaxed mode", .timeLimit(.minutes(1)))
  func backgroundSync() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let (synced, continuation) = AsyncStream.makeStream(of: String.self)
    let store = try await SQLiteTaskStore(
      configuration: .init(
        path: path,
        durability: .relaxed,
        relaxedSyncIntervalMs: 5,
        testing: .init(walSync: { continuation.yield($0) })
      )
    )
    _ = try await store.submitOne(task())
    // Waits for the sync thread's first tick (no sleeping: the hook signals).
    var iterator = synced.makeAsyncIterator()
    let walPath = await iterator.next()
    #expect(walPath == path + "-wal")
    try await store.close()
    continuation.finish()
  }

  @Test("Full mode has no background sync")
  func fullHasNone() async throws {
    let dir = try TemporaryDirectory()
    let store = try await SQLiteTaskStore(
      configuration: .init(
        path: dir.path + "/taskwire.sqlite",
        testing: .init(walSync: { _ in Issue.record("full mode synced the WAL from a timer") })
      )
    )
    _ = try await store.submitOne(task())
    store.syncWAL()
    try await store.close()
  }
}

/// What was acknowledged before the power cut.
final class AckLog: Sendable {
  let state = Mutex<(submits: [String], completions: [String])>(([], []))
}
