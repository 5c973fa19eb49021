public import TaskwireCore

extension Coordinator {
  /// Rules and limits of the coordinator, with their documented defaults.
  public struct Configuration: Sendable {
    /// Per-queue and per-type task defaults (max attempts 5, exponential backoff 1 s × 2 capped at
    /// 5 min ±20 %, lease 30 s, no execution timeout, priority 0).
    public var defaults: DefaultsTable
    /// Largest payload or result: 1 MiB.
    public var maxPayloadBytes: Int = 1024 * 1024
    /// Tasks in one submit batch, or completions in one complete batch: 1,000.
    public var maxBatchSize: Int = 1_000
    /// Tasks one lease call may take: 256.
    public var maxLeaseTasks: Int = 256
    /// Longest long poll: 60 s (longer waits are clamped).
    public var maxLeaseWaitMs: Int64 = 60_000
    /// Default and largest list page: 100 and 1,000.
    public var defaultPageSize: Int = 100
    public var maxPageSize: Int = 1_000
    /// How often the sweeper runs at least: 1 s.
    public var sweepIntervalMs: Int64 = 1_000
    /// Retention purges run this often: 60 s.
    public var purgeIntervalMs: Int64 = 60_000
    /// A task pending longer than this many lease durations is reported stuck: 10.
    public var stuckAfterLeaseMultiples: Int64 = 10
    /// Progress events per task are coalesced to at most one per this window: 100 ms.
    public var progressWindowMs: Int64 = 100
    /// Length limits for names: queue and type 200 bytes, metadata 64 entries.
    public var maxNameBytes: Int = 200
    public var maxMetadataEntries: Int = 64

    /// The defaults.
    public init(defaults: DefaultsTable = DefaultsTable()) {
      self.defaults = defaults
    }
  }
}
