import Foundation
import Logging
import Synchronization
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

/// Long polls parked in the writer: a commit that makes tasks ready grants them to the oldest
/// fitting waits in that same transaction.
@Suite("Parked leases")
struct ParkedLeaseTests {
  /// Starts a long poll that parks (nothing is ready) and returns once the writer holds it; no
  /// other operation may run meanwhile.
  private func park(
    _ store: SQLiteTaskStore,
    queues: [String] = ["default"],
    types: [String] = [],
    max: Int = 1,
    worker: String = "w",
    deadline: ContinuousClock.Instant = .now + .seconds(60),
    wait: LeaseWait = LeaseWait()
  ) async throws -> Task<[LeaseGrant]?, any Error> {
    let before = store.operationCount
    let poll = Task {
      try await store.leaseWaiting(
        queues: queues,
        types: types,
        max: max,
        workerID: worker,
        nowMs: t0,
        until: deadline,
        wait: wait
      )
    }
    // Its first try (which parks it) is the only operation running: once committed, it waits.
    while store.operationCount <= before { await Task.yield() }
    return poll
  }

  @Test("A submit reaches a parked lease in its own commit: one fsync from submit to start")
  func submitHandsOverInOneCommit() async throws {
    let batches = Box<[[EventRecord]]>([])
    try await withStore(onCommit: { events in batches.value.withLock { $0.append(events) } }) {
      store in
      let poll = try await park(store)
      let commits = store.commitCount
      let submitted = try await store.submitOne(task(payload: "hello"), nowMs: t0 + 5)
      let grants = try #require(try await poll.value)
      #expect(grants.map(\.taskID) == [submitted.id])
      #expect(grants.first?.payload == Data("hello".utf8))
      #expect(grants.first?.attempt == 1)
      // Granted at the submit's time, in the submit's transaction.
      #expect(grants.first?.leaseDeadlineMs == t0 + 5 + 30_000)
      #expect(store.commitCount == commits + 1)
      // Its queue had nothing else ready: it was inserted RUNNING, for the poll.
      #expect(store.handOffCount == 1)
      let last = try #require(batches.value.withLock { $0.last })
      #expect(last.map(\.state) == [.pending, .running])
      #expect(last.allSatisfy { $0.taskID == submitted.id })
      let record = try #require(try await store.get(taskID: submitted.id))
      #expect(record.state == .running)
      #expect(store.parkedLeaseCount == 0)
      // The grant's token is the live one: completing with it succeeds.
      let token = try #require(grants.first?.leaseToken)
      let done = try await store.complete(
        [Completion(taskID: submitted.id, token: token)],
        nowMs: t0 + 6
      )
      #expect((try? done.first?.get()) != nil)
    }
  }

  @Test("The oldest parked lease is served first, each up to its max")
  func oldestFirst() async throws {
    try await withStore { store in
      let first = try await park(store, max: 2, worker: "first")
      let second = try await park(store, max: 2, worker: "second")
      let third = try await park(store, max: 2, worker: "third")
      let outcomes = try await store.submit([task(), task(), task()], nowMs: t0 + 1)
      let ids = outcomes.compactMap(\.record?.id)
      #expect(try await first.value?.map(\.taskID) == Array(ids.prefix(2)))
      #expect(try await second.value?.map(\.taskID) == [ids[2]])
      // Nothing was left for the third: it stays parked until it is withdrawn.
      #expect(store.parkedLeaseCount == 1)
      third.cancel()
      #expect(try await third.value == [])
    }
  }

  @Test("A task goes straight to a waiting poll only when its queue has nothing else ready")
  func handOffOnlyWhenAlone() async throws {
    try await withStore { store in
      let poll = try await park(store, types: ["b"])
      // An `a` no one waits for stays ready; then the `b` is not the queue's one ready task,
      // and the poll is served at the group's end by the lease query instead.
      let a = try await store.submitOne(task("a"), nowMs: t0 + 1)
      let b = try await store.submitOne(task("b"), nowMs: t0 + 2)
      #expect(try await poll.value?.map(\.taskID) == [b.id])
      #expect(store.handOffCount == 0)
      #expect(try await store.get(taskID: a.id)?.state == .pending)
      #expect(try await store.get(taskID: b.id)?.state == .running)

      // Three polls wanting two each; a batch of five into an empty queue: each insert goes to
      // the oldest poll with room, the fifth to the third poll.
      _ = try await store.lease(queues: [], types: ["a"], max: 1, workerID: "w", nowMs: t0 + 3)
      let first = try await park(store, max: 2, worker: "first")
      let second = try await park(store, max: 2, worker: "second")
      let third = try await park(store, max: 2, worker: "third")
      let outcomes = try await store.submit((0..<5).map { _ in task() }, nowMs: t0 + 4)
      let ids = outcomes.compactMap(\.record?.id)
      #expect(try await first.value?.map(\.taskID) == Array(ids[0..<2]))
      #expect(try await second.value?.map(\.taskID) == Array(ids[2..<4]))
      #expect(try await third.value?.map(\.taskID) == [ids[4]])
      #expect(store.handOffCount == 5)
      for id in ids { #expect(try await store.get(taskID: id)?.state == .running) }
    }
  }

  @Test("A waiting poll gets the batch's task a lease would take first: the highest priority")
  func handOffKeepsLeaseOrder() async throws {
    try await withStore { store in
      let poll = try await park(store)
      let outcomes = try await store.submit(
        [task("low", priority: 1), task("high", priority: 5), task("high-later", priority: 5)],
        nowMs: t0
      )
      let ids = outcomes.compactMap(\.record?.id)
      // Not the first item: the first of the highest priority (equal ones in submit order).
      #expect(try await poll.value?.map(\.taskID) == [ids[1]])
      let next = try await store.lease(queues: [], types: [], max: 2, workerID: "w", nowMs: t0 + 1)
      #expect(next.map(\.taskID) == [ids[2], ids[0]])
    }
  }

  @Test("A submit rolled back after its hand-off grants nothing; the poll waits on")
  func rolledBackHandOff() async throws {
    try await withStore { store in
      let poll = try await park(store)
      // Another connection makes the RUNNING event of a `boom` task fail: its submit has then
      // inserted the task for the poll, and is rolled back whole.
      try execute(
        store.configuration.path,
        """
        CREATE TRIGGER fail_boom BEFORE INSERT ON events
        WHEN NEW.type = 'boom' AND NEW.state = \(TaskState.running.rawValue)
        BEGIN SELECT RAISE(ABORT, 'injected failure'); END
        """
      )
      await #expect(throws: StoreError.self) {
        _ = try await store.submitOne(task("boom"), nowMs: t0 + 1)
      }
      try execute(store.configuration.path, "DROP TRIGGER fail_boom")
      #expect(store.parkedLeaseCount == 1)
      #expect(try await store.count(filter: TaskFilter()) == 0)
      // The poll holds no grant of the task that is not there; the next task is its.
      let next = try await store.submitOne(task(), nowMs: t0 + 2)
      #expect(try await poll.value?.map(\.taskID) == [next.id])
      #expect(store.handOffCount == 1)
      let stats = try await store.stats(
        queues: ["default"],
        nowMs: t0 + 3,
        stuckAfterMs: [:],
        defaultStuckAfterMs: 60_000
      )
      #expect(stats.first?.counts[.running] == 1)
      #expect(stats.first?.counts[.pending] == 0)
    }
  }

  @Test("A parked lease of another type or queue is left waiting")
  func typesAndQueuesFilter() async throws {
    try await withStore { store in
      let poll = try await park(store, queues: ["a"], types: ["wanted"])
      _ = try await store.submitOne(task("other", queue: "a"), nowMs: t0 + 1)
      _ = try await store.submitOne(task("wanted", queue: "b"), nowMs: t0 + 2)
      #expect(store.parkedLeaseCount == 1)
      let wanted = try await store.submitOne(task("wanted", queue: "a"), nowMs: t0 + 3)
      #expect(try await poll.value?.map(\.taskID) == [wanted.id])
    }
  }

  @Test("A paused queue's task reaches the parked lease when the queue resumes, in that commit")
  func resumeServesParked() async throws {
    try await withStore { store in
      try await store.setPaused(queue: "default", paused: true, nowMs: t0)
      let poll = try await park(store)
      let submitted = try await store.submitOne(task(), nowMs: t0 + 1)
      #expect(store.parkedLeaseCount == 1)
      let commits = store.commitCount
      try await store.setPaused(queue: "default", paused: false, nowMs: t0 + 2)
      #expect(try await poll.value?.map(\.taskID) == [submitted.id])
      #expect(store.commitCount == commits + 1)
    }
  }

  @Test("Withdrawn, cancelled and timed-out waits end empty and take no task")
  func endedWaitsTakeNothing() async throws {
    try await withStore { store in
      let withdrawn = LeaseWait()
      let poll = try await park(store, wait: withdrawn)
      withdrawn.withdraw()
      #expect(try await poll.value == [])

      let cancelled = try await park(store)
      cancelled.cancel()
      #expect(try await cancelled.value == [])

      let timedOut = try await park(store, deadline: .now + .milliseconds(20))
      #expect(try await timedOut.value == [])

      // None of them takes a task submitted afterwards.
      let submitted = try await store.submitOne(task(), nowMs: t0 + 1)
      #expect(try await store.get(taskID: submitted.id)?.state == .pending)
      #expect(store.parkedLeaseCount == 0)
    }
  }

  @Test("A wait withdrawn before its first try takes no task, even one that is ready")
  func withdrawnBeforeFirstTry() async throws {
    try await withStore { store in
      let submitted = try await store.submitOne(task(), nowMs: t0)
      let wait = LeaseWait()
      wait.withdraw()
      let grants = try await store.leaseWaiting(
        queues: ["default"],
        types: [],
        max: 1,
        workerID: "w",
        nowMs: t0 + 1,
        until: .now + .seconds(60),
        wait: wait
      )
      #expect(grants == [])
      #expect(try await store.get(taskID: submitted.id)?.state == .pending)
    }
  }

  @Test("Polls that end while parked do not pile up in the writer when no task arrives")
  func endedPollsLeave() async throws {
    try await withStore { store in
      let live = try await park(store, queues: ["other"])
      for _ in 0..<1_000 {
        let wait = LeaseWait()
        let poll = try await park(store, wait: wait)
        wait.withdraw()
        #expect(try await poll.value == [])
        // Twice the live polls plus 64, at most (two are live here at the peak).
        #expect(store.parkedLeaseCount <= 68)
      }
      let submitted = try await store.submitOne(task(queue: "other"), nowMs: t0 + 1)
      #expect(try await live.value?.map(\.taskID) == [submitted.id])
    }
  }

  @Test("Closing the store ends parked waits with no tasks")
  func closeEndsParked() async throws {
    let dir = try TemporaryDirectory()
    let store = try await SQLiteTaskStore(
      configuration: .init(path: dir.path + "/taskwire.sqlite", randomSeed: 42)
    )
    let poll = try await park(store)
    try await store.close()
    #expect(try await poll.value == [])
  }

  @Test("A poll parked by a group whose COMMIT fails ends with the error and takes no later task")
  func failedCommitEndsParked() async throws {
    let dir = try TemporaryDirectory()
    let failing = Box(false)
    let store = try await storeFailingCommits(in: dir, while: failing)
    failing.value.withLock { $0 = true }
    let poll = Task {
      try await store.leaseWaiting(
        queues: ["default"],
        types: [],
        max: 1,
        workerID: "w",
        nowMs: t0,
        until: .now + .seconds(60),
        wait: LeaseWait()
      )
    }
    // The poll's own group parks it, then fails to commit: the poll gets the error.
    await #expect(throws: StoreError.self) { try await poll.value }
    failing.value.withLock { $0 = false }
    #expect(store.parkedLeaseCount == 0)
    // Left parked, the dead poll would be granted this task, which no one would run until its
    // lease expired.
    let submitted = try await store.submitOne(task(), nowMs: t0 + 1)
    #expect(try await store.get(taskID: submitted.id)?.state == .pending)
    try await store.close()
  }

  @Test("A hand-off whose group fails to COMMIT ends the poll with the error")
  func failedCommitAfterHandOff() async throws {
    let dir = try TemporaryDirectory()
    let failing = Box(false)
    let store = try await storeFailingCommits(in: dir, while: failing)
    let poll = try await park(store)
    failing.value.withLock { $0 = true }
    await #expect(throws: StoreError.self) {
      _ = try await store.submitOne(task(), nowMs: t0 + 1)
    }
    await #expect(throws: StoreError.self) { try await poll.value }
    failing.value.withLock { $0 = false }
    #expect(store.parkedLeaseCount == 0)
    #expect(store.handOffCount == 0)
    let submitted = try await store.submitOne(task(), nowMs: t0 + 2)
    #expect(try await store.get(taskID: submitted.id)?.state == .pending)
    try await store.close()
  }

  @Test("Many parked leases and concurrent submits: every task is leased exactly once")
  func noTaskLostOrDoubled() async throws {
    try await withStore { store in
      let pollers = 12
      let total = 200
      let leased = Box<[String]>([])
      try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<pollers {
          group.addTask {
            // Each poller long-polls until it sees an empty answer after every task is in.
            while true {
              let grants =
                try await store.leaseWaiting(
                  queues: ["default"],
                  types: [],
                  max: 1 + index % 3,
                  workerID: "w\(index)",
                  nowMs: t0,
                  until: .now + .milliseconds(200),
                  wait: LeaseWait()
                ) ?? []
              if grants.isEmpty {
                if try await store.count(filter: TaskFilter(states: [.pending])) == 0,
                  leased.value.withLock({ $0.count }) == total
                {
                  return
                }
                continue
              }
              leased.value.withLock { $0.append(contentsOf: grants.map(\.taskID)) }
            }
          }
        }
        group.addTask {
          for start in stride(from: 0, to: total, by: 4) {
            _ = try await store.submit(
              (start..<start + 4).map { task(payload: "\($0)") },
              nowMs: t0 + Int64(start)
            )
          }
        }
        try await group.waitForAll()
      }
      let ids = leased.value.withLock { $0 }
      #expect(ids.count == total)
      #expect(Set(ids).count == total)
      #expect(try await store.count(filter: TaskFilter(states: [.running])) == UInt64(total))
    }
  }
}

/// A store in `dir` whose group COMMITs fail while `failing` holds true.
private func storeFailingCommits(in dir: TemporaryDirectory, while failing: Box<Bool>) async throws
  -> SQLiteTaskStore
{
  var logger = Logger(label: "taskwire-test")
  logger.logLevel = .critical  // the failed commits are logged as errors
  return try await SQLiteTaskStore(
    configuration: .init(
      path: dir.path + "/taskwire.sqlite",
      randomSeed: 42,
      logger: logger,
      testing: .init(failCommit: { failing.value.withLock { $0 } })
    )
  )
}

/// A lock-protected value closures can share.
private final class Box<Value: Sendable>: Sendable {
  let value: Mutex<Value>
  init(_ value: Value) { self.value = Mutex(value) }
}
