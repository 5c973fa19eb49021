import Foundation
import Logging
import Synchronization
import TaskwireCoordinator
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// Long polls over a store that cannot park them: the coordinator parks each poll itself, a
/// commit that makes tasks ready wakes it, and it leases again (two commits from submit to start).
@Suite("Long polls parked by the coordinator")
struct FallbackLongPollTests {
  private func withCoordinator(
    _ body: (Coordinator, SQLiteTaskStore) async throws -> Void
  ) async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("taskwire-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let relay = CommitRelay()
    let base = try await SQLiteTaskStore(
      configuration: .init(path: directory + "/taskwire.sqlite", onCommit: relay.listener)
    )
    var logger = Logger(label: "taskwire-test")
    logger.logLevel = .warning
    let coordinator = Coordinator(
      store: NonParkingStore(base: base),
      relay: relay,
      logger: logger
    )
    do {
      try await body(coordinator, base)
    } catch {
      try await base.close()
      throw error
    }
    try await base.close()
  }

  private let worker = WorkerIdentity(id: "w1", name: "worker", address: "test")

  private func poll(
    _ coordinator: Coordinator,
    queue: String,
    waitMs: Int64 = 60_000,
    interrupt: (any LongPollInterrupt)? = nil
  ) -> Task<[LeaseGrant], any Error> {
    let worker = self.worker
    return Task {
      try await coordinator.lease(
        queues: [queue],
        types: [],
        max: 1,
        waitMs: waitMs,
        worker: worker,
        interrupt: interrupt
      )
    }
  }

  private func submit(_ coordinator: Coordinator, queue: String) async throws -> String {
    var spec = SubmitSpec()
    spec.queue = queue
    spec.type = "t"
    guard case .created(let record) = try await coordinator.submit([spec], createdBy: "")[0] else {
      throw TestFailure("the submit was not created")
    }
    return record.id
  }

  @Test("A submit wakes the parked poll, which leases the task in a commit of its own")
  func submitWakesPoll() async throws {
    try await withCoordinator { coordinator, base in
      let lease = poll(coordinator, queue: "q")
      while coordinator.waitingLeases == 0 { await Task.yield() }
      // Its first try ran: the poll is parked in the coordinator, not in the store.
      while base.operationCount == 1 { await Task.yield() }
      #expect(base.parkedLeaseCount == 0)
      let commits = base.commitCount
      let id = try await submit(coordinator, queue: "q")
      let grants = try await lease.value
      #expect(grants.map(\.taskID) == [id])
      #expect(base.commitCount == commits + 2, "the submit's commit, then the lease's")
      #expect(coordinator.waitingLeases == 0)
    }
  }

  @Test("Resuming a paused queue wakes its parked poll")
  func resumeWakesPoll() async throws {
    try await withCoordinator { coordinator, _ in
      try await coordinator.pause(queue: "q")
      let lease = poll(coordinator, queue: "q")
      while coordinator.waitingLeases == 0 { await Task.yield() }
      let id = try await submit(coordinator, queue: "q")
      try await coordinator.resume(queue: "q")
      #expect(try await lease.value.map(\.taskID) == [id])
    }
  }

  @Test("The wait ends empty at its deadline, and a cancelled poll ends empty at once")
  func deadlineAndCancel() async throws {
    try await withCoordinator { coordinator, _ in
      let timedOut = try await poll(coordinator, queue: "q", waitMs: 30).value
      #expect(timedOut == [])
      let lease = poll(coordinator, queue: "q")
      while coordinator.waitingLeases == 0 { await Task.yield() }
      lease.cancel()
      let cancelled = try await lease.value
      #expect(cancelled == [])
      #expect(coordinator.waitingLeases == 0)
    }
  }

  @Test("An interrupted poll ends empty and takes no task submitted after the interrupt")
  func interrupt() async throws {
    try await withCoordinator { coordinator, _ in
      let interrupt = TestInterrupt()
      let lease = poll(coordinator, queue: "q", interrupt: interrupt)
      while coordinator.waitingLeases == 0 { await Task.yield() }
      interrupt.fire()
      // A poll still waiting would be woken by this submit and lease the task.
      let id = try await submit(coordinator, queue: "q")
      let interrupted = try await lease.value
      #expect(interrupted == [])
      #expect(coordinator.waitingLeases == 0)
      let task = try await coordinator.get(id)
      #expect(task.state == .pending)
    }
  }
}

extension FallbackLongPollTests {
  @Test("A poll woken for a task as its interrupt fires passes the wake-up to the next waiter")
  func wakeUpPassedOn() async throws {
    try await withCoordinator { coordinator, base in
      let interrupt = TestInterrupt()
      // A poll registers its wake-up before its try of the store (a lease, one operation): once
      // that try has run, it waits, registered. The first poll is then the older waiter.
      let tries = base.operationCount
      let first = poll(coordinator, queue: "q", interrupt: interrupt)
      while base.operationCount == tries { await Task.yield() }
      let started = ContinuousClock.now
      let second = poll(coordinator, queue: "q", waitMs: 20_000)
      while base.operationCount == tries + 1 { await Task.yield() }
      while coordinator.waitingLeases < 2 { await Task.yield() }
      // The first poll's interrupt has fired, but its own wake-up has not reached it yet: the
      // task's wake-up (it is the oldest waiter) reaches it first, and it leaves empty.
      interrupt.markFiredWithoutRunningHandler()
      let id = try await submit(coordinator, queue: "q")
      #expect(try await first.value == [])
      // Left with nothing to wake it, the second poll would sleep until its deadline (20 s)
      // with the task ready, and get it only from its last try there.
      #expect(try await second.value.map(\.taskID) == [id])
      #expect(ContinuousClock.now - started < .seconds(10))
      #expect(coordinator.waitingLeases == 0)
    }
  }

  @Test("A poll whose interrupt fired before it began takes no task, even one that is ready")
  func interruptedBeforeStart() async throws {
    try await withCoordinator { coordinator, _ in
      let id = try await submit(coordinator, queue: "q")
      let interrupt = TestInterrupt()
      interrupt.fire()
      let grants = try await poll(coordinator, queue: "q", interrupt: interrupt).value
      #expect(grants == [])
      let task = try await coordinator.get(id)
      #expect(task.state == .pending)
    }
  }
}

/// A ``LongPollInterrupt`` fired by the test.
private final class TestInterrupt: LongPollInterrupt {
  private let state = Mutex<(fired: Bool, handler: (@Sendable () -> Void)?)>((false, nil))

  var hasFired: Bool { self.state.withLock { $0.fired } }

  func onFire(_ handler: @escaping @Sendable () -> Void) {
    let now = self.state.withLock { state -> Bool in
      if state.fired { return true }
      state.handler = handler
      return false
    }
    if now { handler() }
  }

  /// Fired, as seen by `hasFired`, with the handler's wake-up still on its way (it never runs).
  func markFiredWithoutRunningHandler() {
    self.state.withLock { $0.fired = true }
  }

  func fire() {
    let handler = self.state.withLock { state -> (@Sendable () -> Void)? in
      state.fired = true
      defer { state.handler = nil }
      return state.handler
    }
    handler?()
  }
}
