import Dispatch
import Foundation
import Logging
import Synchronization
import Taskwire

extension Workload {
  /// Starts `count` SDK workers on `queue` with `handler`, runs `body`, then shuts them down and
  /// waits until they drained.
  func withWorkers(
    _ count: Int,
    queue: String,
    concurrency: Int,
    handler: @escaping TaskwireWorker.RawHandler,
    _ body: @Sendable ([TaskwireWorker]) async throws -> Void
  ) async throws {
    var logger = Logger(label: "taskwire.bench.worker")
    logger.logLevel = .warning
    let workers = try (0..<count).map { _ in
      var configuration = TaskwireWorker.Configuration(
        connection: self.configuration,
        queues: [queue]
      )
      configuration.maxConcurrentTasks = concurrency
      configuration.pollWait = .seconds(5)
      let worker = try TaskwireWorker(configuration: configuration, logger: logger)
      worker.register(type: "bench", handler: handler)
      return worker
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      for worker in workers { group.addTask { try await worker.run() } }
      try await body(workers)
      for worker in workers { worker.beginGracefulShutdown() }
      try await group.waitForAll()
    }
  }

  /// Submits `total` tasks, then drains them with `workers` no-op workers; the figure is the
  /// drain rate, from the workers' start until every task was completed and acknowledged.
  func drain(
    total: Int,
    workers: Int,
    window: CPUWindow
  ) async throws -> (operations: Int, seconds: Double) {
    let queue = "bench-drain-\(UUID().uuidString.prefix(8))"
    let (submitters, size) = (4, self.batchSize(preferred: 100))
    let perClient = max(1, total / (size * submitters))
    let submitted = perClient * size * submitters
    _ = try await self.withClients(submitters) { clients in
      let options = TaskOptions(queue: queue)
      let items = Array(
        repeating: TaskwireClient.BatchItem(type: "bench", payload: self.payload, options: options),
        count: size
      )
      try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
          group.addTask { for _ in 0..<perClient { _ = try await client.enqueueBatch(items) } }
        }
        try await group.waitForAll()
      }
    }
    let started = Shared(0)
    let (done, signal) = AsyncStream.makeStream(of: Void.self)
    window.restart()
    let start = ContinuousClock.now
    try await self.withWorkers(
      workers,
      queue: queue,
      concurrency: 64,
      handler: { _, _ in
        if started.withLock({ count -> Int in
          count += 1
          return count
        }) == submitted {
          signal.yield()
        }
        return TaskResult()
      }
    ) { _ in
      for await _ in done { break }
    }
    // The workers shut down gracefully: every handler's completion was acknowledged.
    return (submitted, seconds(since: start))
  }

  /// Submit → handler-start latency with idle workers waiting, at `rate` tasks/s for `seconds`.
  func latency(rate: Int, seconds duration: Int) async throws -> [Double] {
    let queue = "bench-latency-\(UUID().uuidString.prefix(8))"
    let total = rate * duration
    let samples = Shared<[Double]>([])
    let (done, signal) = AsyncStream.makeStream(of: Void.self)
    try await self.withWorkers(
      4,
      queue: queue,
      concurrency: 16,
      handler: { task, _ in
        let sent = task.payload.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let delay = Double(monotonicNanoseconds() &- sent) / 1e6
        if samples.withLock({ samples in
          samples.append(delay)
          return samples.count
        }) == total {
          signal.yield()
        }
        return TaskResult()
      }
    ) { _ in
      try await self.withClients(1) { clients in
        let client = clients[0]
        let options = TaskOptions(queue: queue)
        // Idle workers are parked in their long polls before the first submit.
        try await Task.sleep(for: .milliseconds(500))
        let interval = Duration.nanoseconds(1_000_000_000 / rate)
        var due = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
          for _ in 0..<total {
            due = due + interval
            // Open-loop pacing of the offered load.
            try await Task.sleep(until: due, clock: .continuous)
            let template = self.payload
            let submitOptions = options
            group.addTask {
              // The clock starts as submit is called, in the task that calls it (not before
              // this bench's own hand-off to that task).
              var payload = template
              var now = monotonicNanoseconds()
              withUnsafeBytes(of: &now) { payload.replaceSubrange(0..<8, with: $0) }
              _ = try await client.enqueue(type: "bench", payload: payload, options: submitOptions)
            }
          }
          try await group.waitForAll()
        }
      }
      for await _ in done { break }
    }
    return samples.withLock { $0 }
  }
}

/// The monotonic clock in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
  DispatchTime.now().uptimeNanoseconds
}
