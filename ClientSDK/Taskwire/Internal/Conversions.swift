import Foundation
import TaskwireProto
import TaskwireWire

// Conversions between the SDK's public types and the wire messages. Payload bytes pass through
// as the same `Data`, never re-encoded.

extension Date {
  /// `nil` for the wire's "unset" 0.
  init?(unixMilliseconds ms: Int64) {
    guard ms != 0 else { return nil }
    self.init(timeIntervalSince1970: Double(ms) / 1000)
  }

  var unixMilliseconds: Int64 {
    Int64((self.timeIntervalSince1970 * 1000).rounded())
  }
}

extension TaskOptions {
  func spec(type: String, payload: Data, contentType: String) -> Taskwire_V1_TaskSpec {
    var spec = Taskwire_V1_TaskSpec()
    spec.queue = self.queue ?? ""
    spec.type = type
    spec.payload = payload
    spec.contentType = contentType
    spec.priority = self.priority
    if let runAt = self.runAt {
      spec.runAtMs = runAt.unixMilliseconds
    } else if let delay = self.delay {
      spec.delayMs = delay.milliseconds
    }
    spec.idempotencyKey = self.idempotencyKey ?? ""
    spec.maxAttempts = self.maxAttempts ?? 0
    if let policy = self.retryPolicy {
      var retry = Taskwire_V1_RetryPolicy()
      retry.kind = policy.kind == .fixed ? .fixed : .exponential
      retry.initialMs = policy.initial.milliseconds
      retry.multiplier = policy.multiplier
      retry.maxMs = policy.maximum.milliseconds
      retry.jitter = policy.jitter
      spec.retryPolicy = retry
    }
    spec.leaseDurationMs = self.leaseDuration?.milliseconds ?? 0
    spec.executionTimeoutMs = self.executionTimeout?.milliseconds ?? 0
    spec.metadata = self.metadata
    spec.parentID = self.parent?.rawValue ?? ""
    spec.cleanOnSuccess = self.cleanOnSuccess
    return spec
  }
}

extension TaskFilter {
  var proto: Taskwire_V1_TaskFilter {
    var filter = Taskwire_V1_TaskFilter()
    filter.queues = self.queues
    filter.types = self.types
    filter.states = self.states.map(\.wire)
    filter.createdBy = self.createdBy ?? ""
    filter.idempotencyKey = self.idempotencyKey ?? ""
    filter.createdAfterMs = self.createdAfter?.unixMilliseconds ?? 0
    filter.createdBeforeMs = self.createdBefore?.unixMilliseconds ?? 0
    return filter
  }
}

extension TaskSnapshot {
  init(_ task: Taskwire_V1_Task) {
    let spec = task.spec
    self.init(
      id: TaskID(task.id),
      queue: spec.queue,
      type: spec.type,
      state: TaskState(task.state),
      attempt: task.attempt,
      maxAttempts: spec.maxAttempts,
      priority: spec.priority,
      progress: task.progress,
      progressMessage: task.progressMessage,
      lastError: task.lastError,
      payload: spec.payload.isEmpty ? nil : spec.payload,
      contentType: spec.contentType,
      result: task.result.isEmpty ? nil : task.result,
      resultContentType: task.resultContentType,
      workerID: task.workerID,
      leaseDeadline: Date(unixMilliseconds: task.leaseDeadlineMs),
      cancelRequested: task.cancelRequested,
      metadata: spec.metadata,
      idempotencyKey: spec.idempotencyKey,
      parent: spec.parentID.isEmpty ? nil : TaskID(spec.parentID),
      created: Date(unixMilliseconds: task.createdMs),
      started: Date(unixMilliseconds: task.startedMs),
      finished: Date(unixMilliseconds: task.finishedMs),
      updated: Date(unixMilliseconds: task.updatedMs),
      nextRun: Date(unixMilliseconds: task.nextRunMs),
      attempts: task.attempts.map {
        Attempt(
          number: $0.number,
          workerID: $0.workerID,
          started: Date(unixMilliseconds: $0.startedMs),
          ended: Date(unixMilliseconds: $0.endedMs),
          outcome: $0.outcome,
          error: $0.error,
          resultSize: $0.resultSize
        )
      },
      sequence: task.sequence
    )
  }
}

extension TaskEvent {
  init(_ event: Taskwire_V1_WatchEvent) {
    let snapshot = event.hasTask ? TaskSnapshot(event.task) : nil
    self.init(
      sequence: max(event.sequence, snapshot?.sequence ?? 0),
      taskID: TaskID(event.taskID.isEmpty ? (snapshot?.id.rawValue ?? "") : event.taskID),
      kind: Kind(event.kind),
      state: event.state == .unspecified && snapshot != nil
        ? snapshot!.state : TaskState(event.state),
      attempt: snapshot?.attempt ?? event.attempt,
      progress: snapshot?.progress ?? event.progress,
      progressMessage: snapshot?.progressMessage ?? event.message,
      error: event.error,
      resultSize: event.resultSize,
      time: Date(unixMilliseconds: event.timeMs),
      queue: event.queue,
      type: event.type,
      nextRun: Date(unixMilliseconds: event.nextRunMs),
      snapshot: snapshot
    )
  }
}

extension QueueStats {
  init(_ stats: Taskwire_V1_QueueStats) {
    self.init(
      queue: stats.queue,
      paused: stats.paused,
      pending: stats.pending,
      scheduled: stats.scheduled,
      running: stats.running,
      retrying: stats.retrying,
      succeeded: stats.succeeded,
      failed: stats.failed,
      cancelled: stats.cancelled,
      stuck: stats.stuck,
      oldestPending: Date(unixMilliseconds: stats.oldestPendingMs)
    )
  }
}

extension WorkerInfo {
  init(_ info: Taskwire_V1_WorkerInfo) {
    self.init(
      id: info.id,
      name: info.name,
      address: info.address,
      queues: info.queues,
      taskIDs: info.taskIds.map { TaskID($0) },
      lastHeartbeat: Date(unixMilliseconds: info.lastHeartbeatMs),
      connected: Date(unixMilliseconds: info.connectedMs)
    )
  }
}

extension TokenInfo {
  init(_ info: Taskwire_V1_TokenInfo) {
    self.init(
      id: info.id,
      name: info.name,
      role: Role(info.role),
      created: Date(unixMilliseconds: info.createdMs),
      revoked: Date(unixMilliseconds: info.revokedMs)
    )
  }
}

extension Taskwire_V1_Frame.OneOf_Body {
  /// The name of the body case, for "unexpected answer" errors.
  var caseName: String {
    String(describing: self).prefix { $0 != "(" }.description
  }
}

/// An answer of the wrong kind: a server bug.
func unexpectedAnswer(_ body: Taskwire_V1_Frame.OneOf_Body, expected: String) -> TaskwireError {
  TaskwireError(
    code: .internal,
    message: "expected \(expected), the server answered \(body.caseName)"
  )
}
