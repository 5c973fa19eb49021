import Foundation
import TaskwireCoordinator
import TaskwireCore
import TaskwireProto
import TaskwireStore

// Conversions between the wire messages and the coordinator's and store's types. Payload and
// result bytes are handed over as the same `Data`, never re-encoded.

extension SubmitSpec {
  init(_ proto: Taskwire_V1_TaskSpec) {
    self.init()
    self.queue = proto.queue
    self.type = proto.type
    self.payload = proto.payload
    self.contentType = proto.contentType
    self.priority = proto.priority
    self.runAtMs = proto.runAtMs
    self.delayMs = proto.delayMs
    self.idempotencyKey = proto.idempotencyKey
    self.maxAttempts = proto.maxAttempts
    if proto.hasRetryPolicy {
      let policy = proto.retryPolicy
      let defaults = RetryPolicy.default
      self.retryPolicy = RetryPolicy(
        kind: policy.kind == .fixed
          ? .fixed : (policy.kind == .exponential ? .exponential : defaults.kind),
        initialMs: policy.initialMs,
        multiplier: policy.multiplier,
        maxMs: policy.maxMs,
        jitter: policy.jitter
      )
    }
    self.leaseDurationMs = proto.leaseDurationMs
    self.executionTimeoutMs = proto.executionTimeoutMs
    self.metadata = proto.metadata
    self.parentID = proto.parentID
    self.cleanOnSuccess = proto.cleanOnSuccess
  }
}

extension TaskFilter {
  init(_ proto: Taskwire_V1_TaskFilter) {
    self.init()
    self.queues = proto.queues
    self.types = proto.types
    self.states = proto.states.compactMap { TaskState(rawValue: $0.rawValue) }
    self.createdBy = proto.createdBy
    self.idempotencyKey = proto.idempotencyKey
    self.createdAfterMs = proto.createdAfterMs
    self.createdBeforeMs = proto.createdBeforeMs
  }
}

extension Completion {
  init(_ proto: Taskwire_V1_CompleteRequest) {
    self.init(
      taskID: proto.taskID,
      token: proto.leaseToken,
      result: proto.result,
      contentType: proto.contentType
    )
  }
}

extension TaskState {
  var proto: Taskwire_V1_TaskState {
    Taskwire_V1_TaskState(rawValue: self.rawValue) ?? .unspecified
  }
}

extension TaskRecord {
  /// The wire form; `includeBodies` adds payload and result (Get), which list and submit answers
  /// leave out to stay small.
  func proto(includeBodies: Bool) -> Taskwire_V1_Task {
    var task = Taskwire_V1_Task()
    task.id = self.id
    var spec = Taskwire_V1_TaskSpec()
    spec.queue = self.queue
    spec.type = self.type
    if includeBodies { spec.payload = self.payload }
    spec.contentType = self.contentType
    spec.priority = self.priority
    spec.runAtMs = self.runAtMs
    spec.idempotencyKey = self.idempotencyKey
    spec.maxAttempts = self.maxAttempts
    spec.retryPolicy.kind = self.retryPolicy.kind == .fixed ? .fixed : .exponential
    spec.retryPolicy.initialMs = self.retryPolicy.initialMs
    spec.retryPolicy.multiplier = self.retryPolicy.multiplier
    spec.retryPolicy.maxMs = self.retryPolicy.maxMs
    spec.retryPolicy.jitter = self.retryPolicy.jitter
    spec.leaseDurationMs = self.leaseDurationMs
    spec.executionTimeoutMs = self.executionTimeoutMs
    spec.metadata = self.metadata
    spec.parentID = self.parentID
    spec.cleanOnSuccess = self.cleanOnSuccess
    task.spec = spec
    task.state = self.state.proto
    task.attempt = self.attempt
    task.progress = self.progress
    task.progressMessage = self.progressMessage
    task.lastError = self.lastError
    if includeBodies { task.result = self.result }
    task.resultContentType = self.resultContentType
    task.workerID = self.workerID
    task.leaseDeadlineMs = self.leaseDeadlineMs
    task.createdMs = self.createdMs
    task.startedMs = self.startedMs
    task.finishedMs = self.finishedMs
    task.updatedMs = self.updatedMs
    task.nextRunMs = self.nextRunMs
    task.cancelRequested = self.cancelRequested
    task.attempts = self.attempts.map(\.proto)
    task.sequence = self.sequence
    return task
  }
}

extension TaskRecord {
  /// The wire form of a brief submit answer (`SubmitRequest.brief`): id, state, times and
  /// sequence only.
  var briefProto: Taskwire_V1_Task {
    var task = Taskwire_V1_Task()
    task.id = self.id
    task.state = self.state.proto
    task.createdMs = self.createdMs
    task.updatedMs = self.updatedMs
    task.sequence = self.sequence
    return task
  }

  /// The wire form a submit answers with: brief or full (without bodies).
  func submitProto(brief: Bool) -> Taskwire_V1_Task {
    brief ? self.briefProto : self.proto(includeBodies: false)
  }
}

extension AttemptRecord {
  var proto: Taskwire_V1_Attempt {
    var attempt = Taskwire_V1_Attempt()
    attempt.number = self.number
    attempt.workerID = self.workerID
    attempt.startedMs = self.startedMs
    attempt.endedMs = self.endedMs
    attempt.durationMs = self.durationMs
    attempt.outcome = self.outcome.name
    attempt.error = self.error
    attempt.resultSize = UInt64(max(0, self.resultSize))
    return attempt
  }
}

extension AttemptRecord.Outcome {
  /// The documented outcome names of `Attempt.outcome`.
  var name: String {
    switch self {
    case .running: "running"
    case .succeeded: "succeeded"
    case .failed: "failed"
    case .leaseExpired: "lease_expired"
    case .timedOut: "timed_out"
    case .cancelled: "cancelled"
    case .released: "released"
    }
  }
}

extension EventRecord {
  var proto: Taskwire_V1_WatchEvent {
    var event = Taskwire_V1_WatchEvent()
    event.sequence = self.sequence
    event.taskID = self.taskID
    event.kind = self.kind.proto
    event.state = self.state.proto
    event.attempt = self.attempt
    event.progress = self.progress
    event.message = self.message
    event.error = self.error
    event.resultSize = UInt64(max(0, self.resultSize))
    event.timeMs = self.timeMs
    event.queue = self.queue
    event.type = self.type
    event.nextRunMs = self.nextRunMs
    return event
  }
}

extension EventRecord.Kind {
  var proto: Taskwire_V1_EventKind {
    switch self {
    case .created: .created
    case .stateChanged: .stateChanged
    case .progress: .progress
    case .retryScheduled: .retryScheduled
    case .cancelRequested: .cancelRequested
    case .finished: .finished
    case .deleted: .deleted
    }
  }
}

extension LeaseGrant {
  var proto: Taskwire_V1_LeasedTask {
    var task = Taskwire_V1_LeasedTask()
    task.id = self.taskID
    task.queue = self.queue
    task.type = self.type
    task.payload = self.payload
    task.contentType = self.contentType
    task.attempt = self.attempt
    task.maxAttempts = self.maxAttempts
    task.metadata = self.metadata
    task.leaseToken = self.leaseToken
    task.leaseDeadlineMs = self.leaseDeadlineMs
    task.leaseDurationMs = self.leaseDurationMs
    task.executionTimeoutMs = self.executionTimeoutMs
    task.parentID = self.parentID
    task.priority = self.priority
    return task
  }
}

extension QueueStats {
  var proto: Taskwire_V1_QueueStats {
    var stats = Taskwire_V1_QueueStats()
    stats.queue = self.queue
    stats.paused = self.paused
    stats.pending = self.counts[.pending, default: 0]
    stats.scheduled = self.counts[.scheduled, default: 0]
    stats.running = self.counts[.running, default: 0]
    stats.retrying = self.counts[.retrying, default: 0]
    stats.succeeded = self.counts[.succeeded, default: 0]
    stats.failed = self.counts[.failed, default: 0]
    stats.cancelled = self.counts[.cancelled, default: 0]
    stats.stuck = self.stuck
    stats.oldestPendingMs = self.oldestPendingMs
    return stats
  }
}

extension WorkerInfo {
  var proto: Taskwire_V1_WorkerInfo {
    var worker = Taskwire_V1_WorkerInfo()
    worker.id = self.id
    worker.name = self.name
    worker.address = self.address
    worker.queues = self.queues
    worker.tasksHeld = UInt32(self.taskIDs.count)
    worker.lastHeartbeatMs = self.lastHeartbeatMs
    worker.connectedMs = self.connectedMs
    worker.taskIds = self.taskIDs.sorted()
    return worker
  }
}

extension TokenRecord {
  var proto: Taskwire_V1_TokenInfo {
    var token = Taskwire_V1_TokenInfo()
    token.id = self.id
    token.name = self.name
    token.role = self.role.proto
    token.createdMs = self.createdMs
    token.revokedMs = self.revokedMs
    return token
  }
}

extension TokenRecord.Role {
  var proto: Taskwire_V1_Role {
    switch self {
    case .client: .client
    case .worker: .worker
    case .admin: .admin
    }
  }
}

extension Principal.Role {
  var proto: Taskwire_V1_Role {
    switch self {
    case .client: .client
    case .worker: .worker
    case .admin: .admin
    }
  }
}

extension Taskwire_V1_Role {
  var principalRole: Principal.Role? {
    switch self {
    case .client: .client
    case .worker: .worker
    case .admin: .admin
    case .unspecified, .UNRECOGNIZED: nil
    }
  }
}
