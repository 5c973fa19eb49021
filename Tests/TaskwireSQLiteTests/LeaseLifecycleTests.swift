import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("Leases, fencing, retries and cancels")
struct LeaseLifecycleTests {
  @Test(
    "Fencing: A's lease expires, B leases; A's heartbeat, complete and fail get LEASE_LOST; B's result stands"
  )
  func fencing() async throws {
    try await withStore { store in
      let clock = ManualWallClock(nowMs: t0)
      let t = try await store.submitOne(task(leaseMs: 1_000), nowMs: clock.nowMillis())
      let a = try #require(
        try await store.lease(
          queues: [],
          types: [],
          max: 1,
          workerID: "A",
          nowMs: clock.nowMillis()
        ).first
      )
      // A heartbeats in time: the deadline moves.
      clock.advance(by: 800)
      let beat = try await store.heartbeat(
        taskID: t.id,
        token: a.leaseToken,
        progress: ProgressUpdate(percent: 40, message: "going"),
        nowMs: clock.nowMillis()
      )
      #expect(beat.leaseDeadlineMs == clock.nowMillis() + 1_000)
      #expect(!beat.cancelRequested)
      #expect(try await store.expireLeases(nowMs: clock.advance(by: 900)).isEmpty)
      // Then A goes quiet.
      let expired = try await store.expireLeases(nowMs: clock.advance(by: 200))
      #expect(
        expired == [
          ExpiredLease(
            taskID: t.id,
            queue: "default",
            workerID: "A",
            attempt: 1,
            reason: .leaseExpired,
            newState: .retrying,
            nextRunMs: clock.nowMillis() + 1_000
          )
        ]
      )
      #expect(try await store.promoteDue(nowMs: clock.advance(by: 1_000)) == ["default": 1])
      let b = try #require(
        try await store.lease(
          queues: [],
          types: [],
          max: 1,
          workerID: "B",
          nowMs: clock.nowMillis()
        ).first
      )
      #expect(b.attempt == 2)
      #expect(b.leaseToken != a.leaseToken)

      await expectStoreError({ $0 == .leaseLost(taskID: t.id) }) {
        _ = try await store.heartbeat(
          taskID: t.id,
          token: a.leaseToken,
          progress: nil,
          nowMs: clock.nowMillis()
        )
      }
      let lateComplete = try await store.complete(
        [Completion(taskID: t.id, token: a.leaseToken, result: Data("A".utf8))],
        nowMs: clock.nowMillis()
      )
      #expect(lateComplete.count == 1)
      if case .failure(let error) = lateComplete[0] {
        #expect(error == .leaseLost(taskID: t.id))
      } else {
        Issue.record("A's complete was accepted")
      }
      await expectStoreError({ $0 == .leaseLost(taskID: t.id) }) {
        _ = try await store.fail(
          taskID: t.id,
          token: a.leaseToken,
          error: "x",
          permanent: false,
          retryAfterMs: nil,
          nowMs: clock.nowMillis()
        )
      }
      await expectStoreError({ $0 == .leaseLost(taskID: t.id) }) {
        _ = try await store.release(taskID: t.id, token: a.leaseToken, nowMs: clock.nowMillis())
      }

      let done = try await store.complete(
        [Completion(taskID: t.id, token: b.leaseToken, result: Data("B".utf8))],
        nowMs: clock.advance(by: 10)
      )
      #expect(try done[0].get().repeated == false)
      // The same completion again (its answer was lost): success again, nothing changes.
      let repeated = try await store.complete(
        [Completion(taskID: t.id, token: b.leaseToken, result: Data("B2".utf8))],
        nowMs: clock.advance(by: 10)
      )
      #expect(try repeated[0].get().repeated == true)
      let lateA = try await store.complete(
        [Completion(taskID: t.id, token: a.leaseToken)],
        nowMs: clock.nowMillis()
      )
      if case .failure(let error) = lateA[0] {
        #expect(error == .leaseLost(taskID: t.id))
      } else {
        Issue.record("A's complete was accepted")
      }

      let final = try #require(try await store.get(taskID: t.id))
      #expect(final.state == .succeeded)
      #expect(final.result == Data("B".utf8))
      #expect(final.workerID == "B")
      #expect(final.attempts.map(\.outcome) == [.leaseExpired, .succeeded])
      #expect(final.attempts[0].error == "lease expired")
      #expect(final.attempts.map(\.workerID) == ["A", "B"])
    }
  }

  @Test("Batched completions are independent")
  func batchedComplete() async throws {
    try await withStore { store in
      for i in 0..<3 { _ = try await store.submitOne(task("t\(i)")) }
      let grants = try await store.lease(queues: [], types: [], max: 3, workerID: "w", nowMs: t0)
      let results = try await store.complete(
        [
          Completion(taskID: grants[0].taskID, token: grants[0].leaseToken),
          Completion(taskID: grants[1].taskID, token: "stale"),
          Completion(taskID: "missing", token: "x"),
          Completion(taskID: grants[2].taskID, token: grants[2].leaseToken),
        ],
        nowMs: t0 + 1
      )
      #expect((try? results[0].get()) != nil)
      #expect(results[1].failureValue == .leaseLost(taskID: grants[1].taskID))
      #expect(results[2].failureValue == .notFound("task missing"))
      #expect((try? results[3].get()) != nil)
      #expect(try await store.get(taskID: grants[1].taskID)?.state == .running)
      #expect(try await store.count(filter: TaskFilter(states: [.succeeded])) == 2)
    }
  }

  @Test("Retry schedule under a manual clock, then FAILED when attempts run out")
  func retrySchedule() async throws {
    try await withStore { store in
      let clock = ManualWallClock(nowMs: t0)
      let policy = RetryPolicy(
        kind: .exponential,
        initialMs: 1_000,
        multiplier: 2,
        maxMs: 3_000,
        jitter: 0
      )
      let t = try await store.submitOne(
        task(maxAttempts: 4, retry: policy),
        nowMs: clock.nowMillis()
      )
      var delays: [Int64] = []
      for attempt in 1...4 {
        let grant = try #require(
          try await store.lease(
            queues: [],
            types: [],
            max: 1,
            workerID: "w",
            nowMs: clock.nowMillis()
          ).first
        )
        #expect(grant.attempt == Int32(attempt))
        let failed = try await store.fail(
          taskID: t.id,
          token: grant.leaseToken,
          error: "boom \(attempt)",
          permanent: false,
          retryAfterMs: nil,
          nowMs: clock.nowMillis()
        )
        // The repeat with the same token gets the same answer.
        let again = try await store.fail(
          taskID: t.id,
          token: grant.leaseToken,
          error: "boom",
          permanent: false,
          retryAfterMs: nil,
          nowMs: clock.nowMillis() + 5
        )
        #expect(again == failed)
        if attempt == 4 {
          #expect(failed == FailOutcome(state: .failed, nextRunMs: 0))
          break
        }
        #expect(failed.state == .retrying)
        delays.append(failed.nextRunMs - clock.nowMillis())
        // Not before its time.
        #expect(try await store.promoteDue(nowMs: failed.nextRunMs - 1).isEmpty)
        #expect(
          try await store.lease(
            queues: [],
            types: [],
            max: 1,
            workerID: "w",
            nowMs: failed.nextRunMs - 1
          ).isEmpty
        )
        clock.set(failed.nextRunMs)
        #expect(try await store.promoteDue(nowMs: clock.nowMillis()) == ["default": 1])
      }
      #expect(delays == [1_000, 2_000, 3_000])
      let final = try #require(try await store.get(taskID: t.id))
      #expect(final.state == .failed)
      #expect(final.lastError == "boom 4")
      #expect(final.attempts.count == 4)
      #expect(final.attempts.allSatisfy { $0.outcome == .failed })

      // Manual retry requeues the dead letter, optionally with a fresh attempt count.
      let retried = try await store.retry(
        taskID: t.id,
        resetAttempts: true,
        nowMs: clock.nowMillis()
      )
      #expect(retried.state == .pending)
      #expect(retried.attempt == 0)
      let grant = try #require(
        try await store.lease(
          queues: [],
          types: [],
          max: 1,
          workerID: "w",
          nowMs: clock.nowMillis()
        ).first
      )
      #expect(grant.attempt == 1)
      await expectStoreError({ if case .failedPrecondition = $0 { true } else { false } }) {
        _ = try await store.retry(taskID: t.id, resetAttempts: false, nowMs: clock.nowMillis())
      }
    }
  }

  @Test("Permanent errors and retry-after")
  func permanentAndRetryAfter() async throws {
    try await withStore { store in
      let a = try await store.submitOne(task("a"))
      let b = try await store.submitOne(task("b"))
      let grants = try await store.lease(queues: [], types: [], max: 2, workerID: "w", nowMs: t0)
      let byID = Dictionary(uniqueKeysWithValues: grants.map { ($0.taskID, $0) })
      let permanent = try await store.fail(
        taskID: a.id,
        token: byID[a.id]!.leaseToken,
        error: "bad input",
        permanent: true,
        retryAfterMs: nil,
        nowMs: t0 + 1
      )
      #expect(permanent == FailOutcome(state: .failed, nextRunMs: 0))
      let later = try await store.fail(
        taskID: b.id,
        token: byID[b.id]!.leaseToken,
        error: "busy",
        permanent: false,
        retryAfterMs: 60_000,
        nowMs: t0 + 1
      )
      #expect(later == FailOutcome(state: .retrying, nextRunMs: t0 + 60_001))
    }
  }

  @Test("Jittered retries come from the seeded generator and stay within bounds")
  func jitteredRetry() async throws {
    try await withStore { store in
      let t = try await store.submitOne(task(retry: .default))
      let grant = try #require(
        try await store.lease(queues: [], types: [], max: 1, workerID: "w", nowMs: t0).first
      )
      let failed = try await store.fail(
        taskID: t.id,
        token: grant.leaseToken,
        error: "e",
        permanent: false,
        retryAfterMs: nil,
        nowMs: t0
      )
      #expect(failed.nextRunMs >= t0 + 800 && failed.nextRunMs <= t0 + 1_200)
    }
  }

  @Test("Cancel: pending ends at once; running gets cancel requested, then ends CANCELLED")
  func cancel() async throws {
    try await withStore { store in
      let pending = try await store.submitOne(task("p"))
      let scheduled = try await store.submitOne(task("s", runAtMs: t0 + 10_000))
      let cancelled = try await store.cancel(
        taskID: pending.id,
        reason: "no longer needed",
        nowMs: t0 + 1
      )
      #expect(cancelled.task.state == .cancelled)
      #expect(cancelled.task.cancelReason == "no longer needed")
      #expect(cancelled.notify == nil)
      #expect(
        try await store.cancel(taskID: scheduled.id, reason: "", nowMs: t0 + 1).task.state
          == .cancelled
      )
      #expect(try await store.promoteDue(nowMs: t0 + 20_000).isEmpty)
      await expectStoreError({ if case .failedPrecondition = $0 { true } else { false } }) {
        _ = try await store.cancel(taskID: pending.id, reason: "", nowMs: t0 + 2)
      }
      await expectStoreError({ $0 == .notFound("task nope") }) {
        _ = try await store.cancel(taskID: "nope", reason: "", nowMs: t0 + 2)
      }

      let running = try await store.submitOne(task("r"))
      let grant = try #require(
        try await store.lease(queues: [], types: [], max: 1, workerID: "w1", nowMs: t0 + 3).first
      )
      let requested = try await store.cancel(taskID: running.id, reason: "stop", nowMs: t0 + 4)
      #expect(requested.task.state == .running)
      #expect(requested.task.cancelRequested)
      #expect(requested.notify == .init(workerID: "w1", leaseToken: grant.leaseToken))
      // Repeating the cancel is fine and notifies again.
      #expect(
        try await store.cancel(taskID: running.id, reason: "stop", nowMs: t0 + 5).notify != nil
      )
      let beat = try await store.heartbeat(
        taskID: running.id,
        token: grant.leaseToken,
        progress: nil,
        nowMs: t0 + 6
      )
      #expect(beat.cancelRequested)
      try await store.cancelAck(
        taskID: running.id,
        token: grant.leaseToken,
        message: "stopped",
        nowMs: t0 + 7
      )
      let final = try #require(try await store.get(taskID: running.id))
      #expect(final.state == .cancelled)
      #expect(final.attempts.map(\.outcome) == [.cancelled])
      // Cancelled tasks never come back by themselves.
      #expect(
        try await store.lease(queues: [], types: [], max: 5, workerID: "w", nowMs: t0 + 100_000)
          .isEmpty
      )
    }
  }

  @Test(
    "A complete after cancel was requested wins; an expired lease with cancel requested ends CANCELLED"
  )
  func cancelRaces() async throws {
    try await withStore { store in
      let a = try await store.submitOne(task("a", leaseMs: 1_000))
      let b = try await store.submitOne(task("b", leaseMs: 1_000))
      let grants = try await store.lease(queues: [], types: [], max: 2, workerID: "w", nowMs: t0)
      let byID = Dictionary(uniqueKeysWithValues: grants.map { ($0.taskID, $0) })
      _ = try await store.cancel(taskID: a.id, reason: "r", nowMs: t0 + 1)
      _ = try await store.cancel(taskID: b.id, reason: "r", nowMs: t0 + 1)
      let done = try await store.complete(
        [Completion(taskID: a.id, token: byID[a.id]!.leaseToken, result: Data("x".utf8))],
        nowMs: t0 + 2
      )
      #expect((try? done[0].get()) != nil)
      let aFinal = try #require(try await store.get(taskID: a.id))
      #expect(aFinal.state == .succeeded)
      #expect(aFinal.cancelRequested)
      let events = try await store.events(after: 0, limit: 100).filter { $0.taskID == a.id }
      #expect(events.map(\.kind) == [.created, .stateChanged, .cancelRequested, .finished])

      let expired = try await store.expireLeases(nowMs: t0 + 5_000)
      #expect(expired.map(\.newState) == [.cancelled])
      #expect(try await store.get(taskID: b.id)?.state == .cancelled)
    }
  }

  @Test("Expired leases with attempts exhausted end FAILED; execution timeouts count as failures")
  func exhaustedAndTimeout() async throws {
    try await withStore { store in
      let once = try await store.submitOne(task("once", maxAttempts: 1, leaseMs: 1_000))
      let slow = try await store.submitOne(task("slow", leaseMs: 60_000, timeoutMs: 5_000))
      let grants = try await store.lease(queues: [], types: [], max: 2, workerID: "w", nowMs: t0)
      let slowGrant = try #require(grants.first { $0.taskID == slow.id })
      // Heartbeats do not extend past the execution timeout.
      let beat = try await store.heartbeat(
        taskID: slow.id,
        token: slowGrant.leaseToken,
        progress: nil,
        nowMs: t0 + 4_000
      )
      #expect(beat.leaseDeadlineMs == t0 + 64_000)
      #expect(try await store.nextDueMs() == t0 + 1_000)
      let first = try await store.expireLeases(nowMs: t0 + 1_000)
      #expect(first.map(\.taskID) == [once.id])
      #expect(first.first?.newState == .failed)
      let second = try await store.expireLeases(nowMs: t0 + 5_000)
      #expect(second.map(\.taskID) == [slow.id])
      #expect(second.first?.reason == .executionTimeout)
      #expect(second.first?.newState == .retrying)
      let slowFinal = try #require(try await store.get(taskID: slow.id))
      #expect(slowFinal.attempts.map(\.outcome) == [.timedOut])
      #expect(slowFinal.lastError == "execution timeout")
      #expect(try await store.get(taskID: once.id)?.lastError == "lease expired")
    }
  }

  @Test("Release hands the task back without using the attempt")
  func release() async throws {
    try await withStore { store in
      let t = try await store.submitOne(task())
      let grant = try #require(
        try await store.lease(queues: [], types: [], max: 1, workerID: "w", nowMs: t0).first
      )
      #expect(
        try await store.release(taskID: t.id, token: grant.leaseToken, nowMs: t0 + 5) == .pending
      )
      let released = try #require(try await store.get(taskID: t.id))
      #expect(released.state == .pending)
      #expect(released.attempt == 0)
      #expect(released.attempts.map(\.outcome) == [.released])
      let again = try #require(
        try await store.lease(queues: [], types: [], max: 1, workerID: "w2", nowMs: t0 + 6).first
      )
      #expect(again.attempt == 1)
      let history = try #require(try await store.get(taskID: t.id)).attempts
      #expect(history.map(\.number) == [1, 1])
      #expect(history.map(\.outcome) == [.released, .running])
    }
  }

  @Test("Delete only finished tasks")
  func delete() async throws {
    try await withStore { store in
      let t = try await store.submitOne(task())
      await expectStoreError({ if case .failedPrecondition = $0 { true } else { false } }) {
        try await store.delete(taskID: t.id, nowMs: t0)
      }
      _ = try await store.cancel(taskID: t.id, reason: "", nowMs: t0)
      try await store.delete(taskID: t.id, nowMs: t0 + 1)
      #expect(try await store.get(taskID: t.id) == nil)
      let last = try #require(try await store.events(after: 0, limit: 10).last)
      #expect(last.kind == .deleted)
      await expectStoreError({ $0 == .notFound("task \(t.id)") }) {
        try await store.delete(taskID: t.id, nowMs: t0 + 2)
      }
    }
  }
}

extension Result {
  var failureValue: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
