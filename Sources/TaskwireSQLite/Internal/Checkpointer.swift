import CSQLite
import Foundation
import Logging
import Synchronization

/// Runs the WAL's checkpoints on a thread and connection of their own, so the writer never
/// stops to copy pages into the database file (and, in `full` mode, to sync it).
///
/// The writer's connection has SQLite's auto-checkpoint turned off; its WAL hook calls
/// ``request()`` after each commit that leaves at least ``frameThreshold`` frames in the WAL
/// (SQLite's own auto-checkpoint threshold), and this thread runs a PASSIVE checkpoint, which
/// waits for no reader or writer. When a checkpoint has copied every frame, the writer starts
/// the WAL over from its beginning at its next commit, as with auto-checkpoints.
///
/// Under a steady stream of commits a checkpoint running beside the writer may never find the
/// WAL copied whole, and the WAL would keep growing: past ``writerFrameLimit`` frames, the
/// writer checkpoints itself after its commit, as SQLite's auto-checkpoint does, which bounds
/// the WAL (``writerCheckpoints`` counts these).
final class Checkpointer: Sendable {
  /// Frames in the WAL after a commit that start a checkpoint.
  static let frameThreshold: Int32 = 1_000
  /// Frames in the WAL after a commit past which the writer checkpoints itself.
  static let writerFrameLimit: Int32 = 4_000

  /// Checkpoints the writer ran itself (the WAL passed ``writerFrameLimit``).
  let writerCheckpoints = Atomic<Int>(0)

  private let path: String
  private let vfs: String?
  private let logger: Logger
  private let wakeup = DispatchSemaphore(value: 0)
  private let finished = DispatchSemaphore(value: 0)
  private let requested = Atomic<Bool>(false)
  private let stopped = Atomic<Bool>(false)
  private let checkpoints = Atomic<Int>(0)

  init(path: String, vfs: String?, logger: Logger) {
    self.path = path
    self.vfs = vfs
    self.logger = logger
    let thread = Thread { [self] in self.run() }
    thread.name = "taskwire-sqlite-checkpoint"
    thread.start()
  }

  /// Checkpoints run so far on this thread.
  var completed: Int { checkpoints.load(ordering: .relaxed) }

  /// Asks for a checkpoint (at most one waits; a request during a checkpoint starts another).
  func request() {
    guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
    wakeup.signal()
  }

  /// Stops the thread after the checkpoint it is running, and closes its connection.
  func stop() {
    guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
    wakeup.signal()
    finished.wait()
  }

  /// Points the WAL hook of the writer's connection `db` at this checkpointer, in place of
  /// SQLite's auto-checkpoint. The checkpointer must outlive the connection.
  func install(on db: OpaquePointer) {
    sqlite3_wal_autocheckpoint(db, 0)
    sqlite3_wal_hook(db, checkpointerWALHook, Unmanaged.passUnretained(self).toOpaque())
  }

  private func run() {
    var connection: SQLiteConnection?
    while true {
      wakeup.wait()
      if stopped.load(ordering: .acquiring) { break }
      requested.store(false, ordering: .releasing)
      do throws(SQLiteError) {
        if connection == nil {
          connection = try SQLiteConnection(path: path, readOnly: false, vfs: vfs)
        }
        let rc = sqlite3_wal_checkpoint_v2(
          connection!.handle,
          nil,
          SQLITE_CHECKPOINT_PASSIVE,
          nil,
          nil
        )
        if rc != SQLITE_OK && rc != SQLITE_BUSY {
          throw SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(connection!.handle)))
        }
      } catch {
        // The next commit past the threshold asks again; the WAL only grows meanwhile.
        logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
        connection?.close()
        connection = nil
      }
      checkpoints.add(1, ordering: .relaxed)
    }
    connection?.close()
    finished.signal()
  }
}

/// The writer connection's WAL hook: after a commit, `frames` is the number of frames in the WAL.
private func checkpointerWALHook(
  context: UnsafeMutableRawPointer?,
  db: OpaquePointer?,
  name: UnsafePointer<CChar>?,
  frames: Int32
) -> Int32 {
  guard frames >= Checkpointer.frameThreshold, let context else { return SQLITE_OK }
  let checkpointer = Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue()
  if frames >= Checkpointer.writerFrameLimit, let db {
    // What SQLite's auto-checkpoint hook does; its error is the next commit's to meet.
    if sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
      checkpointer.writerCheckpoints.add(1, ordering: .relaxed)
    }
  } else {
    checkpointer.request()
  }
  return SQLITE_OK
}
