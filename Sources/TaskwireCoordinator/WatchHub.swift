import Logging
import Synchronization
import TaskwireCore
public import TaskwireStore

/// What a watch delivers.
public enum WatchItem: Sendable {
  /// The current state of a watched task, and the sequence it reflects.
  case snapshot(TaskRecord)
  /// One event from the store's log.
  case event(EventRecord)
}

/// How a watch ended.
public enum WatchEnd: Sendable, Equatable {
  /// It was stopped (the client cancelled, or the server drains); `resumeFrom` is the last
  /// sequence delivered.
  case cancelled(resumeFrom: UInt64)
  /// The watcher fell behind its buffer limit; resume with `after_sequence = resumeFrom`.
  case lagging(resumeFrom: UInt64, limit: String)
  /// The resume point is older than the events kept: take a fresh snapshot.
  case snapshotRequired(oldest: UInt64)
  /// The server is shutting down; resume elsewhere from `resumeFrom`.
  case shutdown(resumeFrom: UInt64)
  /// The request was refused.
  case failed(CallError)
}

/// What a watch asks for.
public struct WatchRequest: Sendable {
  /// Watch these tasks (a snapshot of each first, unless resuming).
  public var taskIDs: [String] = []
  /// Or every task matching this filter.
  public var filter = TaskFilter()
  /// > 0: replay events with a larger sequence, then continue live.
  public var afterSequence: UInt64 = 0

  public init() {}
}

/// Fans committed events out to watchers. Each watcher has a bounded buffer (1,000 events or
/// 1 MiB by default); one that falls behind is cut off with "resume from N" instead of slowing
/// anyone else or growing memory. Replays come from the store, then the watch joins live with no
/// gap and no duplicate: it subscribes first, reads the store second, and drops live events it
/// already replayed.
public final class WatchHub: Sendable {
  /// Per-watcher buffer limits.
  public struct Limits: Sendable {
    public var maxBufferedEvents = 1_000
    public var maxBufferedBytes = 1024 * 1024
    public init() {}
  }

  let store: any TaskStore
  let logger: Logger
  let limits: Limits
  private let state = Mutex(State())

  private struct State {
    var nextID = 0
    var subscribers: [Int: Subscriber] = [:]
    var shuttingDown = false
  }

  init(store: any TaskStore, logger: Logger, limits: Limits = Limits()) {
    self.store = store
    self.logger = logger
    self.limits = limits
  }

  /// Number of open watches.
  public var watcherCount: Int { self.state.withLock { $0.subscribers.count } }

  /// Runs one watch: delivers items through `send` (which may suspend while the peer reads)
  /// until `stop` fires, the watcher lags, or the server shuts down.
  public func watch(
    _ request: WatchRequest,
    stop: @escaping @Sendable () async -> Void,
    send: @escaping @Sendable ([WatchItem]) async -> Void
  ) async -> WatchEnd {
    // Where a client that saw nothing yet resumes: the log's end before this watch subscribed.
    let baseline =
      request.afterSequence > 0
      ? request.afterSequence : ((try? await self.store.latestSequence()) ?? 0)
    let subscriber = Subscriber(request: request, limits: self.limits)
    let id = self.state.withLock { state -> Int? in
      guard !state.shuttingDown else { return nil }
      state.nextID += 1
      state.subscribers[state.nextID] = subscriber
      return state.nextID
    }
    guard let id else { return .shutdown(resumeFrom: request.afterSequence) }
    defer { _ = self.state.withLock { $0.subscribers.removeValue(forKey: id) } }

    // Catch up: snapshot or replay, after subscribing, so nothing falls between.
    var delivered = request.afterSequence
    var perTaskFloor: [String: UInt64] = [:]
    do {
      if request.afterSequence > 0 {
        let oldest = try await self.store.oldestRetainedSequence()
        if request.afterSequence + 1 < oldest {
          return .snapshotRequired(oldest: oldest)
        }
        while true {
          let page = try await self.store.events(after: delivered, limit: 500)
          let matching = page.filter { subscriber.matches($0) }
          if !matching.isEmpty { await send(matching.map { .event($0) }) }
          guard let last = page.last else { break }
          delivered = last.sequence
          if page.count < 500 { break }
        }
      } else if !request.taskIDs.isEmpty {
        // All snapshots from one point in time: a change between two separate reads could
        // carry a sequence below a later task's snapshot, and a client that resumes after the
        // newest event it saw would then skip it.
        var snapshots: [WatchItem] = []
        for task in try await self.store.get(taskIDs: request.taskIDs) {
          perTaskFloor[task.id] = task.sequence
          snapshots.append(.snapshot(task))
        }
        await send(snapshots)
      }
    } catch {
      return .failed(CallError(.unavailable, "watch could not read the store: \(error)"))
    }

    // Live: drain the buffer until stopped or cut off.
    let floors = perTaskFloor
    let lastDelivered = SequenceBox(delivered)
    return await withTaskGroup(of: WatchEnd?.self) { group in
      group.addTask {
        await stop()
        return .cancelled(resumeFrom: max(baseline, lastDelivered.value))
      }
      group.addTask {
        var last = lastDelivered.value
        while true {
          switch await subscriber.next() {
          case .events(let events):
            let fresh = events.filter { event in
              event.sequence > last && event.sequence > (floors[event.taskID] ?? 0)
            }
            if !fresh.isEmpty {
              await send(fresh.map { .event($0) })
              last = max(last, fresh.last!.sequence)
            }
            if let newest = events.last?.sequence { last = max(last, newest) }
            let delivered = last
            lastDelivered.set(delivered)
          case .lagging(let limit):
            return .lagging(resumeFrom: max(baseline, last), limit: limit)
          case .shutdown:
            return .shutdown(resumeFrom: max(baseline, last))
          case .cancelled:
            return nil
          }
        }
      }
      let end = await group.next() ?? nil
      group.cancelAll()
      subscriber.cancel()
      return end ?? .cancelled(resumeFrom: max(baseline, lastDelivered.value))
    }
  }

  /// Hands a commit's events to every matching watcher.
  func publish(_ events: [EventRecord]) {
    let subscribers = self.state.withLock { Array($0.subscribers.values) }
    for subscriber in subscribers {
      subscriber.offer(events)
    }
  }

  /// Ends every watch with its resume point.
  func shutdown() {
    let subscribers = self.state.withLock { state in
      state.shuttingDown = true
      return Array(state.subscribers.values)
    }
    for subscriber in subscribers { subscriber.shutdown() }
  }
}

/// The last sequence a watch delivered, shared between its reader and its stop signal.
final class SequenceBox: Sendable {
  private let sequence: Mutex<UInt64>
  init(_ value: UInt64) { self.sequence = Mutex(value) }
  var value: UInt64 { self.sequence.withLock { $0 } }
  func set(_ value: UInt64) { self.sequence.withLock { $0 = value } }
}
