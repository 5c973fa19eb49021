import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore

/// The real SQLite store behind a store that cannot park long polls (it keeps the protocol's
/// default `leaseWaiting`, which answers `nil`), as the coming PostgreSQL store shared by several
/// coordinators will: the coordinator then parks polls itself and leases again when woken.
struct NonParkingStore: TaskStore {
  let base: SQLiteTaskStore

  func submit(_ tasks: [NewTask], nowMs: Int64) async throws -> [SubmitOutcome] {
    try await base.submit(tasks, nowMs: nowMs)
  }

  func submitEach(_ tasks: [NewTask], nowMs: Int64) async throws -> [SubmitOutcome] {
    try await base.submitEach(tasks, nowMs: nowMs)
  }

  func lease(queues: [String], types: [String], max: Int, workerID: String, nowMs: Int64)
    async throws -> [LeaseGrant]
  {
    try await base.lease(queues: queues, types: types, max: max, workerID: workerID, nowMs: nowMs)
  }

  func heartbeat(taskID: String, token: String, progress: ProgressUpdate?, nowMs: Int64)
    async throws -> HeartbeatOutcome
  {
    try await base.heartbeat(taskID: taskID, token: token, progress: progress, nowMs: nowMs)
  }

  func complete(_ items: [Completion], nowMs: Int64) async throws -> [Result<
    CompletionOutcome, StoreError
  >] {
    try await base.complete(items, nowMs: nowMs)
  }

  func fail(
    taskID: String,
    token: String,
    error: String,
    permanent: Bool,
    retryAfterMs: Int64?,
    nowMs: Int64
  ) async throws -> FailOutcome {
    try await base.fail(
      taskID: taskID,
      token: token,
      error: error,
      permanent: permanent,
      retryAfterMs: retryAfterMs,
      nowMs: nowMs
    )
  }

  func release(taskID: String, token: String, nowMs: Int64) async throws -> TaskState {
    try await base.release(taskID: taskID, token: token, nowMs: nowMs)
  }

  func cancelAck(taskID: String, token: String, message: String, nowMs: Int64) async throws {
    try await base.cancelAck(taskID: taskID, token: token, message: message, nowMs: nowMs)
  }

  func cancel(taskID: String, reason: String, nowMs: Int64) async throws -> CancelOutcome {
    try await base.cancel(taskID: taskID, reason: reason, nowMs: nowMs)
  }

  func retry(taskID: String, resetAttempts: Bool, nowMs: Int64) async throws -> TaskRecord {
    try await base.retry(taskID: taskID, resetAttempts: resetAttempts, nowMs: nowMs)
  }

  func delete(taskID: String, nowMs: Int64) async throws {
    try await base.delete(taskID: taskID, nowMs: nowMs)
  }

  func get(taskID: String) async throws -> TaskRecord? {
    try await base.get(taskID: taskID)
  }

  func get(taskIDs: [String]) async throws -> [TaskRecord] {
    try await base.get(taskIDs: taskIDs)
  }

  func list(filter: TaskFilter, pageSize: Int, cursor: String?) async throws -> TaskPage {
    try await base.list(filter: filter, pageSize: pageSize, cursor: cursor)
  }

  func count(filter: TaskFilter) async throws -> UInt64 {
    try await base.count(filter: filter)
  }

  func expireLeases(nowMs: Int64) async throws -> [ExpiredLease] {
    try await base.expireLeases(nowMs: nowMs)
  }

  func promoteDue(nowMs: Int64) async throws -> [String: Int] {
    try await base.promoteDue(nowMs: nowMs)
  }

  func nextDueMs() async throws -> Int64? {
    try await base.nextDueMs()
  }

  func purge(nowMs: Int64) async throws -> PurgeCounts {
    try await base.purge(nowMs: nowMs)
  }

  func stats(
    queues: [String],
    nowMs: Int64,
    stuckAfterMs: [String: Int64],
    defaultStuckAfterMs: Int64
  ) async throws -> [QueueStats] {
    try await base.stats(
      queues: queues,
      nowMs: nowMs,
      stuckAfterMs: stuckAfterMs,
      defaultStuckAfterMs: defaultStuckAfterMs
    )
  }

  func setPaused(queue: String, paused: Bool, nowMs: Int64) async throws {
    try await base.setPaused(queue: queue, paused: paused, nowMs: nowMs)
  }

  func pausedQueues() async throws -> Set<String> {
    try await base.pausedQueues()
  }

  func createToken(name: String, role: TokenRecord.Role, hash: String, nowMs: Int64) async throws
    -> TokenRecord
  {
    try await base.createToken(name: name, role: role, hash: hash, nowMs: nowMs)
  }

  func listTokens() async throws -> [TokenRecord] {
    try await base.listTokens()
  }

  func revokeToken(idOrName: String, nowMs: Int64) async throws -> TokenRecord {
    try await base.revokeToken(idOrName: idOrName, nowMs: nowMs)
  }

  func token(hash: String) async throws -> TokenRecord? {
    try await base.token(hash: hash)
  }

  func events(after: UInt64, limit: Int) async throws -> [EventRecord] {
    try await base.events(after: after, limit: limit)
  }

  func oldestRetainedSequence() async throws -> UInt64 {
    try await base.oldestRetainedSequence()
  }

  func latestSequence() async throws -> UInt64 {
    try await base.latestSequence()
  }

  func close() async throws {
    try await base.close()
  }
}
