import Foundation
import Taskwire
import TaskwireTesting
import Testing

@Suite("Server restart during work")
struct RestartTests {
  // A graceful restart (go-away, long polls UNAVAILABLE, watches end with resume_from), as a
  // rolling deploy does, and an abrupt one (`graceful: false`: the server's task is cancelled and
  // every connection drops, as in a crash).
  @Test(
    "Client and worker reconnect, the lease continues, the watch resumes without gaps",
    arguments: [true, false]
  )
  func restartDuringWork(graceful: Bool) async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      let firstProgress = Latch()
      let afterRestart = Latch()
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Sleepy.self) { input, context in
            try await context.progress(10, "before the restart")
            firstProgress.open()
            await afterRestart.wait()
            try await context.progress(60, "after the restart")
            return .init(label: input.label)
          }
        } _: { _ in
          // Watch everything after a known point (a marker task's creation), and count what
          // arrives: the replay-then-live start leaves no race with the submit below.
          let marker = try await client.submit(
            type: "marker",
            payload: Data(),
            options: TaskOptions(queue: "markers")
          )
          let start = try await client.get(marker.task.id).sequence
          #expect(start > 0)
          var iterator = client.watch(filter: TaskFilter(), after: start).makeAsyncIterator()
          var options = TaskOptions()
          options.leaseDuration = .seconds(10)
          let task = try await client.submit(
            Sleepy.self,
            input: .init(label: "x"),
            options: options
          )

          var seen: [TaskEvent] = []
          func read(until done: (TaskEvent) -> Bool) async throws {
            while let event = try await iterator.next() {
              seen.append(event)
              if done(event) { return }
            }
          }
          try await read { $0.kind == .progress && $0.progress == 10 }
          await firstProgress.wait()

          try await server.restart(graceful: graceful)
          afterRestart.open()

          try await read { $0.kind == .finished && $0.taskID == task.id }
          #expect(try await client.result(of: task) == .init(label: "x"))

          let sequences = seen.map(\.sequence)
          // Every event exactly once: sequences are consecutive, none missing, none repeated.
          #expect(sequences == Array((start + 1)...sequences.last!))
          let progress = seen.filter { $0.kind == .progress }.map(\.progress)
          #expect(progress == [10, 60])
          let snapshot = try await client.get(task.id)
          #expect(snapshot.attempt == 1)
          #expect(snapshot.state == .succeeded)
        }
      }
    }
  }
}
