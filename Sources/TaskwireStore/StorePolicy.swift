/// Limits and retention every store enforces. Defaults follow the contract.
public struct StorePolicy: Sendable, Hashable {
  /// Waiting tasks (pending + scheduled + retrying) a queue may hold. Default 1,000,000.
  public var pendingLimit: Int
  /// Per-queue pending limits, over ``pendingLimit``.
  public var pendingLimits: [String: Int]
  /// How long finished tasks are kept, ms. Default 7 days.
  public var finishedRetentionMs: Int64
  /// Per-queue finished-task retention, over ``finishedRetentionMs``.
  public var finishedRetention: [String: Int64]
  /// How long events are kept, ms. Default 24 h.
  public var eventRetentionMs: Int64
  /// How many events are kept at most. Default 10,000,000.
  public var maxEvents: Int
  /// How long an idempotency key is kept after its task ends, ms. Default 24 h.
  public var idempotencyRetentionMs: Int64
  /// How many rows of each kind one purge call deletes at most (keeps the writer responsive).
  public var purgeBatch: Int
  /// Bytes of payloads (and metadata) one lease grants at most: it grants tasks in order until
  /// the next would pass this, and always at least one, so its answer fits in a frame (the
  /// server sets it below its `max_frame`). Default 3 MiB.
  public var maxLeaseBytes: Int

  /// Creates a policy; every parameter has the documented default.
  public init(
    pendingLimit: Int = 1_000_000,
    pendingLimits: [String: Int] = [:],
    finishedRetentionMs: Int64 = 7 * 24 * 3_600_000,
    finishedRetention: [String: Int64] = [:],
    eventRetentionMs: Int64 = 24 * 3_600_000,
    maxEvents: Int = 10_000_000,
    idempotencyRetentionMs: Int64 = 24 * 3_600_000,
    purgeBatch: Int = 20_000,
    maxLeaseBytes: Int = 3 * 1024 * 1024
  ) {
    self.pendingLimit = pendingLimit
    self.pendingLimits = pendingLimits
    self.finishedRetentionMs = finishedRetentionMs
    self.finishedRetention = finishedRetention
    self.eventRetentionMs = eventRetentionMs
    self.maxEvents = maxEvents
    self.idempotencyRetentionMs = idempotencyRetentionMs
    self.purgeBatch = purgeBatch
    self.maxLeaseBytes = maxLeaseBytes
  }

  /// The pending limit of `queue`.
  public func pendingLimit(for queue: String) -> Int { pendingLimits[queue] ?? pendingLimit }

  /// The finished-task retention of `queue`, ms.
  public func finishedRetention(for queue: String) -> Int64 {
    finishedRetention[queue] ?? finishedRetentionMs
  }
}
