import Foundation
import Logging
import TaskwireProto

extension TaskwireClient {
  /// Watches tasks by id: first one ``TaskEvent/Kind/snapshot`` per task (its current state),
  /// then every change, live.
  ///
  /// The sequence resumes by itself — after falling behind (the server's buffer or this
  /// client's ``Configuration/watchBufferLimit``), after a reconnect, after a server restart —
  /// from the last event it delivered, so nothing is missed and nothing repeats. When the server
  /// no longer keeps the events after that point (24 h or 10 million events), it starts over
  /// with a fresh snapshot of every task. Ending the iteration (or cancelling its task) ends the
  /// server stream. It never ends by itself: stop when you saw what you wait for.
  ///
  /// - Parameter after: resume after this sequence instead (no snapshots).
  public func watch(_ ids: [TaskID], after: UInt64? = nil) -> TaskEventSequence {
    var request = Taskwire_V1_WatchRequest()
    request.taskIds = ids.map(\.rawValue)
    return TaskEventSequence(client: self, request: request, after: after ?? 0)
  }

  /// Watches one task by id; see ``watch(_:after:)``.
  public func watch(_ id: TaskID) -> TaskEventSequence {
    self.watch([id])
  }

  /// Watches every task matching `filter` (no snapshots), live, or replaying events after the
  /// sequence `after` first. Resumes by itself like ``watch(_:after:)``, with every event once.
  ///
  /// When the events after the point to resume from are no longer kept (24 h or 10 million
  /// events), the iteration throws ``TaskwireError`` `failedPrecondition` with
  /// ``TaskwireError/snapshotRequired``: events were missed; read the current state with
  /// ``list(filter:pageSize:)`` and watch again.
  ///
  /// The filter's queues, types, states and ``TaskFilter/createdBy`` apply, to the replay as to
  /// the live events; an ``TaskFilter/idempotencyKey`` is refused (`invalidArgument`).
  public func watch(filter: TaskFilter, after: UInt64? = nil) -> TaskEventSequence {
    var request = Taskwire_V1_WatchRequest()
    request.filter = filter.proto
    return TaskEventSequence(client: self, request: request, after: after ?? 0)
  }

  /// Waits for the task to finish and returns its final snapshot, with its result.
  ///
  /// - Throws: ``TaskFailure`` when it ended `FAILED` or `CANCELLED`; ``TaskwireError``
  ///   `notFound` when it does not exist or was deleted.
  public func waitForCompletion(of id: TaskID) async throws -> TaskSnapshot {
    for try await event in self.watch(id) {
      if event.kind == .deleted {
        throw TaskwireError(code: .notFound, message: "task \(id) was deleted")
      }
      if event.state.isTerminal
        && (event.kind == .finished || event.kind == .snapshot || event.kind == .stateChanged)
      {
        break
      }
    }
    try Task.checkCancellation()
    let snapshot = try await self.get(id)
    guard snapshot.state == .succeeded else {
      throw TaskFailure(
        taskID: id,
        state: snapshot.state,
        message: snapshot.lastError,
        attempts: snapshot.attempt
      )
    }
    return snapshot
  }

  /// Waits for a typed task to finish and returns its decoded output.
  ///
  /// - Throws: ``TaskFailure`` when the task ended `FAILED` or `CANCELLED`.
  public func result<Definition: TaskDefinition>(
    of task: SubmittedTask<Definition>
  ) async throws -> Definition.Output {
    try await self.result(of: task.id, as: Definition.self)
  }

  /// Waits for the task `id` of type `definition` to finish and returns its decoded output.
  ///
  /// - Throws: ``TaskFailure`` when the task ended `FAILED` or `CANCELLED`.
  public func result<Definition: TaskDefinition>(
    of id: TaskID,
    as definition: Definition.Type
  ) async throws -> Definition.Output {
    let snapshot = try await self.waitForCompletion(of: id)
    return try TaskCoding.decode(
      Definition.Output.self,
      from: snapshot.result ?? Data(),
      what: "result of \(Definition.name)"
    )
  }
}

/// The events of a watch, resuming transparently after lag, reconnects and server restarts.
///
/// Iterating it opens the server stream; ending the iteration closes it.
public struct TaskEventSequence: AsyncSequence, Sendable {
  /// One event.
  public typealias Element = TaskEvent

  let client: TaskwireClient
  let request: Taskwire_V1_WatchRequest
  let after: UInt64

  /// Opens the stream on the first `next()`.
  public func makeAsyncIterator() -> AsyncIterator {
    AsyncIterator(client: self.client, request: self.request, lastSequence: self.after)
  }

  /// Delivers events and resumes the server stream after the last one when it ends early.
  public struct AsyncIterator: AsyncIteratorProtocol {
    let client: TaskwireClient
    let request: Taskwire_V1_WatchRequest
    /// The sequence of the last event delivered (0 = none yet).
    var lastSequence: UInt64
    var stream: AsyncThrowingStream<Taskwire_V1_WatchEvent, any Error>.AsyncIterator?
    var failedOpens = 0

    init(client: TaskwireClient, request: Taskwire_V1_WatchRequest, lastSequence: UInt64) {
      self.client = client
      self.request = request
      self.lastSequence = lastSequence
    }

    /// The next event; `nil` when the iteration's task was cancelled.
    public mutating func next() async throws -> TaskEvent? {
      while true {
        if Task.isCancelled { return nil }
        if self.stream == nil {
          do {
            let connection = try await self.client.connection.connection()
            var request = self.request
            request.afterSequence = self.lastSequence
            self.stream = try connection.watch(request).makeAsyncIterator()
          } catch let error as TaskwireError where error.code == .unavailable {
            await self.pauseBeforeResume()
            continue
          } catch let error as TaskwireError where error.code == .cancelled {
            return nil
          }
        }
        do {
          guard let event = try await self.stream!.next() else {
            // Finished: the server ended the stream normally, or our task was cancelled.
            self.stream = nil
            return nil
          }
          self.failedOpens = 0
          let taskEvent = TaskEvent(event)
          if taskEvent.kind != .snapshot, taskEvent.sequence <= self.lastSequence {
            continue
          }
          self.lastSequence = Swift.max(self.lastSequence, taskEvent.sequence)
          return taskEvent
        } catch let error as TaskwireError {
          self.stream = nil
          switch error.code {
          case .resourceExhausted where error.limit?.name != "max_concurrent_calls":
            // Fell behind (the server's `watch_buffer` or our `client_watch_buffer`): resume at
            // once after the last event delivered.
            if self.lastSequence == 0, let resume = error.resumeFrom {
              self.lastSequence = resume
            }
            self.client.logger.debug(
              "watch fell behind; resuming",
              metadata: [
                "limit": "\(error.limit?.name ?? "")", "after_sequence": "\(self.lastSequence)",
              ]
            )
          case .unavailable, .resourceExhausted:
            if self.lastSequence == 0, let resume = error.resumeFrom {
              self.lastSequence = resume
            }
            await self.pauseBeforeResume()
          case .failedPrecondition where error.snapshotRequired:
            guard !self.request.taskIds.isEmpty else {
              // A filter watch has no snapshots to start over from: the events are lost.
              var missed = error
              missed.message =
                "events after sequence \(self.lastSequence) were missed (no longer kept): "
                + error.message
              throw missed
            }
            // Too old to replay: start over with fresh snapshots.
            self.lastSequence = 0
          case .cancelled where Task.isCancelled:
            return nil
          case .cancelled:
            // Not our cancel: ending here would lose events silently; resume instead.
            await self.pauseBeforeResume()
          default:
            throw error
          }
        }
      }
    }

    /// Waits the reconnect backoff; returns early when the task is cancelled (the loop then
    /// ends the iteration).
    private mutating func pauseBeforeResume() async {
      self.failedOpens += 1
      try? await self.client.pause(beforeRetry: Swift.min(self.failedOpens, 30))
    }
  }
}
