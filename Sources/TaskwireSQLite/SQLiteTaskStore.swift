import CSQLite
import Foundation
import Logging
import Synchronization
public import TaskwireCore
public import TaskwireStore

/// The embedded task store: one SQLite file in WAL mode.
///
/// One writer thread owns the write connection. Callers enqueue operations and await their
/// commit: the writer takes everything queued, runs each operation in its own savepoint inside
/// one `BEGIN IMMEDIATE … COMMIT`, commits once (one fsync for the whole group in `full` mode)
/// and then answers every caller (group commit). Reads run on their own connections and threads.
/// Call ``close()`` when done.
public final class SQLiteTaskStore: TaskStore {
  /// The configuration the store was opened with.
  public let configuration: Configuration
  private let counters = WriterCounters()
  private let writer: JobThread<WriterJob>
  private let readers: [JobThread<ReaderJob>]
  private let nextReader = Atomic<Int>(0)
  private let closed = Atomic<Bool>(false)
  private let walSync: WALSync?
  private let checkpointer: Checkpointer

  /// Opens (creating if needed) the database and applies pending migrations.
  public init(configuration: Configuration) async throws {
    self.configuration = configuration
    let checkpointer = Checkpointer(
      path: configuration.path,
      vfs: configuration.testing.vfs,
      logger: configuration.logger
    )
    self.checkpointer = checkpointer
    let writerContext = ThreadConfined(
      WriterContext(configuration: configuration, counters: counters, checkpointer: checkpointer)
    )
    self.writer = JobThread(
      name: "taskwire-sqlite-writer",
      handler: { jobs in writerContext.value.handle(jobs) },
      finish: {}
    )
    self.readers = (0..<max(configuration.readers, 1)).map { index in
      let context = ThreadConfined(ReaderContext(configuration: configuration))
      return JobThread(
        name: "taskwire-sqlite-reader-\(index)",
        handler: { jobs in context.value.handle(jobs) },
        finish: {}
      )
    }
    if configuration.durability == .relaxed && !configuration.testing.synchronousOff {
      self.walSync = WALSync(
        path: configuration.path + "-wal",
        intervalMs: configuration.testing.manualWALSync ? nil : configuration.relaxedSyncIntervalMs,
        hook: configuration.testing.walSync
      )
    } else {
      self.walSync = nil
    }
    do {
      // The first job opens the connection and migrates; its error is the open error.
      try await write { _ in () }
    } catch {
      try? await close()
      throw error
    }
  }

  deinit {
    // A store dropped without `close()`: finish the queued work and stop the threads anyway.
    if !closed.exchange(true, ordering: .acquiringAndReleasing) {
      if writer.enqueue(.close({})) { writer.close() }
      for reader in readers where reader.enqueue(.close({})) { reader.close() }
      checkpointer.stop()
      walSync?.stop()
    }
  }

  /// Group transactions committed so far (each one fsync in `full` mode).
  public var commitCount: Int { counters.commits.load(ordering: .relaxed) }

  /// The sequence of the newest committed event (what ``latestSequence()`` returns).
  public var latestCommittedSequence: UInt64 { counters.latestSequence.load(ordering: .acquiring) }

  /// Long polls parked in the writer as of the last committed group (they wait for tasks); may
  /// include polls that ended since the writer last looked (at most twice the live ones + 64).
  public var parkedLeaseCount: Int { counters.parkedLeases.load(ordering: .relaxed) }

  /// Tasks committed so far straight from their submit to a waiting long poll (inserted RUNNING:
  /// their queue had nothing else ready and a parked poll fitted them).
  public var handOffCount: Int { counters.handOffs.load(ordering: .relaxed) }

  /// WAL checkpoints completed so far on the store's checkpoint thread.
  public var checkpointCount: Int { checkpointer.completed }

  /// WAL checkpoints the writer ran itself, because the WAL had grown past 4,000 frames while
  /// the checkpoint thread could not copy it whole (a steady stream of commits).
  public var writerCheckpointCount: Int {
    checkpointer.writerCheckpoints.load(ordering: .relaxed)
  }

  /// Write operations committed so far.
  public var operationCount: Int { counters.operations.load(ordering: .relaxed) }

  /// `relaxed` mode: `fdatasync`s the WAL file now (the background sync does this at least every
  /// 50 ms). Does nothing in `full` mode.
  public func syncWAL() {
    walSync?.sync()
  }

  // MARK: Plumbing

  /// Runs `body` on the writer inside the next group commit; returns after the commit. `nowMs`:
  /// the caller's time when the operation can make tasks ready (see ``WriteOperation/nowMs``).
  func write<T: Sendable>(
    at nowMs: Int64? = nil,
    _ body: @escaping @Sendable (WriteSession) throws -> T
  ) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
      let operation = WriteOperation(
        run: { session in
          do {
            let value = try body(session)
            return (
              false,
              { commitError in
                if let commitError {
                  continuation.resume(throwing: commitError)
                } else {
                  continuation.resume(returning: value)
                }
              }
            )
          } catch {
            let storeError = Self.storeError(error)
            return (true, { _ in continuation.resume(throwing: storeError) })
          }
        },
        reject: { continuation.resume(throwing: $0) },
        nowMs: nowMs
      )
      if !writer.enqueue(.write(operation)) {
        continuation.resume(throwing: StoreError.unavailable("the task store is closed"))
      }
    }
  }

  /// Runs `body` on a read connection.
  func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws
    -> T
  {
    let index = nextReader.add(1, ordering: .relaxed).oldValue % readers.count
    return try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<T, any Error>) in
      let job = ReaderJob.read { db, error in
        guard let db else {
          continuation.resume(throwing: error ?? .unavailable("the task store is closed"))
          return
        }
        do {
          continuation.resume(returning: try body(db))
        } catch {
          continuation.resume(throwing: Self.storeError(error))
        }
      }
      if !readers[index].enqueue(job) {
        continuation.resume(throwing: StoreError.unavailable("the task store is closed"))
      }
    }
  }

  static func storeError(_ error: any Error) -> StoreError {
    if let error = error as? StoreError { return error }
    if let error = error as? SQLiteError { return error.storeError }
    return .internal("\(error)")
  }

  // MARK: TaskStore: writes

  public func submit(_ tasks: [NewTask], nowMs: Int64) async throws -> [SubmitOutcome] {
    if tasks.isEmpty { return [] }
    return try await write(at: nowMs) { try $0.submit(tasks, nowMs: nowMs) }
  }

  public func submitEach(_ tasks: [NewTask], nowMs: Int64) async throws -> [SubmitOutcome] {
    if tasks.isEmpty { return [] }
    // Each item stands alone (a refused one leaves no trace, the others stand); refusals are
    // decided before any row is written, so the items need no savepoint of their own.
    return try await write(at: nowMs) { try $0.submit(tasks, nowMs: nowMs, independently: true) }
  }

  public func lease(queues: [String], types: [String], max: Int, workerID: String, nowMs: Int64)
    async throws -> [LeaseGrant]
  {
    try await write(at: nowMs) {
      try $0.lease(queues: queues, types: types, max: max, workerID: workerID, nowMs: nowMs)
    }
  }

  public func leaseWaiting(
    queues: [String],
    types: [String],
    max: Int,
    workerID: String,
    nowMs: Int64,
    until deadline: ContinuousClock.Instant,
    wait: LeaseWait
  ) async throws -> [LeaseGrant]? {
    let grants = try await write(at: nowMs) {
      try $0.leaseOrPark(
        queues: queues,
        types: types,
        max: max,
        workerID: workerID,
        nowMs: nowMs,
        wait: wait
      )
    }
    if !grants.isEmpty { return grants }
    // Parked in the writer (or withdrawn already): a group that makes tasks ready for it grants
    // them in its own transaction; the deadline or a cancel withdraws it.
    return try await withTaskCancellationHandler {
      try await wait.value(until: deadline)
    } onCancel: {
      wait.withdraw()
    }
  }

  public func heartbeat(taskID: String, token: String, progress: ProgressUpdate?, nowMs: Int64)
    async throws -> HeartbeatOutcome
  {
    try await write(at: nowMs) {
      try $0.heartbeat(taskID: taskID, token: token, progress: progress, nowMs: nowMs)
    }
  }

  public func complete(_ items: [Completion], nowMs: Int64) async throws -> [Result<
    CompletionOutcome, StoreError
  >] {
    try await write(at: nowMs) { try $0.complete(items, nowMs: nowMs) }
  }

  public func fail(
    taskID: String,
    token: String,
    error: String,
    permanent: Bool,
    retryAfterMs: Int64?,
    nowMs: Int64
  ) async throws -> FailOutcome {
    try await write(at: nowMs) {
      try $0.fail(
        taskID: taskID,
        token: token,
        error: error,
        permanent: permanent,
        retryAfterMs: retryAfterMs,
        nowMs: nowMs
      )
    }
  }

  public func release(taskID: String, token: String, nowMs: Int64) async throws -> TaskState {
    try await write(at: nowMs) { try $0.release(taskID: taskID, token: token, nowMs: nowMs) }
  }

  public func cancelAck(taskID: String, token: String, message: String, nowMs: Int64) async throws {
    try await write(at: nowMs) {
      try $0.cancelAck(taskID: taskID, token: token, message: message, nowMs: nowMs)
    }
  }

  public func cancel(taskID: String, reason: String, nowMs: Int64) async throws -> CancelOutcome {
    try await write(at: nowMs) { try $0.cancel(taskID: taskID, reason: reason, nowMs: nowMs) }
  }

  public func retry(taskID: String, resetAttempts: Bool, nowMs: Int64) async throws -> TaskRecord {
    try await write(at: nowMs) {
      try $0.retry(taskID: taskID, resetAttempts: resetAttempts, nowMs: nowMs)
    }
  }

  public func delete(taskID: String, nowMs: Int64) async throws {
    try await write(at: nowMs) { try $0.delete(taskID: taskID, nowMs: nowMs) }
  }

  public func expireLeases(nowMs: Int64) async throws -> [ExpiredLease] {
    try await write(at: nowMs) { try $0.expireLeases(nowMs: nowMs) }
  }

  public func promoteDue(nowMs: Int64) async throws -> [String: Int] {
    try await write(at: nowMs) { try $0.promoteDue(nowMs: nowMs) }
  }

  public func purge(nowMs: Int64) async throws -> PurgeCounts {
    try await write(at: nowMs) { try $0.purge(nowMs: nowMs) }
  }

  public func setPaused(queue: String, paused: Bool, nowMs: Int64) async throws {
    try await write(at: nowMs) { try $0.setPausedFlag(queue: queue, paused: paused) }
  }

  public func createToken(name: String, role: TokenRecord.Role, hash: String, nowMs: Int64)
    async throws -> TokenRecord
  {
    try await write(at: nowMs) {
      try $0.createToken(name: name, role: role, hash: hash, nowMs: nowMs)
    }
  }

  public func revokeToken(idOrName: String, nowMs: Int64) async throws -> TokenRecord {
    try await write(at: nowMs) { try $0.revokeToken(idOrName: idOrName, nowMs: nowMs) }
  }

  // MARK: Closing

  public func close() async throws {
    guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      if writer.enqueue(.close({ continuation.resume() })) {
        writer.close()
      } else {
        continuation.resume()
      }
    }
    // The writer's connection is closed: no commit asks for a checkpoint any more.
    checkpointer.stop()
    for reader in readers {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        if reader.enqueue(.close({ continuation.resume() })) {
          reader.close()
        } else {
          continuation.resume()
        }
      }
    }
    walSync?.stop()
  }
}
