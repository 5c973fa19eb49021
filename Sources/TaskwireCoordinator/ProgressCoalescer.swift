import Synchronization

/// Coalesces progress per task to at most one write per window (100 ms by default): a report
/// inside the window is held and written with the next report after it, or dropped when the task
/// ends first (its final event supersedes it).
final class ProgressCoalescer: Sendable {
  private struct Entry {
    var lastWriteMs: Int64
  }

  private let entries = Mutex<[String: Entry]>([:])

  /// Returns the progress to write now, or `nil` to skip it (inside the window).
  func admit(taskID: String, percent: Int, message: String, nowMs: Int64, windowMs: Int64) -> (
    percent: Int, message: String
  )? {
    self.entries.withLock { entries in
      if let entry = entries[taskID], nowMs - entry.lastWriteMs < windowMs {
        return nil
      }
      entries[taskID] = Entry(lastWriteMs: nowMs)
      return (percent, message)
    }
  }

  /// The task ended; drop its state.
  func forget(_ taskID: String) {
    _ = self.entries.withLock { $0.removeValue(forKey: taskID) }
  }
}
