import CSQLite
import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Listings use the indexes the schema keeps for them")
struct QueryPlanTests {
  @Test("A listing and a count by creator search tasks_created_by instead of scanning the table")
  func byCreator() async throws {
    let dir = try TemporaryDirectory()
    let path = dir.path + "/taskwire.sqlite"
    let store = try await SQLiteTaskStore(configuration: .init(path: path))
    for creator in ["alice", "bob", "alice", ""] {
      _ = try await store.submitOne(
        task(metadata: creator.isEmpty ? [:] : ["created_by": creator])
      )
    }
    let filter = TaskFilter(createdBy: "alice")
    let page = try await store.list(filter: filter, pageSize: 10, cursor: nil)
    #expect(page.tasks.count == 2)
    #expect(page.tasks.allSatisfy { $0.metadata["created_by"] == "alice" })
    #expect(try await store.count(filter: filter) == 2)
    let first = try await store.list(filter: filter, pageSize: 1, cursor: nil)
    let cursor = try #require(first.nextCursor)
    try await store.close()

    let queries = [
      SQLiteTaskStore.listQuery(filter, cursor: nil, limit: 11),
      SQLiteTaskStore.listQuery(filter, cursor: cursor, limit: 2),
      SQLiteTaskStore.countQuery(filter),
    ]
    for (sql, binds) in queries {
      let plan = try queryPlan(path: path, sql: sql, binds: binds)
      #expect(
        plan.contains("USING INDEX tasks_created_by")
          || plan.contains("USING COVERING INDEX tasks_created_by"),
        "\(sql): \(plan)"
      )
      #expect(!plan.contains("SCAN tasks"), "\(sql): \(plan)")
    }
  }
}

/// `EXPLAIN QUERY PLAN` of `sql` with `binds` bound, on a read-only connection of its own: the
/// plan's detail lines, joined.
private func queryPlan(
  path: String,
  sql: String,
  binds: [SQLiteTaskStore.Bind]
) throws -> String {
  var db: OpaquePointer?
  guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
    throw PlanError(message: "cannot open \(path)")
  }
  defer { sqlite3_close(db) }
  var statement: OpaquePointer?
  guard sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN " + sql, -1, &statement, nil) == SQLITE_OK
  else {
    throw PlanError(message: String(cString: sqlite3_errmsg(db)))
  }
  defer { sqlite3_finalize(statement) }
  let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
  for (i, bind) in binds.enumerated() {
    switch bind {
    case .text(let text): sqlite3_bind_text(statement, Int32(i + 1), text, -1, transient)
    case .int(let value): sqlite3_bind_int64(statement, Int32(i + 1), value)
    }
  }
  var details: [String] = []
  while sqlite3_step(statement) == SQLITE_ROW {
    details.append(String(cString: sqlite3_column_text(statement, 3)))
  }
  return details.joined(separator: "; ")
}

private struct PlanError: Error {
  let message: String
}
