import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Submit and lease")
struct SubmitLeaseTests {
  @Test("A submitted task is leased, completed and read back with its history")
  func roundTrip() async throws {
    try await withStore { store in
      let created = try await store.submitOne(task("email", metadata: ["created_by": "alice"]))
      #expect(created.state == .pending)
      #expect(created.id.count == 26)
      #expect(created.createdBy == "alice")

      let grants = try await store.lease(
        queues: ["default"], types: [], max: 10, workerID: "w1", nowMs: t0 + 10)
      #expect(grants.count == 1)
      let grant = try #require(grants.first)
      #expect(grant.taskID == created.id)
      #expect(grant.attempt == 1)
      #expect(grant.leaseToken.count == 32)
      #expect(grant.leaseDeadlineMs == t0 + 10 + 30_000)
      #expect(grant.payload == Data("p".utf8))

      let results = try await store.complete(
        [Completion(taskID: created.id, token: grant.leaseToken, result: Data("ok".utf8))],
        nowMs: t0 + 20)
      let outcome = try results[0].get()
      #expect(!outcome.repeated)

      let got = try #require(try await store.get(taskID: created.id))
      #expect(got.state == .succeeded)
      #expect(got.result == Data("ok".utf8))
      #expect(got.attempt == 1)
      #expect(got.startedMs == t0 + 10)
      #expect(got.finishedMs == t0 + 20)
      #expect(got.leaseToken == "")
      #expect(got.attempts.count == 1)
      #expect(got.attempts[0].outcome == .succeeded)
      #expect(got.attempts[0].workerID == "w1")
      #expect(got.attempts[0].durationMs == 10)
      #expect(got.attempts[0].resultSize == 2)
      #expect(try await store.get(taskID: "nope") == nil)
    }
  }
}
