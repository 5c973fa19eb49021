/// A PENDING task's place in the lease order: higher priority first, then the earlier run-at
/// time, then submit order (`rid`). `tag` (from its id's hash) tells it from a later task that
/// reuses the `rid` of a deleted one. 24 bytes: a million PENDING tasks take ~24 MiB here.
struct ReadyEntry {
  var priority: Int32
  var tag: Int32
  var runAtMs: Int64
  var rid: Int64

  init(priority: Int32, runAtMs: Int64, rid: Int64, tag: Int32) {
    self.priority = priority
    self.tag = tag
    self.runAtMs = runAtMs
    self.rid = rid
  }

  /// Whether `self` is leased before `other`.
  @inline(__always)
  func precedes(_ other: ReadyEntry) -> Bool {
    if priority != other.priority { return priority > other.priority }
    if runAtMs != other.runAtMs { return runAtMs < other.runAtMs }
    return rid < other.rid
  }

  /// The tag of the task with id `id`.
  static func tag(_ id: String) -> Int32 { Int32(truncatingIfNeeded: id.hashValue) }
}

/// A binary heap of ``ReadyEntry``, the first to lease at its top.
struct ReadyHeap {
  private(set) var entries: [ReadyEntry] = []

  var top: ReadyEntry? { entries.first }
  var count: Int { entries.count }

  mutating func push(_ entry: ReadyEntry) {
    entries.append(entry)
    var child = entries.count - 1
    // Tasks mostly arrive in lease order (one priority, later run-at, higher rid): the new
    // entry then stays where it is after one comparison.
    while child > 0 {
      let parent = (child - 1) / 2
      guard entries[child].precedes(entries[parent]) else { break }
      entries.swapAt(child, parent)
      child = parent
    }
  }

  @discardableResult
  mutating func pop() -> ReadyEntry? {
    guard let first = entries.first else { return nil }
    let last = entries.removeLast()
    guard !entries.isEmpty else { return first }
    entries[0] = last
    var parent = 0
    let count = entries.count
    while true {
      let left = 2 * parent + 1
      guard left < count else { break }
      var best = left
      if left + 1 < count, entries[left + 1].precedes(entries[left]) { best = left + 1 }
      guard entries[best].precedes(entries[parent]) else { break }
      entries.swapAt(best, parent)
      parent = best
    }
    return first
  }

  /// Keeps the entries `keep` accepts, in heap order again.
  mutating func filter(_ keep: (ReadyEntry) -> Bool) {
    let kept = entries.filter(keep)
    entries = []
    entries.reserveCapacity(kept.count)
    for entry in kept { push(entry) }
  }
}

/// The writer's index of PENDING tasks, by queue and type, in lease order: it replaces the
/// table's two ready indexes (dropped by migration 7), whose upkeep was a third of the cost of
/// each INSERT and of each lease's UPDATE. Rebuilt from the table when the store opens.
///
/// A task enters with ``add(queue:type:entry:)`` each time it becomes PENDING, and leaves by
/// being leased (``pop(queue:type:)``) or, when it leaves PENDING any other way (cancelled,
/// deleted, or a rolled-back insert), by ``discard(rid:tag:)``, which marks its entry dead: the
/// entry stays in its heap until it comes to the top, where the lease drops it. A task has at
/// most one entry; a dead one revives if its task becomes PENDING again. The lease also checks
/// each entry against its row before granting it.
///
/// Not undoable by itself: ``WriteSession`` logs each change with its inverse.
struct ReadyIndex {
  private var heaps: [String: [String: ReadyHeap]] = [:]
  /// Entries whose tasks left PENDING other than by lease: `rid` → tag.
  private var dead: [Int64: Int32] = [:]

  /// How many entries there are, dead ones included.
  private(set) var entryCount = 0

  /// Puts a task that became PENDING in the index. Returns `false` if it revived its dead
  /// entry instead (nothing was pushed).
  @discardableResult
  mutating func add(queue: String, type: String, entry: ReadyEntry) -> Bool {
    if let tag = dead[entry.rid], tag == entry.tag {
      dead[entry.rid] = nil
      return false
    }
    push(queue: queue, type: type, entry)
    return true
  }

  /// Pushes `entry` back after a rolled-back ``pop(queue:type:)``, or as ``add``'s first time.
  mutating func push(queue: String, type: String, _ entry: ReadyEntry) {
    heaps[queue, default: [:]][type, default: ReadyHeap()].push(entry)
    entryCount += 1
  }

  /// Marks the entry of a task that left PENDING other than by lease as dead. Returns the tag
  /// it replaced (to undo with ``setDead(rid:tag:)``).
  @discardableResult
  mutating func discard(rid: Int64, tag: Int32) -> Int32? {
    dead.updateValue(tag, forKey: rid)
  }

  /// Sets (`tag`) or clears (`nil`) the dead mark of `rid`: the inverse of the changes above.
  mutating func setDead(rid: Int64, tag: Int32?) {
    dead[rid] = tag
  }

  func isDead(_ entry: ReadyEntry) -> Bool { dead[entry.rid] == entry.tag }

  /// The types of `queue` that have entries.
  func types(of queue: String) -> [String] {
    guard let byType = heaps[queue] else { return [] }
    return Array(byType.keys)
  }

  /// The first entry to lease of `queue` and `type`, dead or not.
  func top(queue: String, type: String) -> ReadyEntry? {
    heaps[queue]?[type]?.top
  }

  /// Takes the first entry of `queue` and `type` out. Returns it and whether it was dead (its
  /// dead mark is cleared).
  mutating func pop(queue: String, type: String) -> (entry: ReadyEntry, wasDead: Bool)? {
    guard let entry = heaps[queue]?[type]?.pop() else { return nil }
    entryCount -= 1
    if heaps[queue]?[type]?.count == 0 {
      heaps[queue]?[type] = nil
      if heaps[queue]?.isEmpty == true { heaps[queue] = nil }
    }
    guard isDead(entry) else { return (entry, false) }
    dead[entry.rid] = nil
    return (entry, true)
  }

  /// The live entries of `queue`: the earliest run-at time among them and how many have a
  /// run-at time at or before `threshold`. One pass over the queue's entries.
  func age(of queue: String, threshold: Int64) -> (oldestMs: Int64, atOrBefore: Int) {
    var oldest = Int64.max
    var count = 0
    guard let byType = heaps[queue] else { return (0, 0) }
    for heap in byType.values {
      for entry in heap.entries where !isDead(entry) {
        oldest = Swift.min(oldest, entry.runAtMs)
        if entry.runAtMs <= threshold { count += 1 }
      }
    }
    return (oldest == .max ? 0 : oldest, count)
  }

  /// Drops the dead entries once they outnumber the live ones (and a few thousand), and every
  /// entry of a queue with no PENDING task (`livePending`: the queues' PENDING counts). Only
  /// between groups: it cannot be undone.
  mutating func compact(livePending: (String) -> Int) {
    guard dead.count > 4_096, dead.count * 2 > entryCount else { return }
    let marks = dead
    var rebuilt: [String: [String: ReadyHeap]] = [:]
    var count = 0
    for (queue, byType) in heaps where livePending(queue) > 0 {
      for (type, heap) in byType {
        var heap = heap
        heap.filter { marks[$0.rid] != $0.tag }
        guard heap.count > 0 else { continue }
        rebuilt[queue, default: [:]][type] = heap
        count += heap.count
      }
    }
    heaps = rebuilt
    entryCount = count
    // Every dead entry is gone; a mark left belonged to no entry (its rid was reused).
    dead = [:]
  }
}
