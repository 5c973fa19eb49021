import CSQLite
import Foundation
import Logging
import Synchronization
import TaskwireStore

/// One operation for the writer.
struct WriteOperation: Sendable {
  /// Runs the operation in its own savepoint inside the group transaction. Returns whether it
  /// failed (its savepoint is then rolled back) and what to call once the group has committed
  /// (`nil`) or failed to commit (the error).
  let run: @Sendable (WriteSession) -> (failed: Bool, finish: @Sendable (StoreError?) -> Void)
  /// Answers the caller when the operation cannot run at all.
  let reject: @Sendable (StoreError) -> Void
  /// The caller's time, Unix ms, when the operation can make tasks ready: long polls parked in
  /// the writer are granted them at the latest such time of the group.
  var nowMs: Int64? = nil
}

/// A queued job for the writer thread.
enum WriterJob: Sendable {
  case write(WriteOperation)
  /// Close the connection after the queued work; then call this.
  case close(@Sendable () -> Void)
}

/// Counters of the writer, for tests and metrics.
final class WriterCounters: Sendable {
  /// Group transactions committed (each is one fsync in `full` mode).
  let commits = Atomic<Int>(0)
  /// Operations that ran inside them.
  let operations = Atomic<Int>(0)
  /// The last committed event sequence.
  let latestSequence = Atomic<UInt64>(0)
  /// Long polls parked in the writer after the last group.
  let parkedLeases = Atomic<Int>(0)
  /// Tasks committed RUNNING straight from their submit to a parked long poll.
  let handOffs = Atomic<Int>(0)
}

/// The writer thread's state: the write connection and its session. Touched only on that thread.
final class WriterContext {
  let configuration: SQLiteTaskStore.Configuration
  let counters: WriterCounters
  let checkpointer: Checkpointer
  var session: WriteSession?
  var openError: StoreError?
  var opened = false

  init(
    configuration: SQLiteTaskStore.Configuration,
    counters: WriterCounters,
    checkpointer: Checkpointer
  ) {
    self.configuration = configuration
    self.counters = counters
    self.checkpointer = checkpointer
  }

  private func open() {
    opened = true
    do throws(SQLiteError) {
      let db = try SQLiteConnection(
        path: configuration.path,
        readOnly: false,
        vfs: configuration.testing.vfs,
        stablePlans: true
      )
      do throws(SQLiteError) {
        try db.execute("PRAGMA journal_mode = WAL")
        // Checkpoints run on their own thread, not in this connection's commits.
        checkpointer.install(on: db.handle)
        let synchronous: String
        if configuration.testing.synchronousOff {
          synchronous = "OFF"
        } else {
          synchronous = configuration.durability == .full ? "FULL" : "NORMAL"
        }
        try db.execute(
          """
          PRAGMA synchronous = \(synchronous);
          PRAGMA temp_store = MEMORY;
          PRAGMA cache_size = -32768;
          PRAGMA foreign_keys = OFF;
          """
        )
        try Schema.migrate(db)
        let session = try WriteSession(
          db: db,
          policy: configuration.policy,
          seed: configuration.randomSeed
        )
        counters.latestSequence.store(session.committedSequence, ordering: .releasing)
        self.session = session
      } catch {
        db.close()
        throw error
      }
    } catch {
      configuration.logger.error("cannot open the task store", metadata: ["error": "\(error)"])
      openError = .unavailable("cannot open \(configuration.path): \(error)")
    }
  }

  func handle(_ jobs: [WriterJob]) {
    if !opened { open() }
    var group: [WriteOperation] = []
    group.reserveCapacity(jobs.count)
    for job in jobs {
      switch job {
      case .write(let operation):
        group.append(operation)
      case .close(let done):
        if !group.isEmpty { runGroup(group) }
        group.removeAll()
        session?.endParked()
        counters.parkedLeases.store(0, ordering: .relaxed)
        session?.db.close()
        session = nil
        openError = .unavailable("the task store is closed")
        done()
      }
    }
    if !group.isEmpty { runGroup(group) }
  }

  /// Group commit: every operation in its own savepoint, one COMMIT (one fsync) for all.
  private func runGroup(_ operations: [WriteOperation]) {
    guard let session else {
      let error = openError ?? .unavailable("the task store is closed")
      for operation in operations { operation.reject(error) }
      return
    }
    let db = session.db
    do {
      try db.run("BEGIN IMMEDIATE")
    } catch {
      configuration.logger.error("cannot begin a transaction", metadata: ["error": "\(error)"])
      try? db.run("ROLLBACK")
      for operation in operations { operation.reject(error.storeError) }
      return
    }
    var finishes: [@Sendable (StoreError?) -> Void] = []
    finishes.reserveCapacity(operations.count)
    var rejected: [(WriteOperation, StoreError)] = []
    var groupNowMs: Int64?
    for operation in operations {
      if let nowMs = operation.nowMs { groupNowMs = max(groupNowMs ?? nowMs, nowMs) }
      let mark = session.mark
      do {
        try db.run("SAVEPOINT op")
      } catch {
        rejected.append((operation, error.storeError))
        continue
      }
      let (failed, finish) = operation.run(session)
      if failed {
        try? db.run("ROLLBACK TO op")
        session.rollback(to: mark)
      }
      try? db.run("RELEASE op")
      finishes.append(finish)
    }
    // Long polls parked here get the tasks this group made ready, in this same transaction.
    let handedOff = session.handOffLog.count
    let served = session.serveParked(nowMs: groupNowMs ?? Self.wallMs())
    do throws(SQLiteError) {
      try session.writeGroupState()
      if let failCommit = configuration.testing.failCommit, failCommit() {
        throw SQLiteError(code: SQLITE_IOERR, message: "COMMIT failed (testing hook)")
      }
      try db.run("COMMIT")
    } catch {
      configuration.logger.error("group commit failed", metadata: ["error": "\(error)"])
      try? db.run("ROLLBACK")
      // Long polls parked by this group end with its error, like its other operations: left
      // parked, a later group could grant them tasks no caller waits for.
      let abandoned = session.groupFailed()
      for finish in finishes { finish(error.storeError) }
      for (operation, error) in rejected { operation.reject(error) }
      for (wait, _) in served { wait.resolve(.failure(error.storeError)) }
      for wait in abandoned { wait.resolve(.failure(error.storeError)) }
      counters.parkedLeases.store(session.parked.count, ordering: .relaxed)
      return
    }
    let events = session.groupCommitted()
    counters.commits.add(1, ordering: .relaxed)
    counters.operations.add(operations.count, ordering: .relaxed)
    if handedOff > 0 { counters.handOffs.add(handedOff, ordering: .relaxed) }
    counters.latestSequence.store(session.committedSequence, ordering: .releasing)
    if !events.isEmpty, let onCommit = configuration.onCommit { onCommit(events) }
    counters.parkedLeases.store(session.parked.count, ordering: .relaxed)
    for (wait, grants) in served { wait.resolve(.success(grants)) }
    for finish in finishes { finish(nil) }
    for (operation, error) in rejected { operation.reject(error) }
  }

  /// Unix ms now, for a group whose operations named no time.
  private static func wallMs() -> Int64 {
    Int64(Date().timeIntervalSince1970 * 1000)
  }
}

/// A queued job for a reader thread.
enum ReaderJob: Sendable {
  case read(@Sendable (SQLiteConnection?, StoreError?) -> Void)
  case close(@Sendable () -> Void)
}

/// A reader thread's connection, opened on first use. Touched only on that thread.
final class ReaderContext {
  let configuration: SQLiteTaskStore.Configuration
  var db: SQLiteConnection?
  var error: StoreError?

  init(configuration: SQLiteTaskStore.Configuration) {
    self.configuration = configuration
  }

  func handle(_ jobs: [ReaderJob]) {
    for job in jobs {
      switch job {
      case .read(let body):
        if db == nil, error == nil {
          do {
            let db = try SQLiteConnection(
              path: configuration.path,
              readOnly: false,
              vfs: configuration.testing.vfs
            )
            try db.execute("PRAGMA query_only = 1; PRAGMA cache_size = -16384")
            self.db = db
          } catch {
            self.error = .unavailable("cannot open \(configuration.path) for reading: \(error)")
          }
        }
        body(db, error)
      case .close(let done):
        db?.close()
        db = nil
        error = .unavailable("the task store is closed")
        done()
      }
    }
  }
}
