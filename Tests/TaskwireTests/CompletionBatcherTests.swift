import Foundation
import Synchronization
import TaskwireProto
import Testing

@testable import Taskwire

/// The worker's completion batching (Nagle's rule), driven through a scripted `send` so the
/// test decides when a batch is on the wire.
@Suite("Completion batching")
struct CompletionBatcherTests {
  static func request(_ id: String, token: String = "token", bytes: Int = 0)
    -> Taskwire_V1_CompleteRequest
  {
    var request = Taskwire_V1_CompleteRequest()
    request.taskID = id
    request.leaseToken = token
    request.result = Data(count: bytes)
    return request
  }

  /// A `send` that records each batch, holds the first one on the wire until `release` opens,
  /// and refuses items whose token is "stale".
  final class Wire: Sendable {
    let batches = Mutex<[[String]]>([])
    let firstSent = Latch()
    let release = Latch()

    func send(_ items: [Taskwire_V1_CompleteRequest]) async -> [TaskwireError?] {
      let first = self.batches.withLock { batches in
        batches.append(items.map(\.taskID))
        return batches.count == 1
      }
      if first {
        self.firstSent.open()
        await self.release.wait()
      }
      return items.map {
        $0.leaseToken == "stale" ? TaskwireError(code: .leaseLost, message: "stale") : nil
      }
    }

    var recorded: [[String]] { self.batches.withLock { $0 } }
  }

  /// Sends `t0`, then `followers` while `t0` is on the wire; returns each id's answer.
  static func run(
    _ batcher: CompletionBatcher,
    _ joined: Counter,
    _ wire: Wire,
    followers: [Taskwire_V1_CompleteRequest]
  ) async -> [String: TaskwireError?] {
    await withTaskGroup(of: (String, TaskwireError?).self) { group in
      group.addTask {
        ("t0", await batcher.complete(Self.request("t0")) { await wire.send($0) })
      }
      await wire.firstSent.wait()
      for request in followers {
        group.addTask {
          (request.taskID, await batcher.complete(request) { await wire.send($0) })
        }
      }
      await joined.wait(for: 1 + followers.count)
      wire.release.open()
      var answers: [String: TaskwireError?] = [:]
      for await (id, error) in group { answers[id] = error }
      return answers
    }
  }

  @Test("A lone completion goes alone; those finishing while it is on the wire go next, together")
  func coalesces() async {
    let joined = Counter()
    let batcher = CompletionBatcher(onWait: { _ in joined.increment() })
    let wire = Wire()
    let followers = (1...5).map { Self.request("t\($0)", token: $0 == 3 ? "stale" : "token") }
    let answers = await Self.run(batcher, joined, wire, followers: followers)

    let batches = wire.recorded
    #expect(batches.count == 2)
    #expect(batches.first == ["t0"])
    #expect(Set(batches.last ?? []) == Set((1...5).map { "t\($0)" }))
    // Each caller gets its own item's answer.
    #expect(answers.count == 6)
    for id in ["t0", "t1", "t2", "t4", "t5"] { #expect(answers[id] == .some(nil), "\(id)") }
    #expect(answers["t3"]??.code == .leaseLost)

    // Nothing in flight any more: the next completion goes out at once, alone.
    let late = await batcher.complete(Self.request("t6")) { await wire.send($0) }
    #expect(late == nil)
    #expect(wire.recorded.last == ["t6"])
  }

  @Test("A batch holds at most 256 items and 256 KiB of results (a larger result goes alone)")
  func capped() async {
    do {
      let joined = Counter()
      let batcher = CompletionBatcher(onWait: { _ in joined.increment() })
      let wire = Wire()
      let small = (1...300).map { Self.request("s\($0)") }
      let answers = await Self.run(batcher, joined, wire, followers: small)
      #expect(answers.count == 301)
      #expect(answers.values.allSatisfy { $0 == nil })
      let batches = Array(wire.recorded.dropFirst())
      #expect(
        batches.map(\.count) == [CompletionBatcher.maxItems, 300 - CompletionBatcher.maxItems]
      )
      #expect(Set(batches.joined()) == Set(small.map(\.taskID)))
    }
    do {
      let joined = Counter()
      let batcher = CompletionBatcher(onWait: { _ in joined.increment() })
      let wire = Wire()
      // Two of these pass 256 KiB together: each goes in a batch of its own.
      let large = (1...3).map { Self.request("l\($0)", bytes: 200 * 1024) }
      let answers = await Self.run(batcher, joined, wire, followers: large)
      #expect(answers.count == 4)
      #expect(answers.values.allSatisfy { $0 == nil })
      let batches = Array(wire.recorded.dropFirst())
      #expect(batches.map(\.count) == [1, 1, 1])
      #expect(Set(batches.joined()) == Set(large.map(\.taskID)))
    }
  }
}
