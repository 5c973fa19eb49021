import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import Synchronization
import TaskwireProto
import Testing

/// SIGKILL mid-load, then restart on the same data directory (CONTRACT.md: a SIGKILL cannot show a
/// missing fsync — the power-cut tests in TaskwireSQLiteTests do that — but it does show that
/// nothing acknowledged is lost or undone by the process dying).
@Suite("Crash: SIGKILL mid-load and restart", .serialized)
struct CrashTests {
  @Test(
    "Acknowledged submits survive, acknowledged completions are never undone or leased again",
    arguments: ["full", "relaxed"]
  )
  func sigkill(durability: String) async throws {
    let directory = temporaryDirectory("taskwire-crash")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try ServerProcess(
      dataDirectory: directory,
      arguments: ["--durability", durability]
    )
    try await server.start()

    let ackedSubmits = Locked<[String]>([])
    let ackedCompletions = Locked<[String]>([])
    let killAfter = 400
    await withTaskGroup(of: Void.self) { group in
      for submitter in 0..<4 {
        group.addTask {
          guard let client = try? await server.client() else { return }
          var id: UInt64 = 0
          while true {
            id += 1
            // Eight calls in flight per connection.
            let batch = (0..<8).map { offset in
              Taskwire_V1_Frame.request(
                id * 8 + UInt64(offset),
                .submitRequest(
                  .with {
                    $0.task.queue = "crash"
                    $0.task.type = "job"
                    $0.task.payload = Data("submitter \(submitter)".utf8)
                  }
                )
              )
            }
            guard (try? await client.send(batch)) != nil else { return }
            for _ in 0..<8 {
              guard let frame = await client.next(timeout: .seconds(5)) else { return }
              if case .submitResponse(let response)? = frame.body {
                ackedSubmits.withLock { $0.append(response.task.id) }
              }
            }
          }
        }
      }
      group.addTask {
        guard let worker = try? await server.client() else { return }
        let session = Session(worker)
        while true {
          guard let tasks = try? await session.lease("crash", max: 16, waitMs: 1_000) else {
            return
          }
          for task in tasks {
            guard let answer = try? await session.complete(task) else { return }
            if case .completeResponse = answer {
              ackedCompletions.withLock { $0.append(task.id) }
            }
          }
        }
      }
      group.addTask {
        // Kill once enough work was acknowledged (polling a counter, bounded by the load itself).
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
          let (submits, completions) = (
            ackedSubmits.withLock { $0.count }, ackedCompletions.withLock { $0.count }
          )
          if submits >= killAfter, completions >= killAfter / 4 { break }
          try? await Task.sleep(for: .milliseconds(5))
        }
        server.kill()
      }
    }
    let submitted = ackedSubmits.withLock { $0 }
    let completed = Set(ackedCompletions.withLock { $0 })
    #expect(submitted.count >= killAfter, "the load ran before the kill")
    #expect(completed.count >= killAfter / 4)

    let restarted = try ServerProcess(
      dataDirectory: directory,
      arguments: ["--durability", durability]
    )
    try await restarted.start()
    let session = Session(try await restarted.client())
    for id in submitted {
      let task = try await session.get(id)
      #expect(task.id == id, "acknowledged submit \(id) survived")
      if completed.contains(id) {
        #expect(task.state == .succeeded, "acknowledged completion of \(id) was not undone")
      }
    }
    // Nothing acknowledged as complete is leased again.
    var leasedAgain: Set<String> = []
    while true {
      let tasks = try await session.lease("crash", max: 256)
      if tasks.isEmpty { break }
      leasedAgain.formUnion(tasks.map(\.id))
      for task in tasks { _ = try await session.complete(task) }
    }
    #expect(leasedAgain.isDisjoint(with: completed))
    restarted.kill()
  }
}
