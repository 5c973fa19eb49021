import Synchronization
import Foundation
import TaskwireCore
public import TaskwireStore

extension Coordinator {
  /// One submitted item's answer.
  public enum SubmitResult: Sendable {
    case created(TaskRecord)
    case existing(TaskRecord)
    case rejected(CallError)
  }

  /// Submits tasks atomically: either all are stored or none (each item gets its own answer).
  /// `createdBy` fills `metadata["created_by"]` when the caller did not.
  public func submit(_ specs: [SubmitSpec], createdBy: String) async throws(CallError)
    -> [SubmitResult]
  {
    try self.checkBatch(count: specs.count, of: "tasks")
    let now = self.nowMs
    var tasks: [NewTask] = []
    tasks.reserveCapacity(specs.count)
    var errors: [Int: CallError] = [:]
    for (index, spec) in specs.enumerated() {
      do throws(CallError) {
        tasks.append(try self.resolve(spec, createdBy: createdBy, nowMs: now))
      } catch {
        errors[index] = error
      }
    }
    if !errors.isEmpty {
      return specs.indices.map { index in
        .rejected(
          errors[index]
            ?? CallError(
              .failedPrecondition,
              "not applied: item \(errors.keys.min()!) was rejected"
            )
        )
      }
    }
    let outcomes = try await self.perform { try await self.store.submit(tasks, nowMs: now) }
    return outcomes.map { outcome in
      switch outcome {
      case .created(let task): .created(task)
      case .existing(let task): .existing(task)
      case .rejected(let error): .rejected(CallError(error))
      }
    }
  }

  /// Submits tasks that stand alone (pipelined single submits): each is validated and stored on
  /// its own, all in one store hand-off, so they share one commit.
  public func submitEach(_ specs: [SubmitSpec], createdBy: String) async -> [SubmitResult] {
    let now = self.nowMs
    var results = [SubmitResult?](repeating: nil, count: specs.count)
    var tasks: [NewTask] = []
    var positions: [Int] = []
    tasks.reserveCapacity(specs.count)
    for (index, spec) in specs.enumerated() {
      do throws(CallError) {
        tasks.append(try self.resolve(spec, createdBy: createdBy, nowMs: now))
        positions.append(index)
      } catch {
        results[index] = .rejected(error)
      }
    }
    if !tasks.isEmpty {
      do {
        let outcomes = try await self.store.submitEach(tasks, nowMs: now)
        for (position, outcome) in zip(positions, outcomes) {
          switch outcome {
          case .created(let task): results[position] = .created(task)
          case .existing(let task): results[position] = .existing(task)
          case .rejected(let error): results[position] = .rejected(CallError(error))
          }
        }
      } catch {
        let failure =
          (error as? StoreError).map(CallError.init)
          ?? CallError(.internal, "store failure: \(error)")
        for position in positions { results[position] = .rejected(failure) }
      }
    }
    return results.map { $0! }
  }

  /// Applies defaults and checks every field of a submitted task.
  func resolve(_ spec: SubmitSpec, createdBy: String, nowMs: Int64) throws(CallError) -> NewTask {
    let limits = self.configuration
    let queue = spec.queue.isEmpty ? "default" : spec.queue
    try checkName(queue, field: "queue")
    guard !spec.type.isEmpty else { throw CallError(.invalidArgument, "type is required") }
    try checkName(spec.type, field: "type")
    guard spec.payload.count <= limits.maxPayloadBytes else {
      throw .limit(
        "max_payload",
        limit: limits.maxPayloadBytes,
        observed: spec.payload.count,
        what: "payload size"
      )
    }
    guard spec.runAtMs >= 0, spec.delayMs >= 0 else {
      throw CallError(.invalidArgument, "run_at_ms and delay_ms must not be negative")
    }
    guard spec.maxAttempts >= 0, spec.maxAttempts <= 1_000 else {
      throw CallError(
        .invalidArgument,
        "max_attempts must be 0 (default) to 1000, got \(spec.maxAttempts)"
      )
    }
    guard spec.leaseDurationMs == 0 || (1_000...86_400_000).contains(spec.leaseDurationMs) else {
      throw CallError(
        .invalidArgument,
        "lease_duration_ms must be 0 (default) or 1000 to 86400000, got \(spec.leaseDurationMs)"
      )
    }
    guard spec.executionTimeoutMs >= 0 else {
      throw CallError(.invalidArgument, "execution_timeout_ms must not be negative")
    }
    guard spec.metadata.count <= limits.maxMetadataEntries else {
      throw .limit(
        "max_metadata_entries",
        limit: limits.maxMetadataEntries,
        observed: spec.metadata.count,
        code: .invalidArgument,
        what: "metadata entries"
      )
    }
    guard spec.idempotencyKey.utf8.count <= 256 else {
      throw CallError(.invalidArgument, "idempotency_key must be at most 256 bytes")
    }
    if let policy = spec.retryPolicy {
      guard policy.initialMs >= 0, policy.maxMs >= 0, policy.multiplier >= 0,
        (0...1).contains(policy.jitter)
      else {
        throw CallError(
          .invalidArgument,
          "retry policy: delays must be >= 0, multiplier >= 0, jitter within 0...1"
        )
      }
    }
    let defaults = limits.defaults.resolve(queue: queue, type: spec.type)
    var metadata = spec.metadata
    if metadata["created_by"] == nil, !createdBy.isEmpty { metadata["created_by"] = createdBy }
    var runAt = spec.runAtMs
    if runAt == 0, spec.delayMs > 0 { runAt = nowMs + spec.delayMs }
    var task = NewTask(
      queue: queue,
      type: spec.type,
      payload: spec.payload,
      contentType: spec.contentType,
      priority: spec.priority != 0 ? spec.priority : defaults.priority,
      runAtMs: runAt,
      idempotencyKey: spec.idempotencyKey,
      maxAttempts: spec.maxAttempts > 0 ? spec.maxAttempts : defaults.maxAttempts,
      retryPolicy: spec.retryPolicy.map { $0.filled(from: defaults.retryPolicy) }
        ?? defaults.retryPolicy,
      leaseDurationMs: spec.leaseDurationMs > 0 ? spec.leaseDurationMs : defaults.leaseDurationMs,
      executionTimeoutMs: spec.executionTimeoutMs > 0
        ? spec.executionTimeoutMs : defaults.executionTimeoutMs,
      metadata: metadata,
      parentID: spec.parentID,
      cleanOnSuccess: spec.cleanOnSuccess
    )
    if spec.runAtMs == 0 { task.requestedDelayMs = spec.delayMs }
    return task
  }

  private func checkName(_ name: String, field: String) throws(CallError) {
    guard name.utf8.count <= self.configuration.maxNameBytes else {
      throw .limit(
        "max_name_bytes",
        limit: self.configuration.maxNameBytes,
        observed: name.utf8.count,
        code: .invalidArgument,
        what: "\(field) length"
      )
    }
  }

  /// The task with its history; NOT_FOUND when there is none.
  public func get(_ id: String) async throws(CallError) -> TaskRecord {
    guard let task = try await self.perform({ try await self.store.get(taskID: id) }) else {
      throw CallError(.notFound, "no task with id \(id)")
    }
    return task
  }

  /// One page of tasks matching `filter`, in id (creation) order.
  public func list(_ filter: TaskFilter, pageSize: Int, cursor: String?) async throws(CallError)
    -> (tasks: [TaskRecord], nextCursor: String?)
  {
    let size = pageSize == 0 ? self.configuration.defaultPageSize : pageSize
    guard size <= self.configuration.maxPageSize else {
      throw .limit(
        "max_page_size",
        limit: self.configuration.maxPageSize,
        observed: size,
        code: .invalidArgument,
        what: "page size"
      )
    }
    let page = try await self.perform {
      try await self.store.list(filter: filter, pageSize: size, cursor: cursor)
    }
    return (page.tasks, page.nextCursor)
  }

  /// The number of tasks matching `filter`.
  public func count(_ filter: TaskFilter) async throws(CallError) -> UInt64 {
    try await self.perform { try await self.store.count(filter: filter) }
  }

  /// Cancels a task: at once unless it runs; a running task's worker is told at once.
  public func cancel(_ id: String, reason: String) async throws(CallError) -> TaskRecord {
    let outcome = try await self.perform {
      try await self.store.cancel(taskID: id, reason: reason, nowMs: self.nowMs)
    }
    if let notify = outcome.notify {
      self.hooks.withLock { $0.cancelRequested }?(notify.workerID, id, notify.leaseToken, reason)
    }
    return outcome.task
  }

  /// Requeues a FAILED or CANCELLED task.
  public func retry(_ id: String, resetAttempts: Bool) async throws(CallError) -> TaskRecord {
    try await self.perform {
      try await self.store.retry(taskID: id, resetAttempts: resetAttempts, nowMs: self.nowMs)
    }
  }

  /// Deletes a finished task (its idempotency key is kept for its retention).
  public func delete(_ id: String) async throws(CallError) {
    try await self.perform { try await self.store.delete(taskID: id, nowMs: self.nowMs) }
  }
}

extension RetryPolicy {
  /// Zero fields take the default's value.
  func filled(from defaults: RetryPolicy) -> RetryPolicy {
    var policy = self
    if policy.initialMs == 0 { policy.initialMs = defaults.initialMs }
    if policy.multiplier == 0 { policy.multiplier = defaults.multiplier }
    if policy.maxMs == 0 { policy.maxMs = defaults.maxMs }
    return policy
  }
}
