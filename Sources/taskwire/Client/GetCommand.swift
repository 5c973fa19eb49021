import ArgumentParser
import Foundation
import Taskwire

/// `taskwire get ID`: one task, complete with payload, result and attempts.
struct GetCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "get",
    abstract: "Show a task: state, progress, payload, result and attempts.",
    discussion: CLIExitCode.table
  )

  @OptionGroup var connection: ConnectionOptions

  @Argument(help: "The task's id.")
  var id: String

  @Flag(name: .long, help: "Print the task as JSON.")
  var json = false

  func run() async throws {
    let task = try await self.connection.withClient { client in
      try await client.get(TaskID(self.id))
    }
    Output.line(self.json ? JSONOutput.document(JSONOutput.task(task)) : Self.render(task))
  }

  /// The human form: one `name: value` line per field, then one line per attempt.
  static func render(_ task: TaskSnapshot) -> String {
    var lines: [(String, String)] = [
      ("id", task.id.rawValue),
      ("queue", task.queue),
      ("type", task.type),
      ("state", task.state.description + (task.cancelRequested ? " (cancel requested)" : "")),
      ("attempt", "\(task.attempt) of \(task.maxAttempts)"),
      ("priority", "\(task.priority)"),
      (
        "progress",
        "\(task.progress)%" + (task.progressMessage.isEmpty ? "" : " \(task.progressMessage)")
      ),
    ]
    if !task.lastError.isEmpty { lines.append(("last error", task.lastError.oneLine)) }
    if !task.workerID.isEmpty { lines.append(("worker", task.workerID)) }
    if !task.idempotencyKey.isEmpty { lines.append(("key", task.idempotencyKey)) }
    if let parent = task.parent { lines.append(("parent", parent.rawValue)) }
    lines.append(("created", Human.time(task.created)))
    if task.started != nil { lines.append(("started", Human.time(task.started))) }
    if task.finished != nil { lines.append(("finished", Human.time(task.finished))) }
    if task.nextRun != nil { lines.append(("next run", Human.time(task.nextRun))) }
    for (key, value) in task.metadata.sorted(by: { $0.key < $1.key }) {
      lines.append(("metadata", "\(key)=\(value)"))
    }
    let contentType = task.contentType.isEmpty ? "" : " [\(task.contentType)]"
    lines.append(("payload", Human.bytes(task.payload) + contentType))
    if task.state == .succeeded {
      let resultType = task.resultContentType.isEmpty ? "" : " [\(task.resultContentType)]"
      lines.append(("result", Human.bytes(task.result) + resultType))
    }
    for attempt in task.attempts {
      var text = "#\(attempt.number) \(attempt.outcome) worker=\(attempt.workerID)"
      text += " started=\(Human.time(attempt.started))"
      if attempt.ended != nil { text += " ended=\(Human.time(attempt.ended))" }
      if !attempt.error.isEmpty { text += " error=\(attempt.error.oneLine)" }
      lines.append(("attempt", text))
    }
    let width = lines.map(\.0.count).max() ?? 0
    return lines.map { name, value in
      (name + ":").padding(toLength: width + 2, withPad: " ", startingAt: 0) + value
    }.joined(separator: "\n")
  }
}
