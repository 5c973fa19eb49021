import Foundation
import TaskwireTesting
import Testing

@testable import Taskwire

@Suite("A watch whose consumer falls behind resumes (SDK, real TLS)")
struct WatchLagTests {
  /// Events a watch buffers in these tests before it is cut.
  static let bufferLimit = 8

  @Test(
    "A filter watch cut for lag resumes: every event arrives once, in sequence order",
    .timeLimit(.minutes(1))
  )
  func filterWatchResumesAfterLag() async throws {
    try await withTestServer { server in
      var configuration = try await server.clientConfiguration(role: .client)
      configuration.watchBufferLimit = Self.bufferLimit
      try await withTaskwireClient(configuration: configuration) { client in
        let queue = "lag-\(UUID().uuidString)"
        let options = TaskOptions(queue: queue)
        // Watch after a known point, so opening the stream cannot race the submits.
        let marker = try await client.submit(type: "marker", payload: Data(), options: options)
        let start = try await client.get(marker.task.id).sequence
        let first = try await client.submit(type: "lag.item", payload: Data(), options: options)
        var events = client.watch(filter: TaskFilter(queues: [queue]), after: start)
          .makeAsyncIterator()
        var seen: [TaskEvent] = []
        if let event = try await events.next() { seen.append(event) }
        #expect(seen.map(\.taskID) == [first.task.id])

        // The consumer stops reading while far more events than its buffer arrive.
        let connection = try await client.connection.connection()
        let batch = try await client.submitBatch(
          (0..<100).map { index in
            TaskwireClient.BatchItem(
              type: "lag.item",
              payload: Data("\(index)".utf8),
              options: options
            )
          }
        )
        await connection.waitForLaggingStreams(1)

        let expected = Set([first.task.id] + batch.map(\.task.id))
        while seen.count < expected.count, let event = try await events.next() {
          seen.append(event)
        }
        #expect(seen.count == expected.count, "the watch ended early")
        #expect(expected.subtracting(seen.map(\.taskID)).isEmpty, "an event is missing")
        #expect(seen.allSatisfy { $0.kind == .created })
        let sequences = seen.map(\.sequence)
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 })
      }
    }
  }

  @Test(
    "A watch of more ids than the buffer holds gets every snapshot, then resumes after lag",
    .timeLimit(.minutes(1))
  )
  func idWatchResumesAfterLag() async throws {
    try await withTestServer { server in
      var configuration = try await server.clientConfiguration(role: .client)
      configuration.watchBufferLimit = Self.bufferLimit
      try await withTaskwireClient(configuration: configuration) { client in
        let options = TaskOptions(queue: "lag-\(UUID().uuidString)")
        let ids = try await client.submitBatch(
          (0..<40).map { _ in
            TaskwireClient.BatchItem(type: "lag.item", payload: Data(), options: options)
          }
        ).map(\.task.id)
        var events = client.watch(ids).makeAsyncIterator()
        var seen: [TaskEvent] = []
        if let event = try await events.next() { seen.append(event) }
        #expect(seen.first?.kind == .snapshot)

        // The consumer stops reading while every task finishes.
        let connection = try await client.connection.connection()
        for id in ids {
          _ = try await client.cancel(id)
        }
        await connection.waitForLaggingStreams(1)

        var finished: Set<TaskID> = []
        while finished.count < ids.count, let event = try await events.next() {
          seen.append(event)
          if event.kind == .finished { finished.insert(event.taskID) }
        }
        let snapshots = seen.filter { $0.kind == .snapshot }
        let changes = seen.filter { $0.kind != .snapshot }
        #expect(snapshots.count == ids.count, "one snapshot per task")
        #expect(Set(snapshots.map(\.taskID)) == Set(ids), "one snapshot per task")
        #expect(finished.count == ids.count, "the watch ended early")
        #expect(
          changes.filter { $0.kind == .finished }.count == ids.count,
          "no finish twice"
        )
        #expect(changes.allSatisfy { $0.state == .cancelled })
        let sequences = changes.map(\.sequence)
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 })
      }
    }
  }
}
