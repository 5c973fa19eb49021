import CSQLite
import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// Payloads over 1 KiB live in `task_payloads`, written once at submit: state changes rewrite
/// only the small task row (schema 6).
@Suite("Payloads outside the task row")
struct ExternalPayloadTests {
  /// A payload of `count` bytes that differs from byte to byte (no page is all zeros).
  static func payload(_ count: Int) -> String {
    String((0..<count).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
  }

  func scalar(_ path: String, _ sql: String) -> Int64 {
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    var statement: OpaquePointer?
    #expect(sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK)
    defer { sqlite3_finalize(statement) }
    return sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1
  }

  /// Checkpoints the WAL into the database and truncates it; `false` when a reader held it.
  func truncateWAL(_ path: String) -> Bool {
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    // A first read opens the WAL for this connection (before it, a checkpoint does nothing).
    #expect(sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK)
    var logFrames: Int32 = -1
    var checkpointed: Int32 = -1
    let rc = sqlite3_wal_checkpoint_v2(
      db,
      nil,
      SQLITE_CHECKPOINT_TRUNCATE,
      &logFrames,
      &checkpointed
    )
    return rc == SQLITE_OK && logFrames == 0
  }

  func walBytes(_ path: String) -> Int {
    let attributes = try? FileManager.default.attributesOfItem(atPath: path + "-wal")
    return (attributes?[.size] as? Int) ?? 0
  }

  @Test("Every read finds a large payload; lease and completion do not write it again")
  func lifecycle() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let store = try await SQLiteTaskStore(configuration: .init(path: path, randomSeed: 7))
    let big = Self.payload(512 * 1024)
    let large = try await store.submitOne(task("big", payload: big))
    let small = try await store.submitOne(task("small", payload: "tiny"))
    #expect(scalar(path, "SELECT count(*) FROM task_payloads") == 1)
    #expect(scalar(path, "SELECT length(payload) FROM tasks WHERE type = 'big'") == 0)
    #expect(try await store.get(taskID: large.id)?.payload == Data(big.utf8))
    #expect(try await store.get(taskID: small.id)?.payload == Data("tiny".utf8))

    // With the payload in its row, the lease's UPDATE alone rewrote all 512 KiB of it.
    try #require(truncateWAL(path))
    #expect(walBytes(path) == 0)
    let grants = try await store.lease(
      queues: [],
      types: ["big"],
      max: 1,
      workerID: "w",
      nowMs: t0 + 1
    )
    let grant = try #require(grants.first)
    #expect(grant.payload == Data(big.utf8))
    let failed = try await store.fail(
      taskID: large.id,
      token: grant.leaseToken,
      error: "again",
      permanent: false,
      retryAfterMs: 1,
      nowMs: t0 + 2
    )
    #expect(failed.state == .retrying)
    _ = try await store.promoteDue(nowMs: t0 + 10)
    let again = try await store.lease(
      queues: [],
      types: ["big"],
      max: 1,
      workerID: "w",
      nowMs: t0 + 11
    )
    let second = try #require(again.first)
    #expect(second.payload == Data(big.utf8))
    let done = try await store.complete(
      [Completion(taskID: large.id, token: second.leaseToken, result: Data("ok".utf8))],
      nowMs: t0 + 12
    )
    _ = try done[0].get()
    #expect(
      walBytes(path) < 128 * 1024,
      "two leases, a failure and a completion wrote \(walBytes(path)) bytes of WAL"
    )
    #expect(try await store.get(taskID: large.id)?.payload == Data(big.utf8))

    // Deleting the task (here: deleting it once finished) removes its payload too.
    try await store.delete(taskID: large.id, nowMs: t0 + 13)
    #expect(scalar(path, "SELECT count(*) FROM task_payloads") == 0)
    try await store.close()
  }

  @Test("A task cleaned on success takes its payload with it")
  func cleanOnSuccess() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let store = try await SQLiteTaskStore(configuration: .init(path: path, randomSeed: 7))
    let record = try await store.submitOne(task("clean", payload: Self.payload(4_096), clean: true))
    #expect(scalar(path, "SELECT count(*) FROM task_payloads") == 1)
    let grant = try #require(
      try await store.lease(queues: [], types: ["clean"], max: 1, workerID: "w", nowMs: t0).first
    )
    #expect(grant.payload.count == 4_096)
    _ = try await store.complete(
      [Completion(taskID: record.id, token: grant.leaseToken)],
      nowMs: t0 + 1
    )[0].get()
    #expect(try await store.get(taskID: record.id) == nil)
    #expect(scalar(path, "SELECT count(*) FROM task_payloads") == 0)
    try await store.close()
  }

  @Test("A lease grants tasks until their payloads reach maxLeaseBytes, always at least one")
  func leaseBudget() async throws {
    let dir = try TemporaryDirectory()
    let store = try await SQLiteTaskStore(
      configuration: .init(
        path: dir.path + "/taskwire.sqlite",
        policy: StorePolicy(maxLeaseBytes: 3 * 1024 * 1024),
        randomSeed: 7
      )
    )
    for _ in 0..<12 {
      _ = try await store.submitOne(task("budget", payload: Self.payload(512 * 1024)))
    }
    var counts: [Int] = []
    while true {
      let grants = try await store.lease(
        queues: [],
        types: ["budget"],
        max: 64,
        workerID: "w",
        nowMs: t0
      )
      if grants.isEmpty { break }
      counts.append(grants.count)
    }
    // Five of 512 KiB (and a little) fit in 3 MiB; a sixth would not.
    #expect(counts == [5, 5, 2])

    // One task larger than the budget still goes, alone.
    _ = try await store.submitOne(task("huge", payload: Self.payload(4 * 1024 * 1024)))
    _ = try await store.submitOne(task("huge", payload: "small"))
    let huge = try await store.lease(queues: [], types: ["huge"], max: 64, workerID: "w", nowMs: t0)
    #expect(huge.map(\.payload.count) == [4 * 1024 * 1024])
    try await store.close()
  }
}
