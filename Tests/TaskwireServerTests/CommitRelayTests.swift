import Synchronization
@testable import TaskwireCoordinator
import TaskwireCore
import TaskwireStore
import Testing

/// The store calls the commit relay once per group commit, for the life of the server.
@Suite("Commit relay")
struct CommitRelayTests {
  /// A closure kept directly in a `Mutex` was re-wrapped in a reabstraction thunk on every read,
  /// so each commit walked a longer chain: the writer slowed with every commit and its stack
  /// overflowed after a few hundred thousand. A million deliveries must cost the same each time.
  @Test("a million commits reach the coordinator, each through the same closure")
  func millionCommits() {
    let relay = CommitRelay()
    let delivered = Mutex(0)
    relay.attach { events in delivered.withLock { $0 += events.count } }
    let listener = relay.listener
    let event = EventRecord(
      sequence: 1,
      taskID: "T1",
      kind: .created,
      state: .pending,
      attempt: 0,
      timeMs: 0,
      queue: "default",
      type: "t"
    )
    let commits = 1_000_000
    for _ in 0..<commits { listener([event]) }
    #expect(delivered.withLock { $0 } == commits)
  }
}
