import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import TaskwireCore
import TaskwireProto
import Testing

/// The task lifecycle through real TLS connections, with a virtual clock for every rule that
/// involves time (the sweeper is driven by hand; nothing sleeps).
@Suite("Task lifecycle over TLS")
struct LifecycleTests {
  static let start: Int64 = 1_800_000_000_000

  private func withClockNode<T: Sendable>(
    _ body: @Sendable (TestNode, ManualWallClock) async throws -> T
  ) async throws -> T {
    let clock = ManualWallClock(nowMs: Self.start)
    return try await withTestNode(configure: { $0.clock = clock }) { node in
      try await body(node, clock)
    }
  }

  @Test("Submit → lease → heartbeat → complete: SUCCEEDED with result, history and worker")
  func happyPath() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      let created = try await client.submit {
        $0.queue = "happy"
        $0.payload = Data("in".utf8)
        $0.metadata = ["trace": "abc"]
      }
      #expect(created.task.state == .pending)
      #expect(!created.existing)
      #expect(created.task.id.count == 26)
      let leased = try await worker.lease("happy")
      #expect(leased.count == 1)
      let task = try #require(leased.first)
      #expect(task.attempt == 1)
      #expect(task.payload == Data("in".utf8))
      #expect(task.metadata["trace"] == "abc")
      #expect(task.leaseDeadlineMs == Self.start + 30_000)
      clock.set(Self.start + 1_000)
      guard case .heartbeatResponse(let beat) = try await worker.heartbeat(task, percent: 40) else {
        throw TestFailure("heartbeat failed")
      }
      #expect(beat.leaseDeadlineMs == Self.start + 31_000)
      #expect(!beat.cancelRequested)
      #expect((try await client.get(task.id)).progress == 40)
      guard case .completeResponse = try await worker.complete(task, result: "out") else {
        throw TestFailure("complete failed")
      }
      let done = try await client.get(task.id)
      #expect(done.state == .succeeded)
      #expect(done.result == Data("out".utf8))
      #expect(done.attempts.count == 1)
      #expect(done.attempts.first?.outcome == "succeeded")
      #expect(done.attempts.first?.resultSize == 3)
      // A repeat of the same completion (its answer was lost) gets the same answer.
      guard case .completeResponse = try await worker.complete(task, result: "out") else {
        throw TestFailure("repeated complete was refused")
      }
    }
  }

  @Test("Priority first, then run-at, then submission order")
  func order() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let low = try await client.submit {
        $0.queue = "order"; $0.priority = 0
      }
      let high = try await client.submit {
        $0.queue = "order"; $0.priority = 5
      }
      let lowSecond = try await client.submit {
        $0.queue = "order"; $0.priority = 0
      }
      let highSecond = try await client.submit {
        $0.queue = "order"; $0.priority = 5
      }
      let worker = try await node.session(.worker)
      let leased = try await worker.lease("order", max: 4)
      #expect(leased.map(\.id) == [high, highSecond, low, lowSecond].map(\.task.id))
    }
  }

  @Test("A delayed task is SCHEDULED until its time, then promoted and leasable")
  func delayed() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      let created = try await client.submit {
        $0.queue = "later"; $0.delayMs = 60_000
      }
      #expect(created.task.state == .scheduled)
      #expect(created.task.nextRunMs == Self.start + 60_000)
      #expect(try await worker.lease("later").isEmpty)
      clock.set(Self.start + 59_999)
      await node.coordinator.sweep(nowMs: clock.nowMillis())
      #expect(try await worker.lease("later").isEmpty)
      clock.set(Self.start + 60_000)
      await node.coordinator.sweep(nowMs: clock.nowMillis())
      #expect(try await worker.lease("later").map(\.id) == [created.task.id])
    }
  }

  @Test("Idempotent submit: same request → existing task; different request → CONFLICT")
  func idempotency() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let first = try await client.submit {
        $0.queue = "keys"; $0.idempotencyKey = "order-42"; $0.payload = Data("a".utf8)
      }
      let again = try await client.submit {
        $0.queue = "keys"; $0.idempotencyKey = "order-42"; $0.payload = Data("a".utf8)
      }
      #expect(again.existing)
      #expect(again.task.id == first.task.id)
      let status = try await client.error(
        .submitRequest(
          .with {
            $0.task.type = "job"
            $0.task.queue = "keys"
            $0.task.idempotencyKey = "order-42"
            $0.task.payload = Data("b".utf8)
          }
        )
      )
      #expect(status.code == .conflict)
      // A retried submit with a relative delay is the same request, even a second later.
      let delayed = try await client.submit {
        $0.queue = "keys"; $0.idempotencyKey = "later-1"; $0.delayMs = 5_000
      }
      _ = clock.advance(by: 1_000)
      let delayedAgain = try await client.submit {
        $0.queue = "keys"; $0.idempotencyKey = "later-1"; $0.delayMs = 5_000
      }
      #expect(delayedAgain.existing)
      #expect(delayedAgain.task.id == delayed.task.id)
      // Keys are scoped per queue.
      let other = try await client.submit {
        $0.queue = "other-keys"; $0.idempotencyKey = "order-42"; $0.payload = Data("b".utf8)
      }
      #expect(!other.existing)
    }
  }

  @Test("A waiting lease is woken by a submit, not by the sweeper")
  func wakeWithoutPolling() async throws {
    // The clock never moves and the sweeper interval is an hour: only the submit can wake it.
    let clock = ManualWallClock(nowMs: Self.start)
    try await withTestNode(configure: {
      $0.clock = clock
      $0.coordinator.sweepIntervalMs = 3_600_000
    }) { node in
      let worker = try await node.session(.worker)
      let client = try await node.session(.client)
      try await worker.client.send(
        .request(
          900,
          .leaseRequest(
            .with {
              $0.queues = ["wake"]
              $0.waitMs = 60_000
            }
          )
        )
      )
      // Make sure the long poll is parked before submitting.
      while node.coordinator.waitingLeases == 0 { await Task.yield() }
      let created = try await client.submit { $0.queue = "wake" }
      let answer = await worker.client.next(timeout: .seconds(5))
      guard case .leaseResponse(let lease)? = answer?.body else {
        throw TestFailure("the long poll was not woken: \(String(describing: answer))")
      }
      #expect(lease.tasks.map(\.id) == [created.task.id])
    }
  }

  @Test(
    "Fencing: A's lease expires, B leases; A's heartbeat/complete/fail get LEASE_LOST; B's result stands"
  )
  func fencing() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let workerA = try await node.session(.worker)
      let workerB = try await node.session(.worker)
      let created = try await client.submit {
        $0.queue = "fence"
        $0.leaseDurationMs = 1_000
        $0.retryPolicy = .with {
          $0.kind = .fixed; $0.initialMs = 1_000; $0.maxMs = 1_000
        }
      }
      let a = try #require(try await workerA.lease("fence").first)
      clock.set(Self.start + 1_001)
      await node.coordinator.sweep(nowMs: clock.nowMillis())
      let afterExpiry = try await client.get(created.task.id)
      #expect(afterExpiry.state == .retrying)
      #expect(afterExpiry.attempts.first?.outcome == "lease_expired")
      clock.set(Self.start + 2_001)
      await node.coordinator.sweep(nowMs: clock.nowMillis())
      let b = try #require(try await workerB.lease("fence").first)
      #expect(b.attempt == 2)
      #expect(b.leaseToken != a.leaseToken)
      #expect(try await workerA.heartbeat(a).errorCode == .leaseLost)
      #expect(try await workerA.complete(a, result: "stale").errorCode == .leaseLost)
      #expect(try await workerA.fail(a).errorCode == .leaseLost)
      guard case .completeResponse = try await workerB.complete(b, result: "fresh") else {
        throw TestFailure("B's completion refused")
      }
      #expect(try await workerA.complete(a, result: "stale").errorCode == .leaseLost)
      let final = try await client.get(created.task.id)
      #expect(final.state == .succeeded)
      #expect(final.result == Data("fresh".utf8))
      #expect(final.attempt == 2)
    }
  }

  @Test("Retry schedule: exponential backoff under the virtual clock, then FAILED when exhausted")
  func retrySchedule() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      let created = try await client.submit {
        $0.queue = "retry"
        $0.maxAttempts = 3
        $0.retryPolicy = .with {
          $0.kind = .exponential; $0.initialMs = 1_000; $0.multiplier = 2; $0.maxMs = 60_000;
          $0.jitter = 0
        }
      }
      var now = Self.start
      for (attempt, backoff) in [(1, Int64(1_000)), (2, Int64(2_000))] {
        let task = try #require(try await worker.lease("retry").first)
        #expect(task.attempt == Int32(attempt))
        guard case .failResponse(let failed) = try await worker.fail(task) else {
          throw TestFailure("fail refused")
        }
        #expect(failed.state == .retrying)
        #expect(failed.nextRunMs == now + backoff, "attempt \(attempt) backs off \(backoff) ms")
        clock.set(now + backoff - 1)
        await node.coordinator.sweep(nowMs: clock.nowMillis())
        #expect(try await worker.lease("retry").isEmpty, "not before its time")
        now += backoff
        clock.set(now)
        await node.coordinator.sweep(nowMs: now)
      }
      let last = try #require(try await worker.lease("retry").first)
      guard case .failResponse(let final) = try await worker.fail(last, error: "third strike")
      else { throw TestFailure("fail refused") }
      #expect(final.state == .failed)
      let task = try await client.get(created.task.id)
      #expect(task.state == .failed)
      #expect(task.lastError == "third strike")
      #expect(task.attempts.count == 3)
      // The dead-letter set can be requeued by hand.
      guard
        case .retryResponse(let retried) = try await client.call(
          .retryRequest(
            .with {
              $0.id = created.task.id; $0.resetAttempts = true
            }
          )
        )
      else {
        throw TestFailure("retry refused")
      }
      #expect(retried.task.state == .pending)
    }
  }

  @Test(
    "Cancel: a pending task ends at once; a running one is pushed to its worker and ends CANCELLED"
  )
  func cancel() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      let pending = try await client.submit { $0.queue = "cancel-pending" }
      guard
        case .cancelResponse(let cancelled) = try await client.call(
          .cancelRequest(.with { $0.id = pending.task.id })
        )
      else {
        throw TestFailure("cancel refused")
      }
      #expect(cancelled.task.state == .cancelled)
      #expect(
        try await client.error(.cancelRequest(.with { $0.id = pending.task.id })).code
          == .failedPrecondition
      )

      let running = try await client.submit { $0.queue = "cancel-running" }
      let task = try #require(try await worker.lease("cancel-running").first)
      guard
        case .cancelResponse(let requested) = try await client.call(
          .cancelRequest(
            .with {
              $0.id = running.task.id; $0.reason = "user"
            }
          )
        )
      else {
        throw TestFailure("cancel refused")
      }
      #expect(requested.task.state == .running)
      #expect(requested.task.cancelRequested)
      // The worker receives the push without asking.
      let push = await worker.client.next(timeout: .seconds(5))
      guard case .cancelNotice(let notice)? = push?.body else {
        throw TestFailure("no cancel notice pushed: \(String(describing: push))")
      }
      #expect(push?.callID == 0)
      #expect(notice.taskID == task.id)
      #expect(notice.leaseToken == task.leaseToken)
      guard case .heartbeatResponse(let beat) = try await worker.heartbeat(task) else {
        throw TestFailure("heartbeat")
      }
      #expect(beat.cancelRequested)
      guard
        case .cancelAckResponse = try await worker.call(
          .cancelAckRequest(
            .with {
              $0.taskID = task.id; $0.leaseToken = task.leaseToken
            }
          )
        )
      else {
        throw TestFailure("cancel ack refused")
      }
      #expect(try await client.get(task.id).state == .cancelled)
    }
  }

  @Test("The sweeper requeues a vanished worker's task with the attempt counted")
  func vanishedWorker() async throws {
    try await self.withClockNode { node, clock in
      let client = try await node.session(.client)
      let created = try await client.submit {
        $0.queue = "vanish"
        $0.leaseDurationMs = 5_000
        $0.retryPolicy = .with {
          $0.kind = .fixed; $0.initialMs = 1_000; $0.maxMs = 1_000
        }
      }
      do {
        let doomed = try await node.session(.worker)
        #expect(try await doomed.lease("vanish").count == 1)
        await doomed.client.close()
      }
      clock.set(Self.start + 5_001)
      await node.coordinator.sweep(nowMs: clock.nowMillis())
      clock.set(Self.start + 6_001)
      await node.coordinator.sweep(nowMs: clock.nowMillis())
      let rescuer = try await node.session(.worker)
      let task = try #require(try await rescuer.lease("vanish").first)
      #expect(task.id == created.task.id)
      #expect(task.attempt == 2)
    }
  }

  @Test(
    "Pending limit: submits get RESOURCE_EXHAUSTED while full; leasing and completing keep working"
  )
  func pendingLimit() async throws {
    try await withTestNode(configure: { $0.maxPendingPerQueue = 2 }) { node in
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      _ = try await client.submit { $0.queue = "full" }
      _ = try await client.submit { $0.queue = "full" }
      let refused = try await client.error(
        .submitRequest(
          .with {
            $0.task.type = "job"; $0.task.queue = "full"
          }
        )
      )
      #expect(refused.code == .resourceExhausted)
      #expect(refused.limitName == "max_pending")
      #expect(refused.limitValue == 2)
      let task = try #require(try await worker.lease("full").first)
      guard case .completeResponse = try await worker.complete(task) else {
        throw TestFailure("complete refused")
      }
      _ = try await client.submit { $0.queue = "full" }
    }
  }

  @Test("A paused queue grants nothing; resume wakes waiting leases")
  func pause() async throws {
    try await withTestNode { node in
      let admin = try await node.session(.admin)
      let worker = try await node.session(.worker)
      guard
        case .pauseQueueResponse = try await admin.call(
          .pauseQueueRequest(.with { $0.queue = "paused" })
        )
      else {
        throw TestFailure("pause refused")
      }
      let created = try await admin.submit { $0.queue = "paused" }
      #expect(try await worker.lease("paused").isEmpty)
      try await worker.client.send(
        .request(
          500,
          .leaseRequest(
            .with {
              $0.queues = ["paused"]; $0.waitMs = 30_000
            }
          )
        )
      )
      while node.coordinator.waitingLeases == 0 { await Task.yield() }
      guard
        case .resumeQueueResponse = try await admin.call(
          .resumeQueueRequest(.with { $0.queue = "paused" })
        )
      else {
        throw TestFailure("resume refused")
      }
      let answer = await worker.client.next(timeout: .seconds(5))
      guard case .leaseResponse(let lease)? = answer?.body else {
        throw TestFailure("not woken: \(String(describing: answer))")
      }
      #expect(lease.tasks.map(\.id) == [created.task.id])
      guard
        case .statsResponse(let stats) = try await admin.call(
          .statsRequest(.with { $0.queues = ["paused"] })
        )
      else {
        throw TestFailure("stats refused")
      }
      #expect(stats.queues.first?.running == 1)
      #expect(stats.queues.first?.paused == false)
    }
  }
}
