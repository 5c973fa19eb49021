/// The calls of one connection that wait for a free slot, first in, first out.
///
/// The server lets at most `max_concurrent_calls` calls be in flight on a connection (announced
/// in the hello reply's limits) and answers one more with RESOURCE_EXHAUSTED. ``ClientConnection``
/// sends a call at once while fewer are in flight and none waits (``admitsNow(inFlight:)``);
/// otherwise it parks the call here, and each final answer that frees a slot sends the oldest
/// waiting call (``next(inFlight:)``). A waiting call leaves early when its caller is cancelled
/// (``remove(_:)``) or the connection ends (``removeAll()``).
///
/// Every entry belongs to a caller that waits for it, so the queue holds no more than its callers
/// created; the order of ids keeps at most about twice as many ids as entries.
struct CallQueue<Element> {
  /// Calls in flight allowed at once; 100 (the protocol's default) until the hello reply says.
  private(set) var limit = 100
  private var entries: [UInt64: Element] = [:]
  /// Call ids in arrival order, from `head` on; ids no longer in `entries` are skipped.
  private var order: [UInt64] = []
  private var head = 0
  /// Tests wait on these for a number of waiting calls (see ``wait(forCount:_:)``).
  private var countWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

  /// Calls waiting.
  var count: Int { self.entries.count }

  /// Whether call `id` waits.
  func contains(_ id: UInt64) -> Bool { self.entries[id] != nil }

  /// Whether no call waits.
  var isEmpty: Bool { self.entries.isEmpty }

  /// Takes the server's `max_concurrent_calls`; 0 (not announced) keeps the default, 100.
  mutating func setLimit(announced: UInt32) {
    self.limit = announced == 0 ? 100 : Int(announced)
  }

  /// Whether a new call may go out now, beside `inFlight` calls: a slot is free and no earlier
  /// call waits for one.
  func admitsNow(inFlight: Int) -> Bool {
    inFlight < self.limit && self.entries.isEmpty
  }

  /// Queues call `id`; returns the test waiters it satisfies (resume them outside the lock).
  mutating func append(_ id: UInt64, _ element: Element) -> [CheckedContinuation<Void, Never>] {
    self.entries[id] = element
    self.order.append(id)
    guard !self.countWaiters.isEmpty else { return [] }
    let count = self.entries.count
    defer { self.countWaiters.removeAll { $0.count <= count } }
    return self.countWaiters.filter { $0.count <= count }.map(\.continuation)
  }

  /// The oldest waiting call, if a slot is free beside `inFlight` calls.
  mutating func next(inFlight: Int) -> (id: UInt64, element: Element)? {
    guard inFlight < self.limit else { return nil }
    while self.head < self.order.count {
      let id = self.order[self.head]
      self.head += 1
      if let element = self.entries.removeValue(forKey: id) {
        self.compact()
        return (id, element)
      }
    }
    self.compact()
    return nil
  }

  /// Takes call `id` out of the queue (its caller was cancelled); `nil` when it does not wait.
  mutating func remove(_ id: UInt64) -> Element? {
    guard let element = self.entries.removeValue(forKey: id) else { return nil }
    self.compact()
    return element
  }

  /// Empties the queue (the connection ended), oldest first, and wakes every test waiter.
  mutating func removeAll() -> (elements: [Element], waiters: [CheckedContinuation<Void, Never>]) {
    let elements = self.order[self.head...].compactMap { self.entries[$0] }
    let waiters = self.countWaiters.map(\.continuation)
    self.entries.removeAll()
    self.countWaiters.removeAll()
    self.compact()
    return (elements, waiters)
  }

  /// Registers a test waiter for at least `count` waiting calls; `false` (not registered) when
  /// they already wait.
  mutating func wait(
    forCount count: Int,
    _ continuation: CheckedContinuation<Void, Never>
  ) -> Bool {
    guard self.entries.count < count else { return false }
    self.countWaiters.append((count, continuation))
    return true
  }

  /// Drops consumed and removed ids once they outnumber the waiting calls.
  private mutating func compact() {
    if self.entries.isEmpty {
      self.order.removeAll(keepingCapacity: true)
      self.head = 0
    } else if self.order.count - self.head > 2 * self.entries.count + 16 {
      self.order = self.order[self.head...].filter { self.entries[$0] != nil }
      self.head = 0
    } else if self.head > 16 && self.head * 2 > self.order.count {
      self.order.removeFirst(self.head)
      self.head = 0
    }
  }
}
