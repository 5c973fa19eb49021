import CSQLite
import Foundation
import Synchronization
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// Collects what the commit listener sees.
final class CommitLog: Sendable {
  private let state = Mutex<(events: [EventRecord], calls: Int, concurrent: Bool, inside: Bool)>(
    ([], 0, false, false)
  )

  var listener: @Sendable ([EventRecord]) -> Void {
    { [self] events in
      state.withLock {
        if $0.inside { $0.concurrent = true }
        $0.inside = true
        $0.events += events
        $0.calls += 1
        $0.inside = false
      }
    }
  }

  var events: [EventRecord] { state.withLock { $0.events } }
  var calls: Int { state.withLock { $0.calls } }
  var concurrent: Bool { state.withLock { $0.concurrent } }
}

@Suite("Events and group commit")
struct EventsAndCommitTests {
  @Test("1,000 concurrent submits are group-committed: far fewer commits than operations")
  func groupCommit() async throws {
    let log = CommitLog()
    try await withStore(onCommit: log.listener) { store in
      let commitsBefore = store.commitCount
      let operationsBefore = store.operationCount
      let ids = try await withThrowingTaskGroup(of: String.self) { group in
        for i in 0..<1_000 {
          group.addTask { try await store.submitOne(task("t\(i)"), nowMs: t0 + Int64(i)).id }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      #expect(Set(ids).count == 1_000)
      let commits = store.commitCount - commitsBefore
      let operations = store.operationCount - operationsBefore
      #expect(operations == 1_000)
      #expect(commits < operations / 5, "commits \(commits) for \(operations) operations")
      #expect(try await store.count(filter: TaskFilter()) == 1_000)
    }
    // The listener saw every event once, in order, never concurrently.
    let sequences = log.events.map(\.sequence)
    #expect(sequences.count == 1_000)
    #expect(sequences == Array(sequences.sorted()))
    #expect(Set(sequences).count == 1_000)
    #expect(!log.concurrent)
  }

  @Test("Event sequences are strictly increasing in commit order, gap-free, and readable")
  func eventOrder() async throws {
    let log = CommitLog()
    try await withStore(onCommit: log.listener) { store in
      let t = try await store.submitOne(task())
      // A refused operation adds no event and leaves no gap.
      _ = try? await store.cancel(taskID: "missing", reason: "", nowMs: t0)
      _ = try await store.submit([task(""), task("x")], nowMs: t0)
      let grant = try #require(
        try await store.lease(queues: [], types: [], max: 1, workerID: "w", nowMs: t0 + 1).first
      )
      _ = try await store.heartbeat(
        taskID: t.id,
        token: grant.leaseToken,
        progress: .init(percent: 150, message: "m"),
        nowMs: t0 + 2
      )
      _ = try await store.complete(
        [Completion(taskID: t.id, token: grant.leaseToken, result: Data("abc".utf8))],
        nowMs: t0 + 3
      )
      let events = try await store.events(after: 0, limit: 100)
      #expect(events.map(\.sequence) == [1, 2, 3, 4])
      #expect(events.map(\.kind) == [.created, .stateChanged, .progress, .finished])
      #expect(events.map(\.state) == [.pending, .running, .running, .succeeded])
      #expect(events[2].progress == 100)
      #expect(events[2].message == "m")
      #expect(events[3].resultSize == 3)
      #expect(events.allSatisfy { $0.taskID == t.id && $0.queue == "default" && $0.type == "t" })
      #expect(log.events == events)
      #expect(try await store.events(after: 2, limit: 1).map(\.sequence) == [3])
      #expect(try await store.latestSequence() == 4)
      #expect(try await store.oldestRetainedSequence() == 1)
      #expect(try await store.get(taskID: t.id)?.sequence == 4)
    }
  }

  @Test(
    "Reopening the file keeps tasks, counters, keys and the event sequence; migrations are not rerun"
  )
  func reopen() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var store = try await SQLiteTaskStore(configuration: .init(path: path))
    let t = try await store.submitOne(task(key: "k"))
    _ = try await store.submitOne(task(queue: "other"))
    try await store.setPaused(queue: "other", paused: true, nowMs: t0)
    let grant = try #require(
      try await store.lease(queues: [], types: [], max: 1, workerID: "w", nowMs: t0).first
    )
    try await store.close()
    await expectStoreError({ if case .unavailable = $0 { true } else { false } }) {
      _ = try await store.submit([task()], nowMs: t0)
    }

    store = try await SQLiteTaskStore(configuration: .init(path: path))
    // The lease survives the restart: the worker can still complete with its token.
    let done = try await store.complete(
      [Completion(taskID: t.id, token: grant.leaseToken)],
      nowMs: t0 + 1
    )
    #expect((try? done[0].get()) != nil)
    #expect(try await store.submit([task(key: "k")], nowMs: t0 + 2)[0].record?.id == t.id)
    #expect(try await store.pausedQueues() == ["other"])
    let next = try await store.submitOne(task(), nowMs: t0 + 3)
    #expect(next.id > t.id)
    let events = try await store.events(after: 0, limit: 100)
    #expect(events.map(\.sequence) == Array(1...UInt64(events.count)))
    let stats = try await store.stats(
      queues: [],
      nowMs: t0,
      stuckAfterMs: [:],
      defaultStuckAfterMs: 1_000
    )
    #expect(stats.map(\.queue) == ["default", "other"])
    #expect(stats[0].counts[.succeeded] == 1)
    #expect(stats[0].counts[.pending] == 1)
    #expect(stats[1].paused)
    try await store.close()

    // The schema version is recorded.
    var db: OpaquePointer?
    #expect(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK)
    var statement: OpaquePointer?
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nil)
    #expect(sqlite3_step(statement) == SQLITE_ROW)
    #expect(sqlite3_column_int(statement, 0) == 7)
    sqlite3_finalize(statement)
    sqlite3_close(db)
  }

  @Test("A file from a newer version is refused with a clear error")
  func newerSchema() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    sqlite3_exec(db, "PRAGMA user_version = 99", nil, nil, nil)
    sqlite3_close(db)
    await expectStoreError({
      if case .unavailable(let m) = $0 { m.contains("schema version 99") } else { false }
    }) {
      _ = try await SQLiteTaskStore(configuration: .init(path: path))
    }
  }

  @Test("The due and expiry queries use their indexes; no ready index is left to keep up")
  func queryPlans() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let store = try await SQLiteTaskStore(configuration: .init(path: path))
    try await store.close()
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    func plan(_ sql: String) -> String {
      var statement: OpaquePointer?
      #expect(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN " + sql, -1, &statement, nil) == SQLITE_OK)
      var lines: [String] = []
      while sqlite3_step(statement) == SQLITE_ROW {
        lines.append(String(cString: sqlite3_column_text(statement, 3)))
      }
      sqlite3_finalize(statement)
      return lines.joined(separator: "; ")
    }
    // PENDING tasks in lease order live in the writer's memory since migration 7.
    var indexes: [String] = []
    var list: OpaquePointer?
    #expect(
      sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'index'", -1, &list, nil)
        == SQLITE_OK
    )
    while sqlite3_step(list) == SQLITE_ROW {
      indexes.append(String(cString: sqlite3_column_text(list, 0)))
    }
    sqlite3_finalize(list)
    #expect(indexes.contains("tasks_due"), "\(indexes)")
    #expect(!indexes.contains("tasks_ready") && !indexes.contains("tasks_ready_type"), "\(indexes)")
    let due = plan(
      "SELECT rid FROM tasks INDEXED BY tasks_due WHERE state IN (2, 4) AND next_run_ms <= 5 ORDER BY next_run_ms LIMIT 10"
    )
    #expect(due.contains("tasks_due (next_run_ms<?)"), "\(due)")
    let expire = plan(
      "SELECT rid FROM tasks INDEXED BY tasks_expire WHERE state = 3 AND expire_ms <= 5 ORDER BY expire_ms LIMIT 10"
    )
    #expect(expire.contains("tasks_expire (expire_ms<?)"), "\(expire)")
  }
}

@Suite("Concurrency")
struct ConcurrencyTests {
  @Test("Twenty workers leasing at once never get the same task twice")
  func noDoubleLease() async throws {
    try await withStore { store in
      _ = try await store.submit(
        (0..<500).map { task("t\($0)", priority: Int32($0 % 3)) },
        nowMs: t0
      )
      let leased = try await withThrowingTaskGroup(of: [LeaseGrant].self) { group in
        for worker in 0..<20 {
          group.addTask {
            var mine: [LeaseGrant] = []
            while true {
              let grants = try await store.lease(
                queues: ["default"],
                types: [],
                max: 7,
                workerID: "w\(worker)",
                nowMs: t0 + 1
              )
              if grants.isEmpty { return mine }
              mine += grants
            }
          }
        }
        return try await group.reduce(into: []) { $0 += $1 }
      }
      #expect(leased.count == 500)
      #expect(Set(leased.map(\.taskID)).count == 500)
      #expect(Set(leased.map(\.leaseToken)).count == 500)
      let completions = try await withThrowingTaskGroup(of: Bool.self) { group in
        for grant in leased {
          group.addTask {
            let results = try await store.complete(
              [Completion(taskID: grant.taskID, token: grant.leaseToken)],
              nowMs: t0 + 2
            )
            return (try? results[0].get()) != nil
          }
        }
        return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
      }
      #expect(completions == 500)
      #expect(try await store.count(filter: TaskFilter(states: [.succeeded])) == 500)
      #expect(try await store.latestSequence() == store.latestCommittedSequence)
      #expect(store.latestCommittedSequence == 1_500)
    }
  }
}
