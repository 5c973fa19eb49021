import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import NIOCore
import TaskwireProto
import Testing

/// Memory bounds, stated before the test runs and measured in a separate server process.
@Suite("Memory bounds", .serialized)
struct MemoryBoundTests {
  /// The bound: a peer that sends requests and never reads adds less than this to the server's RSS.
  /// At most `max_concurrent_calls` (100) calls run and at most 100 finished answers of 64 KiB
  /// wait for it, each held about twice (the record and its encoded frame): ~26 MiB, plus
  /// allocator slack.
  static let slowReaderBound = 64 * 1024 * 1024

  @Test("A peer that sends requests and never reads does not grow server memory past the bound")
  func neverReads() async throws {
    let directory = temporaryDirectory("taskwire-memory")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try ServerProcess(dataDirectory: directory)
    try await server.start()
    let setup = Session(try await server.client())
    // A task whose Get answer is 64 KiB: every unread answer costs the server real memory.
    let big = try await setup.submit {
      $0.queue = "memory"
      $0.payload = Data(repeating: 0x5A, count: 64 * 1024)
    }
    let baseline = try server.residentBytes()

    // The greedy peer: 20,000 Gets (1.25 GiB of answers) and it reads none of them.
    let peer = try await RawClient.connect(
      port: server.port,
      caPath: server.caPath,
      receiveBufferBytes: 4096
    )
    guard case .helloReply(_)? = try await peer.hello(token: server.adminToken)?.body else {
      throw TestFailure("hello refused")
    }
    try await peer.channel.setOption(.autoRead, value: false).get()
    let request = Taskwire_V1_Frame.request(0, .getRequest(.with { $0.id = big.task.id }))
    let peak = try await withThrowingTaskGroup(of: Int.self) { group in
      group.addTask {
        for chunk in 0..<200 {
          let frames = (0..<100).map { index -> Taskwire_V1_Frame in
            var frame = request
            frame.callID = UInt64(chunk * 100 + index + 1)
            return frame
          }
          do { try await peer.send(frames) } catch { break }
        }
        return 0
      }
      group.addTask {
        // Sample the server's RSS while the peer pushes; its writes stall once TCP pushes back.
        var peak = baseline
        for _ in 0..<40 {
          peak = max(peak, try server.residentBytes())
          try await Task.sleep(for: .milliseconds(50))
        }
        await peer.close()
        return peak
      }
      var peak = 0
      for try await value in group { peak = max(peak, value) }
      return peak
    }
    let growth = peak - baseline
    print(
      "slow reader: baseline \(baseline / 1_048_576) MiB, peak \(peak / 1_048_576) MiB, growth \(growth / 1_048_576) MiB (bound \(Self.slowReaderBound / 1_048_576) MiB)"
    )
    #expect(growth < Self.slowReaderBound)
    // And the server still serves others.
    let other = Session(try await server.client())
    #expect(try await other.get(big.task.id).id == big.task.id)
    server.kill()
  }
}

extension MemoryBoundTests {
  /// The bound for a watcher that stops reading while 32 MiB of events are produced.
  static let laggingWatcherBound = 64 * 1024 * 1024

  @Test(
    "A watcher that stops reading is cut off with the lag status; memory stays bounded; others keep pace"
  )
  func laggingWatcher() async throws {
    let directory = temporaryDirectory("taskwire-lag")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try ServerProcess(dataDirectory: directory)
    try await server.start()
    let slow = try await RawClient.connect(
      port: server.port,
      caPath: server.caPath,
      receiveBufferBytes: 4096
    )
    let reply = try await slow.hello(token: server.adminToken)
    try await slow.channel.setOption(.autoRead, value: false).get()
    guard case .helloReply? = reply?.body else {
      throw TestFailure("hello refused")
    }
    let brisk = try await server.client()
    let watch = Taskwire_V1_Frame.request(1, .watchRequest(.with { $0.filter.queues = ["lag"] }))
    try await slow.send(watch)
    try await brisk.send(watch)
    let producer = Session(try await server.client())
    // Let both watches register: one round trip through the server orders them before the load.
    _ = try await producer.call(.healthRequest(.init()))
    let baseline = try server.residentBytes()
    var peak = baseline
    // 2,000 tasks, each failing for good with a 16 KiB error: 6,000 events, 32 MiB of them —
    // far more than the kernel's socket buffers hold for the watcher that does not read.
    let tasks = 2_000
    let total = tasks * 3
    let bigError = String(repeating: "e", count: 16 * 1024)
    let worker = Session(try await server.client())
    var briskSeen = 0
    for _ in 0..<(tasks / 250) {
      let answer = try await producer.call(
        .submitBatchRequest(
          .with {
            $0.tasks = (0..<250).map { _ in
              .with {
                $0.queue = "lag"; $0.type = "job"; $0.maxAttempts = 1
              }
            }
          }
        )
      )
      guard case .submitBatchResponse = answer else {
        throw TestFailure("batch refused: \(answer)")
      }
      let leased = try await worker.lease("lag", max: 250)
      for task in leased {
        _ = try await worker.fail(task, error: bigError, permanent: true)
      }
      // The brisk watcher keeps pace: it reads everything produced so far.
      let target = briskSeen + 750
      while briskSeen < target, let frame = await brisk.next(timeout: .seconds(10)) {
        if case .watchEvent? = frame.body { briskSeen += 1 }
      }
      peak = max(peak, try server.residentBytes())
    }
    #expect(briskSeen == total, "the reading watcher got every event")
    let growth = peak - baseline
    print(
      "lagging watcher: baseline \(baseline / 1_048_576) MiB, peak \(peak / 1_048_576) MiB, growth \(growth / 1_048_576) MiB (bound \(Self.laggingWatcherBound / 1_048_576) MiB)"
    )
    #expect(growth < Self.laggingWatcherBound)
    // Now the slow one reads: what was in flight, then the lag end with a resume point.
    try await slow.startReading()
    var end: Taskwire_V1_Status?
    var slowSeen = 0
    while let frame = await slow.next(timeout: .seconds(10)) {
      if case .watchEvent? = frame.body { slowSeen += 1 }
      if case .streamEnd(let done)? = frame.body {
        end = done.status
        break
      }
    }
    #expect(slowSeen < total, "the slow watcher was cut off before the end")
    #expect(end?.code == .resourceExhausted)
    #expect((end?.resumeFrom ?? 0) > 0, "a structured resume point")
    server.kill()
  }
}
