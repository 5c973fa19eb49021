import CSQLite
import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// A store in a fresh temporary directory, closed and removed at the end.
func withStore(
  durability: SQLiteTaskStore.Durability = .full,
  policy: StorePolicy = StorePolicy(),
  onCommit: (@Sendable ([EventRecord]) -> Void)? = nil,
  _ body: (SQLiteTaskStore) async throws -> Void
) async throws {
  let dir = try TemporaryDirectory()
  let store = try await SQLiteTaskStore(
    configuration: .init(
      path: dir.path + "/taskwire.sqlite",
      durability: durability,
      policy: policy,
      randomSeed: 42,
      onCommit: onCommit
    )
  )
  do {
    try await body(store)
  } catch {
    try await store.close()
    throw error
  }
  try await store.close()
}

/// A temporary directory, deleted when the value is released.
final class TemporaryDirectory: Sendable {
  let path: String

  init() throws {
    path =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("taskwire-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }
}

let t0: Int64 = 1_700_000_000_000

func task(
  _ type: String = "t",
  queue: String = "default",
  priority: Int32 = 0,
  runAtMs: Int64 = 0,
  key: String = "",
  payload: String = "p",
  maxAttempts: Int32 = 5,
  retry: RetryPolicy = RetryPolicy(kind: .fixed, initialMs: 1_000, maxMs: 1_000),
  leaseMs: Int64 = 30_000,
  timeoutMs: Int64 = 0,
  clean: Bool = false,
  metadata: [String: String] = [:]
) -> NewTask {
  NewTask(
    queue: queue,
    type: type,
    payload: Data(payload.utf8),
    contentType: "text/plain",
    priority: priority,
    runAtMs: runAtMs,
    idempotencyKey: key,
    maxAttempts: maxAttempts,
    retryPolicy: retry,
    leaseDurationMs: leaseMs,
    executionTimeoutMs: timeoutMs,
    metadata: metadata,
    cleanOnSuccess: clean
  )
}

extension SubmitOutcome {
  var record: TaskRecord? {
    switch self {
    case .created(let r), .existing(let r): r
    case .rejected: nil
    }
  }

  var isCreated: Bool {
    if case .created = self { return true }
    return false
  }

  var isExisting: Bool {
    if case .existing = self { return true }
    return false
  }

  var error: StoreError? {
    if case .rejected(let e) = self { return e }
    return nil
  }
}

extension SQLiteTaskStore {
  /// Submits one task that must be created.
  func submitOne(_ t: NewTask, nowMs: Int64 = t0) async throws -> TaskRecord {
    let outcome = try await submit([t], nowMs: nowMs)
    let record = try #require(outcome.first?.record)
    return record
  }
}

func expectStoreError(
  _ expected: (StoreError) -> Bool,
  sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () async throws -> Void
) async {
  do {
    try await body()
    Issue.record("expected an error", sourceLocation: sourceLocation)
  } catch let error as StoreError {
    #expect(expected(error), "unexpected \(error)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
  }
}

/// Runs `sql` on its own connection to the file at `path`.
func execute(_ path: String, _ sql: String) throws {
  var db: OpaquePointer?
  defer { sqlite3_close(db) }
  guard sqlite3_open(path, &db) == SQLITE_OK else { throw TestError("cannot open \(path)") }
  sqlite3_busy_timeout(db, 10_000)
  guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
    throw TestError(String(cString: sqlite3_errmsg(db)))
  }
}

struct TestError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
