import Foundation
import Synchronization
import Taskwire
import TaskwireTesting
import Testing

/// A one-shot signal tests wait on instead of sleeping.
final class Latch: Sendable {
  private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>(
    (false, [])
  )

  func open() {
    let waiters = self.state.withLock { state in
      state.open = true
      defer { state.waiters.removeAll() }
      return state.waiters
    }
    for waiter in waiters { waiter.resume() }
  }

  var isOpen: Bool { self.state.withLock { $0.open } }

  func wait() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let now = self.state.withLock { state in
        if state.open { return true }
        state.waiters.append(continuation)
        return false
      }
      if now { continuation.resume() }
    }
  }
}

/// Counts up and lets tests wait for a value.
final class Counter: Sendable {
  private let state = Mutex<(value: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>(
    (0, [])
  )

  var value: Int { self.state.withLock { $0.value } }

  func increment() {
    let ready = self.state.withLock { state in
      state.value += 1
      let value = state.value
      let ready = state.waiters.filter { $0.0 <= value }.map(\.1)
      state.waiters.removeAll { $0.0 <= value }
      return ready
    }
    for waiter in ready { waiter.resume() }
  }

  func wait(for target: Int) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let now = self.state.withLock { state in
        if state.value >= target { return true }
        state.waiters.append((target, continuation))
        return false
      }
      if now { continuation.resume() }
    }
  }
}

enum Add: TaskDefinition {
  static let name = "test.add"
  struct Input: Codable, Sendable {
    var a: Int
    var b: Int
  }
  struct Output: Codable, Sendable, Equatable {
    var sum: Int
  }
}

enum Sleepy: TaskDefinition {
  static let name = "test.sleepy"
  struct Input: Codable, Sendable {
    var label: String
  }
  struct Output: Codable, Sendable, Equatable {
    var label: String
  }
}

/// Runs a worker while `body` runs, then shuts it down gracefully and waits for it.
func withWorker<Result: Sendable>(
  _ configuration: TaskwireWorker.Configuration,
  register: (TaskwireWorker) -> Void,
  _ body: @Sendable (TaskwireWorker) async throws -> Result
) async throws -> Result {
  let worker = try TaskwireWorker(configuration: configuration)
  register(worker)
  return try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await worker.run() }
    do {
      let result = try await body(worker)
      worker.beginGracefulShutdown()
      try await group.waitForAll()
      return result
    } catch {
      group.cancelAll()
      try? await group.waitForAll()
      throw error
    }
  }
}

/// Waits for a task to reach `state`, following its watch (no polling).
func waitForState(_ client: TaskwireClient, _ id: TaskID, _ state: TaskState) async throws {
  for try await event in client.watch(id) where event.state == state {
    return
  }
}
