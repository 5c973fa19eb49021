extension Duration {
  /// Whole milliseconds (rounded down).
  var milliseconds: Int64 {
    let (seconds, attoseconds) = self.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}

/// A failure of the `work` command itself (not of a task).
struct WorkFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
