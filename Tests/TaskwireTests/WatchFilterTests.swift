import Foundation
import Taskwire
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireStore
import TaskwireTesting
import Testing

@Suite("Watch by creator (SDK, real TLS)")
struct WatchFilterTests {
  @Test(
    "watch(filter:) with createdBy delivers every event of that creator's tasks, no other",
    .timeLimit(.minutes(1))
  )
  func createdBy() async throws {
    try await withTestServer { server in
      let adminConfiguration = try await server.clientConfiguration(role: .admin)
      try await withTaskwireClient(configuration: adminConfiguration) { admin in
        let aliceName = "alice-\(UUID().uuidString)"
        var aliceConfiguration = adminConfiguration
        aliceConfiguration.token = try await admin.createToken(name: aliceName, role: .client)
          .secret
        var bobConfiguration = adminConfiguration
        bobConfiguration.token = try await admin.createToken(
          name: "bob-\(UUID().uuidString)",
          role: .client
        ).secret
        try await withTaskwireClient(configuration: aliceConfiguration) { alice in
          try await withTaskwireClient(configuration: bobConfiguration) { bob in
            // Watch after a known point: the replay-then-live start cannot race the submits.
            let before = try await admin.submit(type: "marker", payload: Data())
            let start = try await admin.get(before.task.id).sequence
            var filter = TaskFilter()
            filter.createdBy = aliceName
            var events = admin.watch(filter: filter, after: start).makeAsyncIterator()

            var aliceTasks: Set<TaskID> = []
            for index in 0..<3 {
              let options = TaskOptions(queue: "sdk-by-creator")
              aliceTasks.insert(
                try await alice.submit(type: "job", payload: Data([UInt8(index)]), options: options)
                  .task.id
              )
              _ = try await bob.submit(type: "job", payload: Data(), options: options)
              _ = try await bob.cancel(
                try await bob.submit(type: "job", payload: Data(), options: options).task.id
              )
            }
            let cancelled = try await alice.cancel(aliceTasks.first!)
            #expect(cancelled.state == .cancelled)
            let marker = try await alice.submit(type: "marker", payload: Data()).task.id

            var seen: [TaskEvent] = []
            while let event = try await events.next() {
              seen.append(event)
              if event.taskID == marker { break }
            }
            #expect(Set(seen.map(\.taskID)) == aliceTasks.union([marker]))
            #expect(seen.map(\.kind) == [.created, .created, .created, .finished, .created])
            #expect(seen.map(\.sequence) == seen.map(\.sequence).sorted())
          }
        }
      }
    }
  }

  @Test(
    "watch(filter:after:) from a point whose events are no longer kept throws snapshotRequired",
    .timeLimit(.minutes(1))
  )
  func resumePointGone() async throws {
    try await withTestServer(configure: { options in
      options.storePolicy.maxEvents = 5
      options.coordinator.sweepIntervalMs = 20
      options.coordinator.purgeIntervalMs = 20
    }) { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        let first = try await client.submit(type: "job", payload: Data())
        let start = try await client.get(first.task.id).sequence
        for _ in 0..<20 { _ = try await client.submit(type: "job", payload: Data()) }
        // The sweeper keeps only the newest 5 events, every 20 ms. Until it has purged, the
        // watch replays from `start` (its first event arrives) and the test asks again.
        var replays = 0
        while true {
          var events = client.watch(filter: TaskFilter(), after: start).makeAsyncIterator()
          do {
            _ = try await events.next()
            replays += 1
          } catch let error as TaskwireError {
            #expect(error.code == .failedPrecondition)
            #expect(error.snapshotRequired)
            break
          }
        }
        #expect(replays < 1_000)
      }
    }
  }
}
