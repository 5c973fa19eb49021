import Foundation
import TaskwireCore
import TaskwireStore

/// Counts of tasks per state for one queue, plus its paused flag.
struct QueueCounters {
  var counts = [Int](repeating: 0, count: 8)
  var paused = false

  var waiting: Int {
    counts[TaskState.pending.rawValue] + counts[TaskState.scheduled.rawValue]
      + counts[TaskState.retrying.rawValue]
  }
}

/// What the ready index (``ReadyIndex``) needs of a task entering or leaving PENDING.
struct ReadyTask {
  var rid: Int64
  var type: String
  var priority: Int32
  var runAtMs: Int64
  /// ``ReadyEntry/tag(_:)`` of its id.
  var tag: Int32

  var entry: ReadyEntry { ReadyEntry(priority: priority, runAtMs: runAtMs, rid: rid, tag: tag) }
}

/// The writer's side of the database: the write connection and the in-memory state that goes
/// with it (queue counters, paused flags, the event sequence, the PENDING tasks in lease order).
/// Lives on the writer thread only.
///
/// Every change to memory is undoable: an operation runs inside a savepoint, and if it throws,
/// both its SQL and its memory changes are rolled back; if a group's COMMIT fails, everything
/// since the group began is.
final class WriteSession {
  let db: SQLiteConnection
  let policy: StorePolicy
  let ids = TaskIDGenerator()
  let tokens = TokenSource()
  var random: SplitMix64

  /// Queue counters including the changes of the open group.
  private(set) var queues: [String: QueueCounters] = [:]
  /// Events appended in the open group, in sequence order.
  private(set) var events: [EventRecord] = []
  /// The last sequence number assigned (open group included).
  private(set) var lastSequence: UInt64
  /// The last sequence number committed.
  private(set) var committedSequence: UInt64

  /// The PENDING tasks in lease order (in memory only; rebuilt from the table at open).
  private(set) var ready = ReadyIndex()

  private enum Undo {
    case count(queue: String, state: Int, delta: Int)
    case paused(queue: String, old: Bool)
    case created(queue: String)
    /// A task entered the ready index: undone, its entry is dead.
    case readyAdded(rid: Int64, tag: Int32)
    /// A task's entry was marked dead, replacing `previous`.
    case readyDiscarded(rid: Int64, previous: Int32?)
    /// An entry left its heap (leased, or dropped as dead): undone, it goes back.
    case readyPopped(queue: String, type: String, entry: ReadyEntry, wasDead: Bool)
  }

  private var undo: [Undo] = []
  private var dirtyQueues: Set<String> = []
  /// The queue last added to ``dirtyQueues`` and to ``readied``, while it is there: tasks of
  /// one call share their queue, so most moves skip hashing its name into the sets again.
  private var lastDirty: String?
  private var lastReadied: String?

  /// A long poll parked in the writer: served at the end of a group that made tasks ready in
  /// one of its queues (see ``Writer``).
  struct ParkedLease {
    var wait: LeaseWait
    var queues: [String]
    var types: [String]
    var max: Int
    var workerID: String
  }

  /// Parked long polls, oldest first (some may have ended since; they leave at the next pass).
  var parked: [ParkedLease] = []
  /// The waits the open group parked: a group that fails to commit ends them.
  var parkedInGroup: [LeaseWait] = []
  /// The length of ``parked`` at which the next park first drops the polls that ended.
  var parkedPurgeAt = 64
  /// Queues where the open group made a task PENDING or resumed leasing (a rolled-back change
  /// may leave a queue here: serving it then finds nothing, which is harmless).
  private(set) var readied: Set<String> = []

  /// A parked long poll the open group handed tasks to straight from their submits (see
  /// ``handOffTarget(queue:type:)``), and those grants, in order.
  struct HandOff {
    var wait: LeaseWait
    var max: Int
    var workerID: String
    var grants: [LeaseGrant]
  }

  /// The open group's hand-offs, in the order of their first grant; ``serveParked(nowMs:)``
  /// passes them on with the waits it serves.
  var handOffs: [HandOff] = []
  /// Where each wait in ``handOffs`` is.
  var handOffIndex: [ObjectIdentifier: Int] = [:]
  /// For each hand-off grant, in order, the index of its entry in ``handOffs`` (the undo log
  /// of hand-offs: a rolled-back submit takes its grant back and unclaims a wait left empty).
  var handOffLog: [Int] = []

  struct Mark {
    fileprivate var undo: Int
    fileprivate var events: Int
    fileprivate var sequence: UInt64
    fileprivate var handOffs: Int
  }

  init(db: SQLiteConnection, policy: StorePolicy, seed: UInt64?) throws(SQLiteError) {
    self.db = db
    self.policy = policy
    var system = SystemRandomNumberGenerator()
    self.random = SplitMix64(seed: seed ?? system.next())
    let metaSeq = try db.scalar("SELECT value FROM meta WHERE key = 'last_event_seq'") ?? 0
    let maxSeq = try db.scalar("SELECT max(seq) FROM events") ?? 0
    self.lastSequence = UInt64(max(metaSeq, maxSeq))
    self.committedSequence = lastSequence
    let s = try db.statement(
      """
      SELECT name, paused, pending, scheduled, running, retrying, succeeded, failed, cancelled
      FROM queues
      """
    )
    while try s.step() {
      var counters = QueueCounters()
      counters.paused = s.bool(1)
      for state in TaskState.allCases {
        counters.counts[state.rawValue] = s.int(Int32(state.rawValue) + 1)
      }
      queues[s.string(0)] = counters
    }
    s.reset()
    // The ready index, from every PENDING row: one pass over the table (it has no index by
    // state for PENDING since migration 7).
    let r = try db.statement(
      "SELECT rid, queue, type, priority, run_at_ms, id FROM tasks WHERE state = 1"
    )
    while try r.step() {
      let entry = ReadyEntry(
        priority: r.int32(3),
        runAtMs: r.int64(4),
        rid: r.int64(0),
        tag: ReadyEntry.tag(r.string(5))
      )
      ready.push(queue: r.string(1), type: r.string(2), entry)
    }
    r.reset()
  }

  // MARK: Groups and savepoints

  var mark: Mark {
    Mark(
      undo: undo.count,
      events: events.count,
      sequence: lastSequence,
      handOffs: handOffLog.count
    )
  }

  /// Undoes the memory changes made since `mark`.
  func rollback(to mark: Mark) {
    while undo.count > mark.undo {
      switch undo.removeLast() {
      case .count(let queue, let state, let delta): queues[queue]?.counts[state] -= delta
      case .paused(let queue, let old): queues[queue]?.paused = old
      case .created(let queue): queues[queue] = nil
      case .readyAdded(let rid, let tag): ready.setDead(rid: rid, tag: tag)
      case .readyDiscarded(let rid, let previous): ready.setDead(rid: rid, tag: previous)
      case .readyPopped(let queue, let type, let entry, let wasDead):
        ready.push(queue: queue, type: type, entry)
        if wasDead { ready.setDead(rid: entry.rid, tag: entry.tag) }
      }
    }
    events.removeSubrange(mark.events...)
    lastSequence = mark.sequence
    while handOffLog.count > mark.handOffs {
      let index = handOffLog.removeLast()
      handOffs[index].grants.removeLast()
      // Entries are made at their first grant, so an entry left empty is the newest one.
      if handOffs[index].grants.isEmpty, index == handOffs.count - 1 {
        let entry = handOffs.removeLast()
        handOffIndex[ObjectIdentifier(entry.wait)] = nil
        // Withdrawn meanwhile: `unclaim` resolves it with nothing, and it leaves `parked` at
        // the next purge or pass.
        _ = entry.wait.unclaim()
      }
    }
  }

  /// Writes the group's bookkeeping (the queue rows) before COMMIT.
  func writeGroupState() throws(SQLiteError) {
    if !dirtyQueues.isEmpty {
      let s = try db.statement(
        """
        INSERT INTO queues(name, paused, pending, scheduled, running, retrying, succeeded, failed,
          cancelled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(name) DO UPDATE SET paused = excluded.paused, pending = excluded.pending,
          scheduled = excluded.scheduled, running = excluded.running,
          retrying = excluded.retrying, succeeded = excluded.succeeded,
          failed = excluded.failed, cancelled = excluded.cancelled
        """
      )
      for name in dirtyQueues {
        guard let counters = queues[name] else { continue }
        s.reset()
        s.bind(0, name)
        s.bind(1, counters.paused)
        for state in TaskState.allCases {
          s.bind(Int32(state.rawValue) + 1, counters.counts[state.rawValue])
        }
        _ = try s.step()
      }
      s.reset()
    }
    // The sequence itself needs no write: every committed event is in `events` (the newest
    // is max(seq) at open) until the sweep purges it, which records what it purged in `meta`.
  }

  /// The group committed: forget the undo log; returns the group's events.
  func groupCommitted() -> [EventRecord] {
    parkedInGroup.removeAll(keepingCapacity: true)
    undo.removeAll(keepingCapacity: true)
    dirtyQueues.removeAll(keepingCapacity: true)
    lastDirty = nil
    committedSequence = lastSequence
    ready.compact { self.queues[$0]?.counts[TaskState.pending.rawValue] ?? 0 }
    let result = events
    events.removeAll(keepingCapacity: true)
    return result
  }

  /// The group failed: undo everything since it began. Returns the waits it parked, now out of
  /// ``parked``, for the writer to end with the group's error.
  func groupFailed() -> [LeaseWait] {
    rollback(to: Mark(undo: 0, events: 0, sequence: committedSequence, handOffs: 0))
    dirtyQueues.removeAll(keepingCapacity: true)
    lastDirty = nil
    let abandoned = parkedInGroup
    parkedInGroup.removeAll(keepingCapacity: true)
    let ids = Set(abandoned.map(ObjectIdentifier.init))
    parked.removeAll { ids.contains(ObjectIdentifier($0.wait)) }
    return abandoned
  }

  // MARK: Counters

  func counters(_ queue: String) -> QueueCounters? { queues[queue] }

  /// Where `queue`'s counters are, made (undoably) if it has none yet.
  private func ensureQueue(_ queue: String) -> Dictionary<String, QueueCounters>.Index {
    if let index = queues.index(forKey: queue) { return index }
    queues[queue] = QueueCounters()
    undo.append(.created(queue: queue))
    return queues.index(forKey: queue)!
  }

  private func markDirty(_ queue: String) {
    guard queue != lastDirty else { return }
    dirtyQueues.insert(queue)
    lastDirty = queue
  }

  /// Records that the open group made a task of `queue` PENDING or resumed its leasing.
  private func markReadied(_ queue: String) {
    guard queue != lastReadied else { return }
    readied.insert(queue)
    lastReadied = queue
  }

  /// Takes the queues marked readied (``serveParked(nowMs:)``), leaving none.
  func takeReadied() -> Set<String> {
    lastReadied = nil
    defer { readied.removeAll(keepingCapacity: true) }
    return readied
  }

  /// Counts a task moving from `old` to `new` (`nil`: it did not exist / no longer exists), and
  /// keeps the ready index: `task` is required when the task enters or leaves PENDING, except
  /// for a lease (`nil`), which took the task's entry out itself (``popReady(queue:type:)``).
  func move(queue: String, from old: TaskState?, to new: TaskState?, ready task: ReadyTask?) {
    guard old != new else { return }
    if new == .pending {
      guard let task else { preconditionFailure("a task entering PENDING needs its ready key") }
      ready.add(queue: queue, type: task.type, entry: task.entry)
      undo.append(.readyAdded(rid: task.rid, tag: task.tag))
    } else if old == .pending, let task {
      let previous = ready.discard(rid: task.rid, tag: task.tag)
      undo.append(.readyDiscarded(rid: task.rid, previous: previous))
    }
    // One hash of the name finds the counters; the index stays valid while no key is added.
    let index = ensureQueue(queue)
    markDirty(queue)
    if let old {
      queues.values[index].counts[old.rawValue] -= 1
      undo.append(.count(queue: queue, state: old.rawValue, delta: -1))
    }
    if let new {
      queues.values[index].counts[new.rawValue] += 1
      undo.append(.count(queue: queue, state: new.rawValue, delta: 1))
      if new == .pending { markReadied(queue) }
    }
  }

  /// Takes the first entry of `queue` and `type` out of the ready index (undoably).
  @discardableResult
  func popReady(queue: String, type: String) -> (entry: ReadyEntry, wasDead: Bool)? {
    guard let popped = ready.pop(queue: queue, type: type) else { return nil }
    undo.append(
      .readyPopped(queue: queue, type: type, entry: popped.entry, wasDead: popped.wasDead)
    )
    return popped
  }

  func setPaused(queue: String, paused: Bool) {
    let index = ensureQueue(queue)
    markDirty(queue)
    undo.append(.paused(queue: queue, old: queues.values[index].paused))
    queues.values[index].paused = paused
    if !paused { markReadied(queue) }
  }

  // MARK: Events

  /// The sequence number the next event gets.
  var nextSequence: UInt64 { lastSequence + 1 }

  /// Appends an event (its sequence is the next one) and returns its sequence.
  @discardableResult
  func append(_ event: consuming EventRecord) throws(SQLiteError) -> UInt64 {
    lastSequence += 1
    event.sequence = lastSequence
    let s = try db.statement(
      """
      INSERT INTO events(seq, task_id, kind, state, attempt, progress, message, error,
        result_size, time_ms, queue, type, next_run_ms, created_by)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """
    )
    s.bind(0, Int64(event.sequence))
    s.bind(1, event.taskID)
    s.bind(2, event.kind.rawValue)
    s.bind(3, event.state.rawValue)
    s.bind(4, event.attempt)
    s.bind(5, event.progress)
    s.bind(6, event.message)
    s.bind(7, event.error)
    s.bind(8, event.resultSize)
    s.bind(9, event.timeMs)
    s.bind(10, event.queue)
    s.bind(11, event.type)
    s.bind(12, event.nextRunMs)
    s.bind(13, event.createdBy)
    _ = try s.step()
    s.reset()
    let sequence = event.sequence
    events.append(event)
    return sequence
  }
}
