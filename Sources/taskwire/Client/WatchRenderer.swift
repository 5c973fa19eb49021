import Foundation
import Taskwire

/// The terminal form of `taskwire watch`: one progress bar per task, redrawn in place.
///
/// Pure: ``apply(_:)`` folds events in, ``lines(width:)`` lays the rows out for a terminal
/// `width` columns wide, and ``frame(width:)`` adds the ANSI codes that redraw over the previous
/// frame. Tests drive it with a fake width.
struct WatchRenderer {
  /// One task's line.
  struct Row: Equatable {
    var id: String
    var type: String
    var state: TaskState
    var progress: Int
    var message: String
    var attempt: Int
  }

  /// Rows in the order their tasks were first seen.
  private(set) var rows: [Row] = []
  /// Rows shown at most (the newest win); older finished ones scroll away.
  var maxRows: Int
  /// Whether to colour the state.
  var colour: Bool
  /// Lines drawn by the last frame, to move the cursor back over them.
  private var drawnLines = 0

  init(maxRows: Int = 20, colour: Bool = true) {
    self.maxRows = max(1, maxRows)
    self.colour = colour
  }

  /// What the renderer needs of one event (tests build these directly).
  struct Update {
    /// The whole task, for a snapshot event.
    struct Snapshot {
      var type: String
      var state: TaskState
      var progress: Int
      var message: String
      var attempt: Int
      var lastError: String
    }

    var taskID: String
    var type: String
    var kind: TaskEvent.Kind
    var state: TaskState
    var attempt: Int = 0
    var progress: Int = 0
    var message: String = ""
    var error: String = ""
    var snapshot: Snapshot?
  }

  /// Folds an event into its task's row.
  mutating func apply(_ event: TaskEvent) {
    self.apply(
      Update(
        taskID: event.taskID.rawValue,
        type: event.type,
        kind: event.kind,
        state: event.state,
        attempt: Int(event.attempt),
        progress: Int(event.progress),
        message: event.progressMessage,
        error: event.error,
        snapshot: event.snapshot.map {
          Update.Snapshot(
            type: $0.type,
            state: $0.state,
            progress: Int($0.progress),
            message: $0.progressMessage,
            attempt: Int($0.attempt),
            lastError: $0.lastError
          )
        }
      )
    )
  }

  /// Folds an update into its task's row.
  mutating func apply(_ event: Update) {
    let id = event.taskID
    var row =
      self.rows.first(where: { $0.id == id })
      ?? Row(id: id, type: event.type, state: event.state, progress: 0, message: "", attempt: 0)
    if let snapshot = event.snapshot {
      row.type = snapshot.type
      row.state = snapshot.state
      row.progress = snapshot.progress
      row.message = snapshot.message
      row.attempt = snapshot.attempt
      if snapshot.state == .succeeded { row.progress = 100 }
      if snapshot.state == .failed || snapshot.state == .cancelled, !snapshot.lastError.isEmpty {
        row.message = snapshot.lastError
      }
    } else {
      if !event.type.isEmpty { row.type = event.type }
      if event.state.description != "UNSPECIFIED" { row.state = event.state }
      row.attempt = event.attempt
      if event.kind == .progress {
        row.progress = event.progress
        row.message = event.message
      } else if event.kind == .finished {
        if event.state == .succeeded { row.progress = 100 }
        row.message = event.error.isEmpty ? event.message : event.error
      } else if event.kind == .retryScheduled {
        row.message = event.error.isEmpty ? "retry scheduled" : "retry: \(event.error)"
      } else if event.kind == .cancelRequested {
        row.message = "cancel requested"
      } else if event.kind == .deleted {
        row.message = "deleted"
      }
    }
    if let index = self.rows.firstIndex(where: { $0.id == id }) {
      self.rows[index] = row
    } else {
      self.rows.append(row)
    }
  }

  /// Whether every row has reached a terminal state.
  var allFinished: Bool { !self.rows.isEmpty && self.rows.allSatisfy { $0.state.isTerminal } }

  /// The rows to show: the newest `maxRows`, unfinished ones first to keep.
  var visibleRows: [Row] {
    guard self.rows.count > self.maxRows else { return self.rows }
    let running = self.rows.filter { !$0.state.isTerminal }
    if running.count >= self.maxRows { return Array(running.suffix(self.maxRows)) }
    let keep = Set(running.map(\.id))
    var finishedBudget = self.maxRows - running.count
    var result: [Row] = []
    for row in self.rows.reversed() {
      if keep.contains(row.id) {
        result.append(row)
      } else if finishedBudget > 0 {
        result.append(row)
        finishedBudget -= 1
      }
    }
    return result.reversed()
  }

  /// One line per visible row, each at most `width` characters (without colour codes).
  func lines(width: Int) -> [String] {
    self.visibleRows.map { self.line($0, width: width) }
  }

  /// `ID  TYPE  [#####-----]  40% RUNNING  message`, cut to `width`.
  func line(_ row: Row, width: Int) -> String {
    let width = max(width, 20)
    let id = Self.fit(row.id, 26)
    let type = Self.fit(row.type, 16)
    let percent = String(min(max(row.progress, 0), 100))
    let state = row.state.description
    // id(26) + 2 + type(16) + 2 + [bar] + 1 + "100%" + 1 + state(9) + 2 + message
    let fixed = 26 + 2 + 16 + 2 + 2 + 1 + 4 + 1 + 9
    let barWidth = max(5, min(30, width - fixed - 12))
    let filled = barWidth * min(max(row.progress, 0), 100) / 100
    let bar =
      "[" + String(repeating: "#", count: filled)
      + String(repeating: "-", count: barWidth - filled) + "]"
    let statePadded = state.padding(toLength: max(9, state.count), withPad: " ", startingAt: 0)
    var plain =
      "\(id)  \(type)  \(bar) \(String(repeating: " ", count: 3 - percent.count))\(percent)% "
    let stateStart = plain.count
    plain += statePadded
    if !row.message.isEmpty { plain += "  " + row.message.oneLine }
    plain = Self.fit(plain, width, pad: false)
    guard self.colour, plain.count > stateStart else { return plain }
    // Colour the state word only.
    let start = plain.index(plain.startIndex, offsetBy: stateStart)
    let end = plain.index(start, offsetBy: min(state.count, plain.count - stateStart))
    let code: String
    switch row.state {
    case .succeeded: code = "32"
    case .failed: code = "31"
    case .cancelled: code = "33"
    case .running: code = "36"
    default: code = "2"
    }
    return String(plain[..<start]) + "\u{1B}[\(code)m" + String(plain[start..<end]) + "\u{1B}[0m"
      + String(plain[end...])
  }

  /// The ANSI text that replaces the previous frame with the current one.
  mutating func frame(width: Int) -> String {
    var text = ""
    if self.drawnLines > 0 { text += "\u{1B}[\(self.drawnLines)F" }  // to the first line drawn
    let lines = self.lines(width: width)
    for line in lines { text += line + "\u{1B}[K\n" }  // each line clears its rest
    if lines.count < self.drawnLines { text += "\u{1B}[J" }  // and what is left below
    self.drawnLines = lines.count
    return text
  }

  /// `text` cut (with `…`) or padded to exactly `width` characters; `pad: false` only cuts.
  static func fit(_ text: String, _ width: Int, pad: Bool = true) -> String {
    if text.count > width { return String(text.prefix(max(0, width - 1))) + "…" }
    return pad ? text.padding(toLength: width, withPad: " ", startingAt: 0) : text
  }
}
