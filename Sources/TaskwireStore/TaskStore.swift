public import TaskwireCore

/// The durable home of tasks, as a set of atomic operations (never CRUD), so that each can be one
/// transaction in SQLite or one statement in PostgreSQL shared by many coordinators.
///
/// Every state change appends its events in the same transaction; the store assigns their
/// sequence numbers (store-wide, strictly increasing, in commit order, with no gap a reader could
/// see fill later). Every method that changes state returns only after the change is durable by
/// the store's durability setting. Errors thrown are ``StoreError``s. Times are Unix ms passed in
/// by the caller (`nowMs`), so tests drive them.
public protocol TaskStore: Sendable {
  /// Stores a batch atomically: either every item is stored (or found by its idempotency key), or
  /// none is and the refused items say why (the others: `.failedPrecondition("not applied…")`).
  /// A run-at after `nowMs` makes the task SCHEDULED, otherwise PENDING.
  func submit(_ tasks: [NewTask], nowMs: Int64) async throws -> [SubmitOutcome]

  /// Submits tasks that stand alone (pipelined single submits from one read burst): each item in
  /// its own savepoint, so a refused item leaves no trace and the others stand — all in one
  /// hand-off to the writer and one commit.
  func submitEach(_ tasks: [NewTask], nowMs: Int64) async throws -> [SubmitOutcome]

  /// Leases up to `max` PENDING tasks from the named queues (all queues when empty) that are not
  /// paused, of the named types (all when empty), in order of priority (higher first), run-at,
  /// then submission. Each grant has a fresh token and a deadline `nowMs + leaseDurationMs`.
  func lease(queues: [String], types: [String], max: Int, workerID: String, nowMs: Int64)
    async throws -> [LeaseGrant]

  /// Leases like ``lease(queues:types:max:workerID:nowMs:)``; when nothing is ready, parks
  /// `wait` in the store until tasks for it become ready, `deadline` passes or `wait` is
  /// withdrawn. A parked wait is granted tasks in the same transaction that makes them ready (a
  /// submit, a promotion, a release, a resumed queue), so a submit reaches a waiting worker with
  /// one commit. Returns the grants (empty at the deadline or when withdrawn), or `nil` when this
  /// store cannot wait this way: the caller then parks on its own and leases again when woken.
  func leaseWaiting(
    queues: [String],
    types: [String],
    max: Int,
    workerID: String,
    nowMs: Int64,
    until deadline: ContinuousClock.Instant,
    wait: LeaseWait
  ) async throws -> [LeaseGrant]?

  /// Extends a lease (and records progress when given). A stale token: `.leaseLost`.
  func heartbeat(taskID: String, token: String, progress: ProgressUpdate?, nowMs: Int64)
    async throws -> HeartbeatOutcome

  /// Completes tasks; each item stands alone. A repeat with the token that already completed the
  /// task succeeds again (`repeated`); any other stale token: `.leaseLost`.
  func complete(_ items: [Completion], nowMs: Int64) async throws -> [Result<
    CompletionOutcome, StoreError
  >]

  /// Records a failed attempt: RETRYING (next run by policy, or `retryAfterMs` from now when
  /// given) while attempts are left and the error is not `permanent`, else FAILED; CANCELLED if a
  /// cancel was requested. A repeat with the token that already failed it gets the same answer.
  func fail(
    taskID: String,
    token: String,
    error: String,
    permanent: Bool,
    retryAfterMs: Int64?,
    nowMs: Int64
  ) async throws -> FailOutcome

  /// Hands a lease back without using the attempt: PENDING again (CANCELLED if a cancel was
  /// requested). Returns the new state.
  func release(taskID: String, token: String, nowMs: Int64) async throws -> TaskState

  /// The worker stopped because of a cancel: the task ends CANCELLED.
  func cancelAck(taskID: String, token: String, message: String, nowMs: Int64) async throws

  /// Cancels a task: PENDING/SCHEDULED/RETRYING end CANCELLED at once; RUNNING gets
  /// *cancel requested* and `notify` names the worker to tell (repeatable); finished:
  /// `.failedPrecondition`.
  func cancel(taskID: String, reason: String, nowMs: Int64) async throws -> CancelOutcome

  /// Requeues a FAILED or CANCELLED task as PENDING, optionally with its attempt count reset.
  func retry(taskID: String, resetAttempts: Bool, nowMs: Int64) async throws -> TaskRecord

  /// Deletes a finished task (its idempotency key stays until it expires).
  func delete(taskID: String, nowMs: Int64) async throws

  /// A task with its attempt history, or `nil`.
  func get(taskID: String) async throws -> TaskRecord?

  /// The tasks of `taskIDs` that exist, with their attempt histories, in the order given, all
  /// read at one point in time (one consistent snapshot: no commit falls between two of them).
  /// A watch by ids starts from these, so a change made between two separate reads cannot be
  /// hidden behind a later task's snapshot.
  func get(taskIDs: [String]) async throws -> [TaskRecord]

  /// Tasks matching `filter` in id order, `pageSize` at most, after `cursor`.
  func list(filter: TaskFilter, pageSize: Int, cursor: String?) async throws -> TaskPage

  /// How many tasks match `filter`.
  func count(filter: TaskFilter) async throws -> UInt64

  /// Ends attempts whose lease deadline or execution timeout has passed: retried by policy,
  /// FAILED when attempts are exhausted, CANCELLED when a cancel was requested.
  func expireLeases(nowMs: Int64) async throws -> [ExpiredLease]

  /// Makes SCHEDULED and RETRYING tasks whose time has come PENDING; returns counts per queue.
  func promoteDue(nowMs: Int64) async throws -> [String: Int]

  /// The earliest next-run time or lease deadline (or execution-timeout deadline), for a timer.
  func nextDueMs() async throws -> Int64?

  /// Deletes what retention allows: finished tasks, expired idempotency keys, old events. Each
  /// kind is bounded per call (`PurgeCounts.more` asks for another call soon); retention
  /// deletions append no events.
  func purge(nowMs: Int64) async throws -> PurgeCounts

  /// Counts for the named queues (all known queues when empty). A pending task is *stuck* when
  /// it has been ready for longer than `stuckAfterMs[queue] ?? defaultStuckAfterMs`.
  func stats(
    queues: [String],
    nowMs: Int64,
    stuckAfterMs: [String: Int64],
    defaultStuckAfterMs: Int64
  ) async throws -> [QueueStats]

  /// Pauses or resumes leasing from a queue.
  func setPaused(queue: String, paused: Bool, nowMs: Int64) async throws

  /// The paused queues.
  func pausedQueues() async throws -> Set<String>

  /// Stores a token (its hash). An active token with the same name: `.alreadyExists`.
  func createToken(name: String, role: TokenRecord.Role, hash: String, nowMs: Int64) async throws
    -> TokenRecord

  /// Every token, revoked ones included.
  func listTokens() async throws -> [TokenRecord]

  /// Revokes the active token with this id or name.
  func revokeToken(idOrName: String, nowMs: Int64) async throws -> TokenRecord

  /// The active token with this hash, or `nil`.
  func token(hash: String) async throws -> TokenRecord?

  /// Events with a sequence above `after`, in order, `limit` at most.
  func events(after: UInt64, limit: Int) async throws -> [EventRecord]

  /// The smallest sequence still kept (`latestSequence() + 1` when none is kept).
  func oldestRetainedSequence() async throws -> UInt64

  /// The sequence of the newest event (0 before any).
  func latestSequence() async throws -> UInt64

  /// Finishes queued work, makes it durable and closes; later calls throw `.unavailable`.
  func close() async throws
}

extension TaskStore {
  /// Stores that cannot park leases: `nil` (the caller waits on its own and polls when woken).
  public func leaseWaiting(
    queues: [String],
    types: [String],
    max: Int,
    workerID: String,
    nowMs: Int64,
    until deadline: ContinuousClock.Instant,
    wait: LeaseWait
  ) async throws -> [LeaseGrant]? {
    nil
  }
}
