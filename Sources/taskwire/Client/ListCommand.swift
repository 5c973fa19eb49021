import ArgumentParser
import Foundation
import Taskwire

/// `taskwire list`: tasks matching filters, oldest first.
struct ListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "List tasks, oldest first.",
    discussion: """
      Prints a table, or with --json one JSON object per line (payload and result left out).

      \(CLIExitCode.table)
      """
  )

  @OptionGroup var connection: ConnectionOptions

  @Option(name: .long, help: "Only this queue (repeatable).")
  var queue: [String] = []

  @Option(name: .long, help: "Only this task type (repeatable).")
  var type: [String] = []

  @Option(name: .long, help: "Only this state, e.g. failed (repeatable).")
  var state: [String] = []

  @Option(
    name: .customLong("created-by"),
    help: "Only tasks created by this token name (their created_by metadata)."
  )
  var createdBy: String?

  @Option(name: .long, help: "At most this many tasks (default 100).")
  var limit: Int = 100

  @Flag(name: .long, help: "One JSON object per line.")
  var json = false

  func validate() throws {
    guard self.limit > 0 else { throw ValidationError("--limit must be positive") }
    for state in self.state { _ = try Parse.state(state) }
  }

  /// The filter this command line asks for.
  func filter() throws -> TaskFilter {
    var filter = TaskFilter(
      queues: self.queue,
      types: self.type,
      states: try self.state.map(Parse.state)
    )
    filter.createdBy = self.createdBy
    return filter
  }

  func run() async throws {
    let filter = try self.filter()
    let tasks = try await self.connection.withClient { client in
      var tasks: [TaskSnapshot] = []
      for try await task in client.list(filter: filter, pageSize: min(self.limit, 1000)) {
        tasks.append(task)
        if tasks.count >= self.limit { break }
      }
      return tasks
    }
    if self.json {
      for task in tasks { Output.line(JSONOutput.line(JSONOutput.task(task))) }
    } else {
      Output.line(Self.render(tasks))
    }
  }

  static func render(_ tasks: [TaskSnapshot]) -> String {
    Human.table(
      ["ID", "QUEUE", "TYPE", "STATE", "ATTEMPT", "PROGRESS", "CREATED"],
      tasks.map { task in
        [
          task.id.rawValue, task.queue, task.type, task.state.description,
          "\(task.attempt)/\(task.maxAttempts)", "\(task.progress)%", Human.time(task.created),
        ]
      }
    )
  }
}
