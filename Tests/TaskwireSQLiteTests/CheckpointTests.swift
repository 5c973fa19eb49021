import Foundation
import TaskwireCore
import TaskwireSQLite
import TaskwireStore
import Testing

@Suite("WAL checkpoints")
struct CheckpointTests {
  @Test("Checkpoints run on their own thread, and the WAL stays bounded under steady commits")
  func boundedWAL() async throws {
    try await withStore(durability: .relaxed) { store in
      let wal = store.configuration.path + "-wal"
      // 6,000 commits of one task each, each writing at least four pages (the task row, its id
      // index entry, its event, the queue's counters): over 24,000 frames, ~96 MiB of WAL with
      // no checkpoint, far past the 4,000 frames at which the writer checkpoints itself.
      for i in 0..<6_000 {
        _ = try await store.submitOne(task("t"), nowMs: t0 + Int64(i))
      }
      // The WAL passed 1,000 frames some 5,000 commits ago: the checkpoint thread was asked
      // after every commit since, and has run.
      #expect(store.checkpointCount >= 1)
      let attributes = try FileManager.default.attributesOfItem(atPath: wal)
      let size = try #require(attributes[.size] as? Int)
      // 4,000 frames of 4 KiB pages (each frame has a 24-byte header), and room for the commits
      // made while a checkpoint on the other thread kept the writer's own from running.
      #expect(size <= 6_000 * (4_096 + 24) + 32, "WAL of \(size) bytes")
    }
  }
}
