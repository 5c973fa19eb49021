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
    execute(
      path,
      """
      \(Self.undoVersion7) \(Self.undoVersion6)
      DROP TABLE cleaned_tasks; ALTER TABLE events DROP COLUMN created_by;
      PRAGMA user_version = 1;
      """
    )
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
    #expect(userVersion(path) == latestVersion)
  }

  @Test("A version-2 file gets created_by on its events, filled in from the tasks still stored")
  func upgradeFromVersion2() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var store = try await SQLiteTaskStore(configuration: .init(path: path))
    let kept = try await store.submitOne(task("kept", metadata: ["created_by": "alice"]))
    let gone = try await store.submitOne(task("gone", metadata: ["created_by": "bob"]))
    let anonymous = try await store.submitOne(task("anonymous"))
    _ = try await store.cancel(taskID: gone.id, reason: "", nowMs: t0 + 1)
    try await store.delete(taskID: gone.id, nowMs: t0 + 2)
    try await store.close()
    // Turn the file back into what version 2 made: events without created_by.
    execute(
      path,
      "\(Self.undoVersion7) \(Self.undoVersion6) ALTER TABLE events DROP COLUMN created_by; PRAGMA user_version = 2;"
    )
    #expect(userVersion(path) == 2)
    #expect(!eventColumns(path).contains("created_by"))

    store = try await SQLiteTaskStore(configuration: .init(path: path))
    #expect(userVersion(path) == latestVersion)
    let before = try await store.events(after: 0, limit: 100)
    let byTask = Dictionary(grouping: before, by: \.taskID)
    #expect(byTask[kept.id]?.map(\.createdBy) == ["alice"], "filled in from the task row")
    #expect(byTask[gone.id]?.map(\.createdBy) == ["", "", ""], "the task is gone: unknown")
    #expect(byTask[anonymous.id]?.map(\.createdBy) == [""])
    // New events carry it from the start.
    let grant = try #require(
      try await store.lease(queues: [], types: ["kept"], max: 1, workerID: "w", nowMs: t0 + 3)
        .first
    )
    let after = try await store.events(after: before.last?.sequence ?? 0, limit: 100)
    #expect(after.map(\.taskID) == [grant.taskID])
    #expect(after.map(\.createdBy) == ["alice"])
    try await store.close()
  }

  @Test("A version-3 file's running-attempt rows give way to the task row; ended ones stay")
  func upgradeFromVersion3() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var store = try await SQLiteTaskStore(configuration: .init(path: path))
    let running = try await store.submitOne(task("running"))
    let retried = try await store.submitOne(task("retried"))
    let first = try await store.lease(
      queues: [],
      types: ["retried"],
      max: 1,
      workerID: "w1",
      nowMs: t0
    )
    _ = try await store.fail(
      taskID: retried.id,
      token: try #require(first.first).leaseToken,
      error: "boom",
      permanent: false,
      retryAfterMs: 0,
      nowMs: t0 + 1
    )
    let grant = try #require(
      try await store.lease(queues: [], types: ["running"], max: 1, workerID: "w2", nowMs: t0 + 2)
        .first
    )
    try await store.close()
    // What version 3 wrote at lease: a row for the running attempt.
    execute(
      path,
      """
      \(Self.undoVersion7) \(Self.undoVersion6)
      INSERT INTO attempts(task_id, number, worker_id, lease_token, started_ms, outcome)
      SELECT id, attempt, worker_id, lease_token, attempt_started_ms, 1 FROM tasks WHERE state = 3;
      PRAGMA user_version = 3;
      """
    )
    store = try await SQLiteTaskStore(configuration: .init(path: path))
    #expect(userVersion(path) == latestVersion)
    let live = try #require(try await store.get(taskID: running.id))
    #expect(live.attempts.map(\.outcome) == [.running], "one running attempt, from the task row")
    #expect(live.attempts.first?.workerID == "w2")
    #expect(live.attempts.first?.startedMs == t0 + 2)
    let failedOnce = try #require(try await store.get(taskID: retried.id))
    #expect(failedOnce.attempts.map(\.outcome) == [.failed], "ended attempts are kept")
    let done = try await store.complete(
      [Completion(taskID: running.id, token: grant.leaseToken)],
      nowMs: t0 + 5
    )
    #expect((try? done[0].get()) != nil)
    let finished = try #require(try await store.get(taskID: running.id))
    #expect(finished.attempts.map(\.outcome) == [.succeeded])
    #expect(finished.attempts.first?.durationMs == 3)
    try await store.close()
  }

  @Test("A success recorded the earlier way (its own attempts row, token cleared) reads the same")
  func successRecordedTheEarlierWay() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var store = try await SQLiteTaskStore(configuration: .init(path: path))
    let old = try await store.submitOne(task("old", payload: "12345"))
    let new = try await store.submitOne(task("new", payload: "12345"))
    var tokens: [String: String] = [:]
    for (index, record) in [old, new].enumerated() {
      let grant = try #require(
        try await store.lease(
          queues: [],
          types: [record.type],
          max: 1,
          workerID: "w\(index)",
          nowMs: t0 + 10
        ).first
      )
      tokens[record.id] = grant.leaseToken
      let done = try await store.complete(
        [Completion(taskID: record.id, token: grant.leaseToken, result: Data("abc".utf8))],
        nowMs: t0 + 14
      )
      #expect(try done[0].get().repeated == false)
    }
    try await store.close()
    // What versions up to this one wrote at completion: an attempts row, the row's token cleared.
    execute(
      path,
      """
      INSERT INTO attempts(task_id, number, worker_id, lease_token, started_ms, ended_ms, outcome,
        result_size, answer_state)
      SELECT id, attempt, worker_id, lease_token, attempt_started_ms, finished_ms, 2, 3, 5
      FROM tasks WHERE id = '\(old.id)';
      UPDATE tasks SET lease_token = '' WHERE id = '\(old.id)';
      """
    )
    store = try await SQLiteTaskStore(configuration: .init(path: path))
    for record in [old, new] {
      let read = try #require(try await store.get(taskID: record.id))
      #expect(read.state == .succeeded)
      #expect(read.leaseToken == "", "a finished task shows no token")
      #expect(read.attempts.count == 1, "exactly one attempt, never a synthesized duplicate")
      let attempt = try #require(read.attempts.first)
      #expect(attempt.outcome == .succeeded)
      #expect(attempt.startedMs == t0 + 10)
      #expect(attempt.endedMs == t0 + 14)
      #expect(attempt.durationMs == 4)
      #expect(attempt.resultSize == 3)
      // A repeated completion with the token that succeeded is a success again, either way.
      let again = try await store.complete(
        [Completion(taskID: record.id, token: try #require(tokens[record.id]))],
        nowMs: t0 + 20
      )
      #expect(try again[0].get().repeated == true)
      #expect(try again[0].get().finishedMs == t0 + 14)
      // Any other token is refused.
      let stale = try await store.complete(
        [Completion(taskID: record.id, token: String(repeating: "0", count: 32))],
        nowMs: t0 + 20
      )
      #expect(throws: StoreError.leaseLost(taskID: record.id)) { try stale[0].get() }
    }
    try await store.close()
  }

  @Test("A version-4 file gets the finished index as a range; row writes need no temporary b-tree")
  func upgradeFromVersion4() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let day: Int64 = 24 * 3_600_000
    let configuration = SQLiteTaskStore.Configuration(
      path: path,
      policy: StorePolicy(finishedRetentionMs: day)
    )
    var store = try await SQLiteTaskStore(configuration: configuration)
    let done = try await store.submitOne(task("done"))
    _ = try await store.cancel(taskID: done.id, reason: "", nowMs: t0)
    try await store.close()
    execute(
      path,
      """
      \(Self.undoVersion7) \(Self.undoVersion6)
      DROP INDEX tasks_finished;
      CREATE INDEX tasks_finished ON tasks(finished_ms) WHERE state IN (5, 6, 7);
      PRAGMA user_version = 4;
      """
    )
    // Version 4's condition: every INSERT into tasks opens a temporary b-tree for it.
    #expect(ephemeralOpens(path, Self.insertTask) == 1)

    store = try await SQLiteTaskStore(configuration: configuration)
    // The purge reads finished tasks through the index (INDEXED BY: it fails if the condition
    // and the query's no longer match).
    let counts = try await store.purge(nowMs: t0 + 2 * day)
    #expect(counts.tasks == 1)
    #expect(try await store.get(taskID: done.id) == nil)
    try await store.close()
    #expect(userVersion(path) == latestVersion)
    #expect(ephemeralOpens(path, Self.insertTask) == 0)
    #expect(ephemeralOpens(path, "UPDATE tasks SET state = ?, finished_ms = ? WHERE rid = ?") == 0)
  }

  @Test("A version-5 file keeps its payloads in their rows; large new ones go outside")
  func upgradeFromVersion5() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var store = try await SQLiteTaskStore(configuration: .init(path: path))
    let old = try await store.submitOne(task("old"))
    try await store.close()
    // What version 5 held: a large payload in its row.
    execute(
      path,
      """
      \(Self.undoVersion7) \(Self.undoVersion6)
      UPDATE tasks SET payload = zeroblob(65536) WHERE id = '\(old.id)';
      PRAGMA user_version = 5;
      """
    )
    store = try await SQLiteTaskStore(configuration: .init(path: path))
    let new = try await store.submitOne(task("new", payload: String(repeating: "n", count: 65_536)))
    let grants = try await store.lease(
      queues: [],
      types: ["old", "new"],
      max: 2,
      workerID: "w",
      nowMs: t0
    )
    let payloads = Dictionary(uniqueKeysWithValues: grants.map { ($0.taskID, $0.payload) })
    #expect(payloads[old.id] == Data(count: 65_536))
    #expect(payloads[new.id] == Data(String(repeating: "n", count: 65_536).utf8))
    try await store.close()
    #expect(userVersion(path) == latestVersion)
  }

  @Test("A version-6 file loses its ready indexes; its PENDING tasks are leased in order")
  func upgradeFromVersion6() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    var store = try await SQLiteTaskStore(configuration: .init(path: path))
    var ids: [String] = []
    for priority: Int32 in [0, 4, 2] {
      ids.append(try await store.submitOne(task("t", priority: priority)).id)
    }
    try await store.close()
    execute(path, "\(Self.undoVersion7) PRAGMA user_version = 6;")
    #expect(userVersion(path) == 6)
    store = try await SQLiteTaskStore(configuration: .init(path: path))
    let grants = try await store.lease(queues: [], types: [], max: 10, workerID: "w", nowMs: t0)
    #expect(grants.map(\.taskID) == [ids[1], ids[2], ids[0]])
    try await store.close()
    #expect(userVersion(path) == latestVersion)
    #expect(indexNames(path).filter { $0.hasPrefix("tasks_ready") }.isEmpty)
  }

  /// The names of the file's indexes.
  func indexNames(_ path: String) -> [String] {
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    var statement: OpaquePointer?
    sqlite3_prepare_v2(
      db,
      "SELECT name FROM sqlite_master WHERE type = 'index'",
      -1,
      &statement,
      nil
    )
    defer { sqlite3_finalize(statement) }
    var names: [String] = []
    while sqlite3_step(statement) == SQLITE_ROW {
      names.append(String(cString: sqlite3_column_text(statement, 0)))
    }
    return names
  }

  /// An INSERT of a task row as the store writes one (the columns every row has).
  static let insertTask = """
    INSERT INTO tasks(id, queue, type, payload, content_type, priority, run_at_ms, idem_key,
      max_attempts, retry_kind, retry_initial_ms, retry_multiplier, retry_max_ms, retry_jitter,
      lease_duration_ms, execution_timeout_ms, metadata, parent_id, clean_on_success, created_by,
      state, attempt, created_ms, updated_ms, next_run_ms, last_seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
    """

  /// How many temporary b-trees (`OpenEphemeral`) the program of `sql` opens, by `EXPLAIN`.
  func ephemeralOpens(_ path: String, _ sql: String) -> Int {
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    var statement: OpaquePointer?
    #expect(sqlite3_prepare_v2(db, "EXPLAIN " + sql, -1, &statement, nil) == SQLITE_OK)
    defer { sqlite3_finalize(statement) }
    var count = 0
    while sqlite3_step(statement) == SQLITE_ROW {
      if String(cString: sqlite3_column_text(statement, 1)) == "OpenEphemeral" { count += 1 }
    }
    return count
  }

  /// The schema version this build migrates to.
  let latestVersion: Int32 = 7

  /// Undoes migration 7 (the ready index in the writer's memory): the table's ready indexes.
  static let undoVersion7 = """
    CREATE INDEX tasks_ready ON tasks(queue, priority DESC, run_at_ms) WHERE state = 1;
    CREATE INDEX tasks_ready_type ON tasks(queue, type, priority DESC, run_at_ms) WHERE state = 1;
    """

  /// Undoes migration 6 (payloads outside the task row), for files turned back into older
  /// versions; only for files whose payloads are all in their rows.
  static let undoVersion6 = """
    DROP TRIGGER tasks_payload_gone; DROP TABLE task_payloads;
    ALTER TABLE tasks DROP COLUMN payload_external;
    """

  /// The column names of the events table.
  func eventColumns(_ path: String) -> [String] {
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    var statement: OpaquePointer?
    sqlite3_prepare_v2(db, "PRAGMA table_info(events)", -1, &statement, nil)
    defer { sqlite3_finalize(statement) }
    var names: [String] = []
    while sqlite3_step(statement) == SQLITE_ROW {
      names.append(String(cString: sqlite3_column_text(statement, 1)))
    }
    return names
  }
}
