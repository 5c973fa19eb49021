import Synchronization
import TaskwireStore

/// Parks long-polling leases and wakes them the moment work for their queues may be ready; also
/// keeps the long polls parked in a store that parks them itself (``LeaseWait``), to withdraw
/// them at shutdown.
///
/// A waiter registers *before* it tries the store, so a task committed between its empty try and
/// its wait still wakes it: no wake-up is lost and no poll interval is involved. Wake-ups go to the
/// oldest waiters of a queue first, one per task that became ready.
final class Dispatcher: Sendable {
  /// One parked lease.
  final class Ticket: Sendable {
    let id: UInt64
    let queues: Set<String>
    fileprivate let signal = Signal()
    /// The queue whose ready task woke this waiter, if one did.
    fileprivate let wokenFor = Mutex<String?>(nil)

    fileprivate init(id: UInt64, queues: Set<String>) {
      self.id = id
      self.queues = queues
    }

    /// Wakes the waiter (its long poll was interrupted).
    func wake() { self.signal.fire() }

    /// Waits until woken, until `deadline` passes, or until the task is cancelled.
    func wait(until deadline: ContinuousClock.Instant) async {
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await self.signal.wait() }
        group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
        await group.next()
        group.cancelAll()
      }
    }
  }

  private struct State {
    var nextID: UInt64 = 1
    /// Waiters in arrival order.
    var waiters: [UInt64: Ticket] = [:]
    var order: [UInt64] = []
    /// Long polls parked in the store.
    var storeWaits: [ObjectIdentifier: LeaseWait] = [:]
  }

  private let state = Mutex(State())

  /// Registers a waiter for `queues`; call ``remove(_:)`` when done.
  func register(queues: Set<String>) -> Ticket {
    self.state.withLock { state in
      let ticket = Ticket(id: state.nextID, queues: queues)
      state.nextID += 1
      state.waiters[ticket.id] = ticket
      state.order.append(ticket.id)
      return ticket
    }
  }

  /// Forgets a waiter.
  func remove(_ ticket: Ticket) {
    self.state.withLock { state in
      state.waiters[ticket.id] = nil
      if state.order.count > 64, state.order.count > 2 * state.waiters.count {
        state.order.removeAll { state.waiters[$0] == nil }
      }
    }
  }

  /// Forgets a waiter that leaves without trying the store again (interrupted, cancelled): a
  /// wake-up it was given for a ready task goes on to the next waiter of that queue, who would
  /// otherwise sleep until its deadline with the task ready.
  func abandon(_ ticket: Ticket) {
    self.remove(ticket)
    if let queue = ticket.wokenFor.withLock({ $0 }) { self.tasksReady(in: queue, count: 1) }
  }

  /// `count` tasks became ready in `queue`: wake up to `count` of its oldest waiters.
  func tasksReady(in queue: String, count: Int) {
    let woken = self.state.withLock { state -> [Ticket] in
      var woken: [Ticket] = []
      var kept: [UInt64] = []
      kept.reserveCapacity(state.order.count)
      for id in state.order {
        guard let ticket = state.waiters[id] else { continue }
        if woken.count < count, ticket.queues.contains(queue) {
          ticket.wokenFor.withLock { $0 = queue }
          woken.append(ticket)
          state.waiters[id] = nil
        } else {
          kept.append(id)
        }
      }
      state.order = kept
      return woken
    }
    for ticket in woken { ticket.signal.fire() }
  }

  /// Keeps a long poll parked in the store until ``untrack(_:)``, so ``wakeAll()`` ends it.
  func track(_ wait: LeaseWait) {
    self.state.withLock { $0.storeWaits[ObjectIdentifier(wait)] = wait }
  }

  /// Forgets a long poll parked in the store.
  func untrack(_ wait: LeaseWait) {
    _ = self.state.withLock { $0.storeWaits.removeValue(forKey: ObjectIdentifier(wait)) }
  }

  /// Wakes every waiter parked here, to lease again (a queue resumed). Long polls parked in the
  /// store need no wake-up: the store serves them in the commit that resumes the queue.
  func wakeTickets() {
    let all = self.state.withLock { state -> [Ticket] in
      defer {
        state.waiters = [:]
        state.order = []
      }
      return Array(state.waiters.values)
    }
    for ticket in all { ticket.signal.fire() }
  }

  /// Ends every long poll (shutdown): waiters parked here wake, those parked in the store are
  /// withdrawn and answer with no tasks.
  func wakeAll() {
    wakeTickets()
    let waits = self.state.withLock { Array($0.storeWaits.values) }
    for wait in waits { wait.withdraw() }
  }

  /// Number of parked long polls, here and in the store.
  var waiting: Int { self.state.withLock { $0.waiters.count + $0.storeWaits.count } }
}

/// A one-shot wake-up.
final class Signal: Sendable {
  private enum State {
    case idle
    case waiting(CheckedContinuation<Void, Never>)
    case fired
  }

  private let state = Mutex(State.idle)

  func fire() {
    let continuation = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
      defer { state = .fired }
      if case .waiting(let continuation) = state { return continuation }
      return nil
    }
    continuation?.resume()
  }

  func wait() async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let now = self.state.withLock { state -> Bool in
          if case .idle = state {
            state = .waiting(continuation)
            return false
          }
          return true
        }
        if now { continuation.resume() }
      }
    } onCancel: {
      self.fire()
    }
  }
}
