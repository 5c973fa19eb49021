public import Logging
public import TaskwireStore

extension SQLiteTaskStore {
  /// When an acknowledged write is safe.
  public enum Durability: Sendable, Hashable {
    /// fsync before every acknowledgement (WAL, `synchronous=FULL`), shared by a whole group
    /// commit. Survives power loss.
    case full
    /// Acknowledge once the write reaches the OS (`synchronous=NORMAL`); the WAL file is
    /// `fdatasync`ed from a second descriptor at least every 50 ms. Survives a process crash; a
    /// power cut may lose the last 50 ms.
    case relaxed
  }

  /// Everything the SQLite store needs; every field has a documented default.
  public struct Configuration: Sendable {
    /// The database file, e.g. `DATA_DIR/taskwire.sqlite` (`-wal` and `-shm` files sit beside it).
    public var path: String
    /// When writes are acknowledged. Default `.full`.
    public var durability: Durability
    /// Pending limits and retention.
    public var policy: StorePolicy
    /// Seed for retry jitter; `nil` (default) seeds from the system's random numbers.
    public var randomSeed: UInt64?
    /// How many read connections (each on its own thread). Default 1.
    public var readers: Int
    /// `relaxed` mode's WAL sync interval, ms. Default 50.
    public var relaxedSyncIntervalMs: Int
    /// Called after each commit with its events, in sequence order, never concurrently, on the
    /// writer thread before the callers are answered: keep it cheap (hand the events off).
    public var onCommit: (@Sendable ([EventRecord]) -> Void)?
    /// Where the store logs.
    public var logger: Logger
    /// Hooks for power-loss tests; leave them alone in production.
    public var testing: TestingHooks

    /// Creates a configuration.
    public init(
      path: String,
      durability: Durability = .full,
      policy: StorePolicy = StorePolicy(),
      randomSeed: UInt64? = nil,
      readers: Int = 1,
      relaxedSyncIntervalMs: Int = 50,
      onCommit: (@Sendable ([EventRecord]) -> Void)? = nil,
      logger: Logger = Logger(label: "taskwire.sqlite"),
      testing: TestingHooks = TestingHooks()
    ) {
      self.path = path
      self.durability = durability
      self.policy = policy
      self.randomSeed = randomSeed
      self.readers = readers
      self.relaxedSyncIntervalMs = relaxedSyncIntervalMs
      self.onCommit = onCommit
      self.logger = logger
      self.testing = testing
    }
  }

  /// Testing hooks (power-cut tests). Production code leaves every field at its default.
  public struct TestingHooks: Sendable {
    /// The SQLite VFS the writer opens the file with (`nil`: the default, `unix`).
    public var vfs: String?
    /// Forces `synchronous=OFF`, to show that a power-cut test can fail.
    public var synchronousOff: Bool
    /// `relaxed` mode: do not start the background WAL sync; the test calls
    /// ``SQLiteTaskStore/syncWAL()`` itself.
    public var manualWALSync: Bool
    /// `relaxed` mode: called with the WAL file's path instead of `fdatasync`, so a test VFS can
    /// model the sync.
    public var walSync: (@Sendable (String) -> Void)?
    /// Asked before each group's COMMIT; `true` fails that group as a failed COMMIT would (the
    /// writer rolls it back and every operation in it gets the error).
    public var failCommit: (@Sendable () -> Bool)?

    /// Creates hooks; the defaults change nothing.
    public init(
      vfs: String? = nil,
      synchronousOff: Bool = false,
      manualWALSync: Bool = false,
      walSync: (@Sendable (String) -> Void)? = nil,
      failCommit: (@Sendable () -> Bool)? = nil
    ) {
      self.vfs = vfs
      self.synchronousOff = synchronousOff
      self.manualWALSync = manualWALSync
      self.walSync = walSync
      self.failCommit = failCommit
    }
  }
}
