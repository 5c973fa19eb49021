import CSQLite
import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Migrations")
struct MigrationTests {
  /// Runs SQL on the file directly.
  func execute(_ path: String, _ sql: String) {
    var db: OpaquePointer?
    #expect(sqlite3_open(path, &db) == SQLITE_OK)
    #expect(sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK)
    sqlite3_close(db)
  }

  func userVersion(_ path: String) -> Int32 {
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    var statement: OpaquePointer?
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nil)
    defer { sqlite3_finalize(statement) }
    return sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int(statement, 0) : -1
  }

  @Test("A version-1 file is upgraded at open and keeps its data")
  func upgradeFromVersion1() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var store = try await SQLiteTaskStore(configuration: .init(path: path))
    let kept = try await store.submitOne(task("kept"))
    try await store.close()
    // Turn the file back into what version 1 made.
    execute(path, "DROP TABLE cleaned_tasks; PRAGMA user_version = 1;")
    #expect(userVersion(path) == 1)

    store = try await SQLiteTaskStore(configuration: .init(path: path))
    #expect(try await store.get(taskID: kept.id)?.type == "kept")
    // Version 2's table works: a repeated completion of a cleaned task is still a success.
    let cleaned = try await store.submitOne(task("clean", clean: true))
    let grants = try await store.lease(
      queues: [],
      types: ["clean"],
      max: 1,
      workerID: "w",
      nowMs: t0
    )
    let grant = try #require(grants.first)
    let first = try await store.complete(
      [Completion(taskID: cleaned.id, token: grant.leaseToken)],
      nowMs: t0 + 1
    )
    #expect(try first[0].get().repeated == false)
    #expect(try await store.get(taskID: cleaned.id) == nil)
    let again = try await store.complete(
      [Completion(taskID: cleaned.id, token: grant.leaseToken)],
      nowMs: t0 + 2
    )
    #expect(try again[0].get().repeated == true)
    #expect(try again[0].get().finishedMs == t0 + 1)
    let wrongToken = try await store.complete(
      [Completion(taskID: cleaned.id, token: "other")],
      nowMs: t0 + 2
    )
    #expect(wrongToken[0].failureValue == .notFound("task \(cleaned.id)"))
    try await store.close()
    #expect(userVersion(path) == 2)
  }
}
