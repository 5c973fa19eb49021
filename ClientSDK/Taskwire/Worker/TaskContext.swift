public import Logging

/// What a handler knows about the task it runs, and how it reports progress.
///
/// The handler's Swift task is cancelled when a cancel is requested for the task, when its
/// execution timeout passes, when the lease is lost, or when a graceful shutdown's timeout runs
/// out: check `Task.isCancelled` or call `try Task.checkCancellation()` in long loops.
public struct TaskContext: Sendable {
  /// The task as leased.
  public let task: LeasedTask
  let running: RunningTask
  let worker: TaskwireWorker

  /// A logger with the task's id and attempt in its metadata (made on first use).
  public var logger: Logger { self.running.logger(from: self.worker.logger) }

  /// The task's id.
  public var id: TaskID { self.task.id }
  /// This attempt's number, 1 for the first.
  public var attempt: Int32 { self.task.attempt }
  /// The task's metadata.
  public var metadata: [String: String] { self.task.metadata }

  /// Reports progress (0...100 and a message) at once; watchers see it. The heartbeat it sends
  /// also extends the lease.
  ///
  /// - Throws: ``TaskwireError`` `leaseLost` when the lease is gone (the handler is then
  ///   cancelled and its result dropped), `invalidArgument` for a percent outside 0...100.
  ///   A server that is briefly unreachable is not an error: progress is best effort.
  public func progress(_ percent: Int, _ message: String = "") async throws {
    try await self.worker.heartbeat(
      self.running,
      progress: (Int32(clamping: percent), message)
    )
  }
}
