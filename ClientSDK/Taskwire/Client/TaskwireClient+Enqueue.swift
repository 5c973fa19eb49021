public import Foundation
import TaskwireProto

extension TaskwireClient {
  /// The answer to a brief submit (``enqueue(type:payload:contentType:options:)``): the task's id
  /// and its acknowledgement, without the snapshot.
  public struct Enqueued: Sendable, Hashable {
    /// The task's id.
    public var id: TaskID
    /// Its state right after the submit (`pending` or `scheduled`; for an idempotent repeat,
    /// whatever the existing task's state is).
    public var state: TaskState
    /// Whether the idempotency key matched an existing task (no new task was made).
    public var existing: Bool
    /// The event sequence the answer reflects: a watch from here sees everything after it.
    public var sequence: UInt64

    /// An answer with these values.
    public init(id: TaskID, state: TaskState, existing: Bool, sequence: UInt64) {
      self.id = id
      self.state = state
      self.existing = existing
      self.sequence = sequence
    }
  }

  /// Submits a task as ``submit(type:payload:contentType:options:)`` does, with the same
  /// guarantees and errors, and asks for a brief answer (`SubmitRequest.brief`): just the id and
  /// the acknowledgement, as beanstalkd's `put` or Sidekiq's `perform_async` answer. Cheaper to
  /// encode and decode than the snapshot (docs/benchmarks.md measures by how much); use it when
  /// the snapshot is not needed.
  public func enqueue(
    type: String,
    payload: Data,
    contentType: String = "",
    options: TaskOptions = TaskOptions()
  ) async throws -> Enqueued {
    let response = try await self.submitCall(
      type: type,
      payload: payload,
      contentType: contentType,
      options: options,
      brief: true
    )
    return Enqueued(response.task, existing: response.existing)
  }

  /// Submits a typed task with a brief answer: `input` travels as JSON (`application/json`).
  ///
  /// `options` replaces `Definition.defaultOptions` when given.
  public func enqueue<Definition: TaskDefinition>(
    _ definition: Definition.Type,
    input: Definition.Input,
    options: TaskOptions? = nil
  ) async throws -> Enqueued {
    try await self.enqueue(
      type: Definition.name,
      payload: try TaskCoding.encode(input, what: "input of \(Definition.name)"),
      contentType: TaskCoding.contentType,
      options: options ?? Definition.defaultOptions
    )
  }

  /// Submits many tasks atomically, as ``submitBatch(_:)`` does, with brief answers, in item
  /// order.
  public func enqueueBatch(_ items: [BatchItem]) async throws -> [Enqueued] {
    try await self.submitBatchCall(items, brief: true).map { result in
      Enqueued(result.task, existing: result.existing)
    }
  }
}

extension TaskwireClient.Enqueued {
  init(_ task: Taskwire_V1_Task, existing: Bool) {
    self.init(
      id: TaskID(task.id),
      state: TaskState(task.state),
      existing: existing,
      sequence: task.sequence
    )
  }
}
