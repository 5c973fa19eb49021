import CSQLite
import Foundation
import TaskwireStore

/// An error from SQLite, with its result code.
struct SQLiteError: Error, CustomStringConvertible {
  var code: Int32
  var message: String

  var description: String { "SQLite error \(code): \(message)" }

  var storeError: StoreError { .internal(description) }
}

/// `SQLITE_TRANSIENT`: SQLite copies the bound value before the call returns.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection with a cache of prepared statements. Not thread-safe: it belongs to the
/// one thread that opened it (the writer or a reader).
final class SQLiteConnection {
  let handle: OpaquePointer
  private var cache: [String: SQLiteStatement] = [:]
  private var literalCache: [UnsafeRawPointer: SQLiteStatement] = [:]

  /// Process-wide SQLite settings, applied once before the first connection opens.
  private static let configured: Bool = taskwire_sqlite3_disable_memstatus() == SQLITE_OK

  /// - Parameter stablePlans: plans that never depend on bound values (SQLite's query planner
  ///   stability guarantee). The writer's statements need no value-dependent plan (each names
  ///   its index or reads by key), and without it every statement with `LIMIT ?` is re-parsed
  ///   and re-planned on each use: clearing its bindings marks it expired. Readers keep
  ///   value-dependent plans (a listing's `state = ?` may match a partial index).
  init(path: String, readOnly: Bool, vfs: String?, stablePlans: Bool = false) throws(SQLiteError) {
    _ = Self.configured
    var db: OpaquePointer?
    let flags =
      (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
      | SQLITE_OPEN_NOMUTEX
    let rc = sqlite3_open_v2(path, &db, flags, vfs)
    guard rc == SQLITE_OK, let db else {
      let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)"
      if let db { sqlite3_close_v2(db) }
      throw SQLiteError(code: rc, message: message)
    }
    self.handle = db
    // The writer runs many small statements per task: room for their small allocations. (A
    // no-op in builds with SQLITE_OMIT_LOOKASIDE, such as Debian's libsqlite3; ours has it.)
    _ = taskwire_sqlite3_lookaside(db, 1_200, readOnly ? 128 : 1_024)
    if stablePlans { _ = taskwire_sqlite3_stable_plans(db) }
    sqlite3_extended_result_codes(db, 1)
    sqlite3_busy_timeout(db, 10_000)
  }

  /// Finalizes every statement and closes; errors are ignored (used after I/O failures too).
  func close() {
    for statement in cache.values { statement.finalize() }
    for statement in literalCache.values { statement.finalize() }
    cache.removeAll()
    literalCache.removeAll()
    sqlite3_close_v2(handle)
  }

  func error(_ rc: Int32) -> SQLiteError {
    SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
  }

  /// Runs SQL without results (several statements allowed).
  func execute(_ sql: String) throws(SQLiteError) {
    var message: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(handle, sql, nil, nil, &message)
    if rc != SQLITE_OK {
      let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
      sqlite3_free(message)
      throw SQLiteError(code: rc, message: text)
    }
  }

  /// The cached prepared statement for the literal `sql`, reset and with its bindings cleared.
  ///
  /// Cached by the literal's address: hashing the text of every statement on every call cost the
  /// writer a few microseconds per task.
  func statement(_ sql: StaticString) throws(SQLiteError) -> SQLiteStatement {
    precondition(sql.hasPointerRepresentation, "SQL must be a string literal")
    let key = UnsafeRawPointer(sql.utf8Start)
    if let cached = literalCache[key] {
      cached.reset()
      return cached
    }
    let statement = try prepare(sql.description)
    literalCache[key] = statement
    return statement
  }

  /// The cached prepared statement for SQL built at run time from a bounded set of texts (never
  /// from user input: every distinct text stays cached).
  func statement(dynamic sql: String) throws(SQLiteError) -> SQLiteStatement {
    if let cached = cache[sql] {
      cached.reset()
      return cached
    }
    let statement = try prepare(sql)
    cache[sql] = statement
    return statement
  }

  private func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
    var raw: OpaquePointer?
    let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
    guard rc == SQLITE_OK, let raw else { throw error(rc) }
    return SQLiteStatement(raw, connection: self)
  }

  /// A statement prepared for one use (dynamic SQL); it is finalized when released, never cached.
  func prepareOnce(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
    var raw: OpaquePointer?
    let rc = sqlite3_prepare_v2(handle, sql, -1, &raw, nil)
    guard rc == SQLITE_OK, let raw else { throw error(rc) }
    return SQLiteStatement(raw, connection: self, owned: true)
  }

  /// Runs one statement that returns no rows.
  func run(_ sql: StaticString, _ bind: (SQLiteStatement) -> Void = { _ in }) throws(SQLiteError) {
    let statement = try statement(sql)
    bind(statement)
    _ = try statement.step()
    statement.reset()
  }

  /// Runs one statement built at run time (see ``statement(dynamic:)``) that returns no rows.
  func run(dynamic sql: String, _ bind: (SQLiteStatement) -> Void) throws(SQLiteError) {
    let statement = try statement(dynamic: sql)
    bind(statement)
    _ = try statement.step()
    statement.reset()
  }

  /// The first column of the first row as an integer, or `nil` (no row or NULL).
  func scalar(_ sql: StaticString, _ bind: (SQLiteStatement) -> Void = { _ in }) throws(SQLiteError)
    -> Int64?
  {
    let statement = try statement(sql)
    bind(statement)
    defer { statement.reset() }
    guard try statement.step(), !statement.isNull(0) else { return nil }
    return statement.int64(0)
  }

  var changes: Int { Int(sqlite3_changes(handle)) }
  /// The rowid of the last row inserted on this connection.
  var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}

/// A prepared statement. Binding indexes and column indexes are 0-based here.
final class SQLiteStatement {
  let raw: OpaquePointer
  unowned let connection: SQLiteConnection
  /// Finalized on release (one-use statements); cached ones are finalized by their connection.
  private let owned: Bool

  init(_ raw: OpaquePointer, connection: SQLiteConnection, owned: Bool = false) {
    self.raw = raw
    self.connection = connection
    self.owned = owned
  }

  deinit {
    if owned { sqlite3_finalize(raw) }
  }

  func finalize() { sqlite3_finalize(raw) }

  func reset() {
    sqlite3_reset(raw)
    sqlite3_clear_bindings(raw)
  }

  /// Advances; `true` when a row is available, `false` when done.
  func step() throws(SQLiteError) -> Bool {
    let rc = sqlite3_step(raw)
    if rc == SQLITE_ROW { return true }
    if rc == SQLITE_DONE { return false }
    let error = connection.error(rc)
    sqlite3_reset(raw)
    throw error
  }

  // MARK: Binding (0-based)

  func bind(_ i: Int32, _ value: Int64) { sqlite3_bind_int64(raw, i + 1, value) }
  func bind(_ i: Int32, _ value: Int32) { sqlite3_bind_int64(raw, i + 1, Int64(value)) }
  func bind(_ i: Int32, _ value: Int) { sqlite3_bind_int64(raw, i + 1, Int64(value)) }
  func bind(_ i: Int32, _ value: Bool) { sqlite3_bind_int64(raw, i + 1, value ? 1 : 0) }
  func bind(_ i: Int32, _ value: Double) { sqlite3_bind_double(raw, i + 1, value) }
  func bind(_ i: Int32, _ value: String) {
    if value.isEmpty {
      sqlite3_bind_text(raw, i + 1, "", 0, sqliteTransient)
      return
    }
    var value = value
    value.withUTF8 { utf8 in
      _ = utf8.withMemoryRebound(to: CChar.self) {
        sqlite3_bind_text(raw, i + 1, $0.baseAddress, Int32($0.count), sqliteTransient)
      }
    }
  }
  func bind(_ i: Int32, _ value: Data) {
    value.withUnsafeBytes { bytes in
      _ = sqlite3_bind_blob(
        raw,
        i + 1,
        bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
        Int32(bytes.count),
        sqliteTransient
      )
    }
  }
  /// Binds `bytes` without copying them (`SQLITE_STATIC`): the caller steps and resets the
  /// statement before `bytes` go out of scope (a payload is then read straight from the `Data`
  /// it was decoded into).
  func bind(_ i: Int32, borrowing bytes: UnsafeRawBufferPointer) {
    sqlite3_bind_blob(
      raw,
      i + 1,
      bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
      Int32(bytes.count),
      nil
    )
  }
  func bind(_ i: Int32, bytes value: [UInt8]) {
    value.withUnsafeBytes { bytes in
      _ = sqlite3_bind_blob(
        raw,
        i + 1,
        bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
        Int32(bytes.count),
        sqliteTransient
      )
    }
  }
  func bindNull(_ i: Int32) { sqlite3_bind_null(raw, i + 1) }
  /// Binds `value`, or NULL when it is 0.
  func bind(_ i: Int32, nullIfZero value: Int64) {
    if value == 0 { bindNull(i) } else { bind(i, value) }
  }

  // MARK: Columns (0-based)

  func isNull(_ i: Int32) -> Bool { sqlite3_column_type(raw, i) == SQLITE_NULL }
  func int64(_ i: Int32) -> Int64 { sqlite3_column_int64(raw, i) }
  func int32(_ i: Int32) -> Int32 { Int32(truncatingIfNeeded: sqlite3_column_int64(raw, i)) }
  func int(_ i: Int32) -> Int { Int(sqlite3_column_int64(raw, i)) }
  func bool(_ i: Int32) -> Bool { sqlite3_column_int64(raw, i) != 0 }
  func double(_ i: Int32) -> Double { sqlite3_column_double(raw, i) }
  func string(_ i: Int32) -> String {
    guard let text = sqlite3_column_text(raw, i) else { return "" }
    let count = Int(sqlite3_column_bytes(raw, i))
    return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
  }
  func data(_ i: Int32) -> Data {
    guard let blob = sqlite3_column_blob(raw, i) else { return Data() }
    return Data(bytes: blob, count: Int(sqlite3_column_bytes(raw, i)))
  }
  func bytes(_ i: Int32) -> [UInt8] {
    guard let blob = sqlite3_column_blob(raw, i) else { return [] }
    let count = Int(sqlite3_column_bytes(raw, i))
    return Array(UnsafeRawBufferPointer(start: blob, count: count))
  }
}
