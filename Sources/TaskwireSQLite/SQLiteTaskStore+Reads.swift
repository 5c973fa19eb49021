import CSQLite
import Foundation
import TaskwireCore
public import TaskwireStore

extension SQLiteTaskStore {
  public func get(taskID: String) async throws -> TaskRecord? {
    try await read { db in try TaskRow.load(db, id: taskID, withAttempts: true) }
  }

  public func get(taskIDs: [String]) async throws -> [TaskRecord] {
    try await read { db in
      // One read transaction: every row comes from the same WAL snapshot.
      try db.execute("BEGIN")
      do {
        let tasks = try taskIDs.compactMap { try TaskRow.load(db, id: $0, withAttempts: true) }
        try db.execute("COMMIT")
        return tasks
      } catch {
        try? db.execute("ROLLBACK")
        throw error
      }
    }
  }

  public func list(filter: TaskFilter, pageSize: Int, cursor: String?) async throws -> TaskPage {
    let limit = min(max(pageSize, 1), 1_000)
    return try await read { db in
      let (sql, binds) = Self.listQuery(filter, cursor: cursor, limit: limit + 1)
      let s = try db.prepareOnce(sql)
      Self.bind(binds, to: s)
      var tasks: [TaskRecord] = []
      while try s.step() { tasks.append(TaskRow.decode(s)) }
      s.reset()
      var next: String?
      if tasks.count > limit {
        tasks.removeLast()
        next = tasks.last?.id
      }
      return TaskPage(tasks: tasks, nextCursor: next)
    }
  }

  public func count(filter: TaskFilter) async throws -> UInt64 {
    try await read { db in
      let onlyQueueAndState =
        filter.types.isEmpty && filter.createdBy.isEmpty && filter.idempotencyKey.isEmpty
        && filter.createdAfterMs == 0 && filter.createdBeforeMs == 0
      if onlyQueueAndState {
        // Served from the per-queue counters, O(queues).
        let states = filter.states.isEmpty ? TaskState.allCases : filter.states
        let sum = Set(states).map { Self.counterColumn($0) }.joined(separator: " + ")
        var sql = "SELECT coalesce(sum(\(sum)), 0) FROM queues"
        if !filter.queues.isEmpty {
          sql +=
            " WHERE name IN (\(Array(repeating: "?", count: filter.queues.count).joined(separator: ", ")))"
        }
        let s = try db.prepareOnce(sql)
        for (i, queue) in filter.queues.enumerated() { s.bind(Int32(i), queue) }
        return try s.step() ? UInt64(max(s.int64(0), 0)) : 0
      }
      let (sql, binds) = Self.countQuery(filter)
      let s = try db.prepareOnce(sql)
      Self.bind(binds, to: s)
      defer { s.reset() }
      return try s.step() ? UInt64(s.int64(0)) : 0
    }
  }

  public func nextDueMs() async throws -> Int64? {
    try await read { db in
      let due = try db.scalar(
        "SELECT min(next_run_ms) FROM tasks INDEXED BY tasks_due WHERE state IN (2, 4)"
      )
      let expire = try db.scalar(
        "SELECT min(expire_ms) FROM tasks INDEXED BY tasks_expire WHERE state = 3"
      )
      switch (due, expire) {
      case (nil, nil): return nil
      case (let a?, nil): return a
      case (nil, let b?): return b
      case (let a?, let b?): return min(a, b)
      }
    }
  }

  public func stats(
    queues: [String],
    nowMs: Int64,
    stuckAfterMs: [String: Int64],
    defaultStuckAfterMs: Int64
  ) async throws -> [QueueStats] {
    var rows = try await read { db in
      var rows: [QueueStats] = []
      let s = try db.statement(
        """
        SELECT name, paused, pending, scheduled, running, retrying, succeeded, failed, cancelled
        FROM queues ORDER BY name
        """
      )
      while try s.step() {
        let name = s.string(0)
        if !queues.isEmpty && !queues.contains(name) { continue }
        var counts: [TaskState: UInt64] = [:]
        for state in TaskState.allCases {
          counts[state] = UInt64(max(s.int64(Int32(state.rawValue) + 1), 0))
        }
        rows.append(
          QueueStats(queue: name, paused: s.bool(1), counts: counts, stuck: 0, oldestPendingMs: 0)
        )
      }
      s.reset()
      return rows
    }
    // The PENDING tasks' ages come from the writer's ready index (the table has no index of
    // them): one pass over each queue's entries there.
    let pendingQueues = rows.filter { ($0.counts[.pending] ?? 0) > 0 }.map {
      (queue: $0.queue, threshold: nowMs - (stuckAfterMs[$0.queue] ?? defaultStuckAfterMs))
    }
    if !pendingQueues.isEmpty {
      let ages = try await write { session in
        pendingQueues.map { session.ready.age(of: $0.queue, threshold: $0.threshold) }
      }
      var byQueue: [String: (oldestMs: Int64, atOrBefore: Int)] = [:]
      for (i, age) in ages.enumerated() { byQueue[pendingQueues[i].queue] = age }
      for i in rows.indices {
        guard let age = byQueue[rows[i].queue] else { continue }
        rows[i].oldestPendingMs = age.oldestMs
        rows[i].stuck = UInt64(age.atOrBefore)
      }
    }
    for queue in queues where !rows.contains(where: { $0.queue == queue }) {
      var counts: [TaskState: UInt64] = [:]
      for state in TaskState.allCases { counts[state] = 0 }
      rows.append(
        QueueStats(queue: queue, paused: false, counts: counts, stuck: 0, oldestPendingMs: 0)
      )
    }
    return rows
  }

  public func pausedQueues() async throws -> Set<String> {
    try await read { db in
      let s = try db.statement("SELECT name FROM queues WHERE paused = 1")
      var names = Set<String>()
      while try s.step() { names.insert(s.string(0)) }
      s.reset()
      return names
    }
  }

  public func listTokens() async throws -> [TokenRecord] {
    try await read { db in
      let s = try db.statement(
        dynamic: "SELECT \(TaskRow.tokenColumns) FROM tokens ORDER BY created_ms, id"
      )
      var tokens: [TokenRecord] = []
      while try s.step() { tokens.append(TaskRow.decodeToken(s)) }
      s.reset()
      return tokens
    }
  }

  public func token(hash: String) async throws -> TokenRecord? {
    try await read { db in
      let s = try db.statement(
        dynamic:
          "SELECT \(TaskRow.tokenColumns) FROM tokens WHERE hash = ? AND revoked_ms = 0 LIMIT 1"
      )
      s.bind(0, hash)
      defer { s.reset() }
      return try s.step() ? TaskRow.decodeToken(s) : nil
    }
  }

  public func events(after: UInt64, limit: Int) async throws -> [EventRecord] {
    let limit = max(limit, 0)
    if limit == 0 { return [] }
    return try await read { db in
      let s = try db.statement(
        dynamic: "SELECT \(TaskRow.eventColumns) FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
      )
      s.bind(0, Int64(clamping: after))
      s.bind(1, limit)
      var events: [EventRecord] = []
      while try s.step() { events.append(TaskRow.decodeEvent(s)) }
      s.reset()
      return events
    }
  }

  public func oldestRetainedSequence() async throws -> UInt64 {
    try await read { db in
      if let oldest = try db.scalar("SELECT min(seq) FROM events") { return UInt64(oldest) }
      let last = try db.scalar("SELECT value FROM meta WHERE key = 'last_event_seq'") ?? 0
      return UInt64(last) + 1
    }
  }

  public func latestSequence() async throws -> UInt64 {
    // The writer publishes the sequence right after each commit: no read connection needed.
    latestCommittedSequence
  }

  // MARK: Filters

  package enum Bind: Sendable {
    case text(String)
    case int(Int64)
  }

  static func bind(_ binds: [Bind], to s: SQLiteStatement) {
    for (i, value) in binds.enumerated() {
      switch value {
      case .text(let text): s.bind(Int32(i), text)
      case .int(let int): s.bind(Int32(i), int)
      }
    }
  }

  /// The SQL (and its bindings) of a ``list(filter:pageSize:cursor:)`` page of `limit` rows.
  package static func listQuery(
    _ filter: TaskFilter,
    cursor: String?,
    limit: Int
  ) -> (sql: String, binds: [Bind]) {
    var (clause, binds) = Self.whereClause(filter)
    if let cursor, !cursor.isEmpty {
      clause += clause.isEmpty ? " WHERE " : " AND "
      clause += "id > ?"
      binds.append(.text(cursor))
    }
    return ("SELECT \(TaskRow.columns) FROM tasks\(clause) ORDER BY id LIMIT \(limit)", binds)
  }

  /// The SQL (and its bindings) of a ``count(filter:)`` that the queue counters cannot answer.
  package static func countQuery(_ filter: TaskFilter) -> (sql: String, binds: [Bind]) {
    let (clause, binds) = Self.whereClause(filter)
    return ("SELECT count(*) FROM tasks\(clause)", binds)
  }

  static func whereClause(_ filter: TaskFilter) -> (String, [Bind]) {
    var terms: [String] = []
    var binds: [Bind] = []
    func list(_ column: String, _ values: [Bind]) {
      guard !values.isEmpty else { return }
      terms.append(
        "\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ", ")))"
      )
      binds.append(contentsOf: values)
    }
    list("queue", filter.queues.map { .text($0) })
    list("type", filter.types.map { .text($0) })
    list("state", filter.states.map { .int(Int64($0.rawValue)) })
    if !filter.createdBy.isEmpty {
      // The first term lets SQLite use the partial index `tasks_created_by` (WHERE created_by
      // <> ''): it does not infer that from `created_by = ?`, so without it a listing by
      // creator scanned the table while every submit paid for the index.
      terms.append("created_by <> '' AND created_by = ?")
      binds.append(.text(filter.createdBy))
    }
    if !filter.idempotencyKey.isEmpty {
      terms.append("idem_key = ?")
      binds.append(.text(filter.idempotencyKey))
    }
    if filter.createdAfterMs != 0 {
      terms.append("created_ms >= ?")
      binds.append(.int(filter.createdAfterMs))
    }
    if filter.createdBeforeMs != 0 {
      terms.append("created_ms < ?")
      binds.append(.int(filter.createdBeforeMs))
    }
    return (terms.isEmpty ? "" : " WHERE " + terms.joined(separator: " AND "), binds)
  }

  static func counterColumn(_ state: TaskState) -> String {
    switch state {
    case .pending: "pending"
    case .scheduled: "scheduled"
    case .running: "running"
    case .retrying: "retrying"
    case .succeeded: "succeeded"
    case .failed: "failed"
    case .cancelled: "cancelled"
    }
  }
}
