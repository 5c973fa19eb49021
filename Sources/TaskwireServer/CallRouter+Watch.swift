import TaskwireCoordinator
import SwiftProtobuf
import TaskwireProto
import TaskwireStore
import TaskwireWire

extension CallRouter {
  /// Runs a watch stream until it ends; returns the status for its `stream_end`.
  func watch(
    _ proto: Taskwire_V1_WatchRequest,
    context: CallContext,
    cancellation: CallCancellation,
    send: @escaping @Sendable ([Taskwire_V1_WatchEvent]) async -> Void
  ) async -> WireStatus {
    guard proto.taskIds.count <= 1_000 else {
      return .limit(
        "max_watch_ids",
        limit: 1_000,
        observed: proto.taskIds.count,
        code: .invalidArgument,
        what: "task ids in one watch"
      )
    }
    guard proto.filter.idempotencyKey.isEmpty else {
      return WireStatus(
        .invalidArgument,
        "watch filters by queue, type, state and created_by (or task ids); idempotency_key filters list and count only (get the task's id from Submit or List and watch it by id)"
      )
    }
    var request = WatchRequest()
    request.taskIDs = proto.taskIds
    request.filter = TaskFilter(proto.filter)
    request.afterSequence = proto.afterSequence
    let end = await self.coordinator.watchHub.watch(
      request,
      stop: { await cancellation.wait() },
      send: { items in await send(items.map(\.proto)) }
    )
    switch end {
    case .cancelled(let resumeFrom):
      if cancellation.reason == .shutdown {
        var status = WireStatus(
          .unavailable,
          "server is shutting down; resume from sequence \(resumeFrom)"
        )
        status.resumeFrom = resumeFrom
        return status
      }
      return WireStatus(.cancelled, "watch cancelled by the client")
    case .lagging(let resumeFrom, let limit):
      var status = WireStatus(
        .resourceExhausted,
        "lagging: the watcher fell behind its \(limit); resume from sequence \(resumeFrom)"
      )
      status.resumeFrom = resumeFrom
      status.limitName = "watch_buffer"
      return status
    case .snapshotRequired(let oldest):
      var status = WireStatus(
        .failedPrecondition,
        "resume point \(proto.afterSequence) is older than the events kept (oldest \(oldest)); take a fresh snapshot"
      )
      status.snapshotRequired = true
      return status
    case .shutdown(let resumeFrom):
      var status = WireStatus(
        .unavailable,
        "server is shutting down; resume from sequence \(resumeFrom)"
      )
      status.resumeFrom = resumeFrom
      return status
    case .failed(let error):
      return WireStatus(error)
    }
  }
}

extension WatchItem {
  var proto: Taskwire_V1_WatchEvent {
    switch self {
    case .snapshot(let task):
      var event = Taskwire_V1_WatchEvent()
      event.sequence = task.sequence
      event.taskID = task.id
      event.kind = .snapshot
      event.state = task.state.proto
      event.attempt = Int32(task.attempt)
      event.progress = Int32(task.progress)
      event.message = task.progressMessage
      event.error = task.lastError
      event.resultSize = UInt64(task.result.count)
      event.timeMs = task.updatedMs
      event.queue = task.queue
      event.type = task.type
      event.nextRunMs = task.nextRunMs
      event.task = task.proto(includeBodies: false)
      return event
    case .event(let record):
      return record.proto
    }
  }
}
