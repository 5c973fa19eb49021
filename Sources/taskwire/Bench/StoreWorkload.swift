import Foundation
import TaskwireSQLite
import TaskwireStore

/// The store alone, in this process, without network or TLS: the ceiling the server's figures sit
/// under. A SQLite store on a temporary directory with the bench's durability; tasks go in
/// batches of 100 from 16 submitters, then 16 loops lease up to 64 tasks and complete them.
struct StoreWorkload {
  let payload: Data
  let durability: SQLiteTaskStore.Durability

  /// Submits `total` tasks in batches; returns the submit and the lease+complete timings.
  func run(total: Int) async throws -> (submit: Double, drain: Double) {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("taskwire-store-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try await SQLiteTaskStore(
      configuration: .init(path: directory + "/taskwire.db", durability: self.durability)
    )
    let loops = 16
    let batches = max(1, total / (100 * loops))
    let submitted = batches * 100 * loops
    let task = NewTask(queue: "bench", type: "bench", payload: self.payload)
    let batch = [NewTask](repeating: task, count: 100)
    let submitStart = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<loops {
        group.addTask {
          for _ in 0..<batches { _ = try await store.submit(batch, nowMs: wallMs()) }
        }
      }
      try await group.waitForAll()
    }
    let submitSeconds = seconds(since: submitStart)
    let drainStart = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
      for loop in 0..<loops {
        group.addTask {
          while true {
            let grants = try await store.lease(
              queues: ["bench"],
              types: ["bench"],
              max: 64,
              workerID: "bench-\(loop)",
              nowMs: wallMs()
            )
            if grants.isEmpty { return }
            let items = grants.map { Completion(taskID: $0.taskID, token: $0.leaseToken) }
            _ = try await store.complete(items, nowMs: wallMs())
          }
        }
      }
      try await group.waitForAll()
    }
    let drainSeconds = seconds(since: drainStart)
    try await store.close()
    return (Double(submitted) / submitSeconds, Double(submitted) / drainSeconds)
  }
}

/// Unix milliseconds now.
private func wallMs() -> Int64 {
  Int64(Date().timeIntervalSince1970 * 1000)
}
