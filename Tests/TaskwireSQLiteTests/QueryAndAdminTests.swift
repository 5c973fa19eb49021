import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Queries, retention and tokens")
struct QueryAndAdminTests {
  @Test("List pages through filtered tasks in id order; count agrees")
  func listAndCount() async throws {
    try await withStore { store in
      var mine: [String] = []
      for i in 0..<25 {
        let r = try await store.submitOne(
          task(
            i % 2 == 0 ? "even" : "odd",
            queue: i < 20 ? "a" : "b",
            metadata: i % 5 == 0 ? ["created_by": "bob"] : [:]
          ),
          nowMs: t0 + Int64(i)
        )
        if i % 2 == 0 && i < 20 { mine.append(r.id) }
      }
      let filter = TaskFilter(queues: ["a"], types: ["even"])
      var seen: [String] = []
      var cursor: String?
      repeat {
        let page = try await store.list(filter: filter, pageSize: 4, cursor: cursor)
        #expect(page.tasks.count <= 4)
        seen += page.tasks.map(\.id)
        cursor = page.nextCursor
      } while cursor != nil
      #expect(seen == mine)
      #expect(try await store.count(filter: filter) == 10)
      #expect(try await store.count(filter: TaskFilter()) == 25)
      #expect(try await store.count(filter: TaskFilter(queues: ["b"])) == 5)
      #expect(try await store.count(filter: TaskFilter(states: [.running])) == 0)
      #expect(try await store.count(filter: TaskFilter(createdBy: "bob")) == 5)
      #expect(
        try await store.count(filter: TaskFilter(createdAfterMs: t0 + 10, createdBeforeMs: t0 + 15))
          == 5
      )
      let byTime = try await store.list(
        filter: TaskFilter(createdAfterMs: t0 + 24),
        pageSize: 10,
        cursor: nil
      )
      #expect(byTime.tasks.count == 1)
      #expect(byTime.nextCursor == nil)
      _ = try await store.submitOne(task(key: "find-me"))
      #expect(
        try await store.list(
          filter: TaskFilter(idempotencyKey: "find-me"),
          pageSize: 10,
          cursor: nil
        ).tasks.count == 1
      )
    }
  }

  @Test("Stats count per state, flag stuck tasks and report the oldest pending")
  func stats() async throws {
    try await withStore { store in
      _ = try await store.submitOne(task(), nowMs: t0)
      _ = try await store.submitOne(task(), nowMs: t0 + 50_000)
      _ = try await store.submitOne(task(runAtMs: t0 + 1_000_000), nowMs: t0)
      _ = try await store.submitOne(task(queue: "q2"), nowMs: t0)
      _ = try await store.lease(queues: ["q2"], types: [], max: 1, workerID: "w", nowMs: t0)
      let stats = try await store.stats(
        queues: ["default", "q2", "empty"],
        nowMs: t0 + 100_000,
        stuckAfterMs: ["q2": 1],
        defaultStuckAfterMs: 60_000
      )
      #expect(stats.map(\.queue) == ["default", "q2", "empty"])
      #expect(stats[0].counts[.pending] == 2)
      #expect(stats[0].counts[.scheduled] == 1)
      #expect(stats[0].waiting == 3)
      #expect(stats[0].stuck == 1)
      #expect(stats[0].oldestPendingMs == t0)
      #expect(stats[1].counts[.running] == 1)
      #expect(stats[1].stuck == 0)
      #expect(stats[2].waiting == 0)
    }
  }

  @Test("Purge removes finished tasks past their retention, expired keys and old events")
  func purge() async throws {
    let day: Int64 = 24 * 3_600_000
    let policy = StorePolicy(
      finishedRetentionMs: 7 * day,
      finishedRetention: ["short": 1_000],
      eventRetentionMs: day,
      maxEvents: 1_000_000,
      idempotencyRetentionMs: day
    )
    try await withStore(policy: policy) { store in
      let keep = try await store.submitOne(task("keep"), nowMs: t0)
      let old = try await store.submitOne(task("old", key: "k"), nowMs: t0)
      let short = try await store.submitOne(task("short", queue: "short"), nowMs: t0)
      for id in [old.id, short.id] { _ = try await store.cancel(taskID: id, reason: "", nowMs: t0) }
      // One hour later: only the short queue's task is past its retention.
      var counts = try await store.purge(nowMs: t0 + 3_600_000)
      #expect(counts.tasks == 1)
      #expect(counts.idempotencyKeys == 0)
      #expect(counts.events == 0)
      #expect(try await store.get(taskID: short.id) == nil)
      // Eight days later: the old task, its key and the old events go; the pending task stays.
      counts = try await store.purge(nowMs: t0 + 8 * day)
      #expect(counts.tasks == 1)
      #expect(counts.idempotencyKeys == 1)
      #expect(counts.events == 5)
      #expect(try await store.get(taskID: old.id) == nil)
      #expect(try await store.get(taskID: keep.id) != nil)
      #expect(try await store.submit([task("old", key: "k")], nowMs: t0 + 8 * day)[0].isCreated)
      #expect(try await store.oldestRetainedSequence() == 6)
      let stats = try await store.stats(
        queues: [],
        nowMs: t0,
        stuckAfterMs: [:],
        defaultStuckAfterMs: day
      )
      #expect(stats.first { $0.queue == "default" }?.counts[.cancelled] == 0)
      #expect(stats.first { $0.queue == "short" }?.counts[.cancelled] == 0)
    }
  }

  @Test("Events beyond the newest maxEvents are purged, in batches")
  func purgeByCount() async throws {
    try await withStore(policy: StorePolicy(maxEvents: 10, purgeBatch: 7)) { store in
      _ = try await store.submit((0..<30).map { task("t\($0)") }, nowMs: t0)
      var counts = try await store.purge(nowMs: t0)
      #expect(counts.events == 7)
      #expect(counts.more)
      counts = try await store.purge(nowMs: t0)
      counts = try await store.purge(nowMs: t0)
      #expect(try await store.oldestRetainedSequence() == 21)
      #expect(try await store.latestSequence() == 30)
      #expect(try await store.events(after: 0, limit: 100).count == 10)
    }
  }

  @Test("The event sequence goes on after purged events, across a restart with none left")
  func sequenceSurvivesPurge() async throws {
    let day: Int64 = 24 * 3_600_000
    let dir = try TemporaryDirectory()
    let configuration = SQLiteTaskStore.Configuration(
      path: dir.path + "/taskwire.sqlite",
      policy: StorePolicy(eventRetentionMs: day),
      randomSeed: 42
    )
    var store = try await SQLiteTaskStore(configuration: configuration)
    _ = try await store.submit([task(), task(), task()], nowMs: t0)
    let counts = try await store.purge(nowMs: t0 + 2 * day)
    #expect(counts.events == 3)
    #expect(try await store.oldestRetainedSequence() == 4)
    try await store.close()

    store = try await SQLiteTaskStore(configuration: configuration)
    #expect(try await store.latestSequence() == 3)
    #expect(try await store.oldestRetainedSequence() == 4)
    _ = try await store.submitOne(task(), nowMs: t0 + 2 * day)
    #expect(try await store.events(after: 0, limit: 10).map(\.sequence) == [4])
    try await store.close()
  }

  @Test("Tokens: create, refuse a duplicate active name, find by hash, revoke")
  func tokens() async throws {
    try await withStore { store in
      let hash = SHA256.hexHash(Array("secret".utf8))
      let admin = try await store.createToken(name: "ops", role: .admin, hash: hash, nowMs: t0)
      #expect(admin.role == .admin)
      await expectStoreError({ $0 == .alreadyExists("token \"ops\"") }) {
        _ = try await store.createToken(name: "ops", role: .client, hash: "other", nowMs: t0)
      }
      #expect(try await store.token(hash: hash) == admin)
      #expect(try await store.token(hash: "nope") == nil)
      let revoked = try await store.revokeToken(idOrName: "ops", nowMs: t0 + 1)
      #expect(revoked.revokedMs == t0 + 1)
      #expect(try await store.token(hash: hash) == nil)
      // The name is free again; the revoked token is still listed.
      let again = try await store.createToken(name: "ops", role: .worker, hash: "h2", nowMs: t0 + 2)
      #expect(try await store.listTokens().map(\.id) == [admin.id, again.id])
      #expect(try await store.revokeToken(idOrName: admin.id, nowMs: t0 + 3).revokedMs == t0 + 1)
      await expectStoreError({ $0 == .notFound("token \"ghost\"") }) {
        _ = try await store.revokeToken(idOrName: "ghost", nowMs: t0)
      }
    }
  }

  @Test("Calls after close are refused as unavailable")
  func closed() async throws {
    let dir = try TemporaryDirectory()
    let store = try await SQLiteTaskStore(configuration: .init(path: dir.path + "/x.sqlite"))
    try await store.close()
    try await store.close()
    await expectStoreError({ if case .unavailable = $0 { true } else { false } }) {
      _ = try await store.get(taskID: "x")
    }
    await expectStoreError({ if case .unavailable = $0 { true } else { false } }) {
      _ = try await store.lease(queues: [], types: [], max: 1, workerID: "w", nowMs: t0)
    }
  }
}
