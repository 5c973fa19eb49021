import Foundation
import Taskwire

/// The JSON shapes the CLI prints (`--json`, piped `watch`): snake_case keys, times in Unix
/// milliseconds, bodies as UTF-8 text (`payload`, `result`) or, when not UTF-8, base64
/// (`payload_base64`, `result_base64`).
enum JSONOutput {
  /// One JSON object on one line, keys sorted.
  static func line(_ object: [String: Any]) -> String {
    let data =
      (try? JSONSerialization.data(
        withJSONObject: object,
        options: [.sortedKeys, .withoutEscapingSlashes]
      )) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }

  /// An indented JSON document, keys sorted.
  static func document(_ object: [String: Any]) -> String {
    let data =
      (try? JSONSerialization.data(
        withJSONObject: object,
        options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
      )) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }

  static func milliseconds(_ date: Date?) -> Any {
    guard let date else { return NSNull() }
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
  }

  static func body(_ data: Data?, key: String, into object: inout [String: Any]) {
    guard let data else { return }
    if let text = String(data: data, encoding: .utf8) {
      object[key] = text
    } else {
      object[key + "_base64"] = data.base64EncodedString()
    }
  }

  static func task(_ task: TaskSnapshot) -> [String: Any] {
    var object: [String: Any] = [
      "id": task.id.rawValue,
      "queue": task.queue,
      "type": task.type,
      "state": task.state.description,
      "attempt": Int(task.attempt),
      "max_attempts": Int(task.maxAttempts),
      "priority": Int(task.priority),
      "progress": Int(task.progress),
      "progress_message": task.progressMessage,
      "last_error": task.lastError,
      "content_type": task.contentType,
      "result_content_type": task.resultContentType,
      "worker_id": task.workerID,
      "lease_deadline_ms": self.milliseconds(task.leaseDeadline),
      "cancel_requested": task.cancelRequested,
      "metadata": task.metadata,
      "idempotency_key": task.idempotencyKey,
      "parent_id": task.parent.map { $0.rawValue as Any } ?? NSNull(),
      "created_ms": self.milliseconds(task.created),
      "started_ms": self.milliseconds(task.started),
      "finished_ms": self.milliseconds(task.finished),
      "updated_ms": self.milliseconds(task.updated),
      "next_run_ms": self.milliseconds(task.nextRun),
      "sequence": task.sequence,
    ]
    self.body(task.payload, key: "payload", into: &object)
    self.body(task.result, key: "result", into: &object)
    if !task.attempts.isEmpty {
      object["attempts"] = task.attempts.map { attempt -> [String: Any] in
        [
          "number": Int(attempt.number),
          "worker_id": attempt.workerID,
          "started_ms": self.milliseconds(attempt.started),
          "ended_ms": self.milliseconds(attempt.ended),
          "outcome": attempt.outcome,
          "error": attempt.error,
          "result_size": attempt.resultSize,
        ]
      }
    }
    return object
  }

  static func event(_ event: TaskEvent) -> [String: Any] {
    var object: [String: Any] = [
      "sequence": event.sequence,
      "task_id": event.taskID.rawValue,
      "kind": event.kind.description,
      "state": event.state.description,
      "attempt": Int(event.attempt),
      "progress": Int(event.progress),
      "message": event.progressMessage,
      "error": event.error,
      "result_size": event.resultSize,
      "time_ms": self.milliseconds(event.time),
      "queue": event.queue,
      "type": event.type,
    ]
    if event.nextRun != nil { object["next_run_ms"] = self.milliseconds(event.nextRun) }
    if let snapshot = event.snapshot { object["task"] = self.task(snapshot) }
    return object
  }
}

/// Writes to stdout without Foundation's `print` buffering surprises (each call is one write).
enum Output {
  static func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  static func line(_ text: String) {
    self.write(text + "\n")
  }

  /// Whether stdout is a terminal.
  static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
}
