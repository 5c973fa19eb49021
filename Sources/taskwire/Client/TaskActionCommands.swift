import ArgumentParser
import Foundation
import Taskwire

/// `taskwire cancel ID`.
struct CancelCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cancel",
    abstract: "Cancel a task (a running one ends once its worker stops it).",
    discussion: CLIExitCode.table
  )

  @OptionGroup var connection: ConnectionOptions

  @Argument(help: "The task's id.")
  var id: String

  @Option(name: .long, help: "Why; the worker is told.")
  var reason: String = ""

  func run() async throws {
    let task = try await self.connection.withClient { client in
      try await client.cancel(TaskID(self.id), reason: self.reason)
    }
    let note = task.cancelRequested && !task.state.isTerminal ? " (cancel requested)" : ""
    Output.line("\(task.id) \(task.state)\(note)")
  }
}

/// `taskwire retry ID`.
struct RetryCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "retry",
    abstract: "Requeue a FAILED or CANCELLED task.",
    discussion: CLIExitCode.table
  )

  @OptionGroup var connection: ConnectionOptions

  @Argument(help: "The task's id.")
  var id: String

  @Flag(name: .long, help: "Start counting attempts from zero again.")
  var resetAttempts = false

  func run() async throws {
    let task = try await self.connection.withClient { client in
      try await client.retry(TaskID(self.id), resetAttempts: self.resetAttempts)
    }
    Output.line("\(task.id) \(task.state)")
  }
}

/// `taskwire delete ID`.
struct DeleteCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "delete",
    abstract: "Delete a finished task.",
    discussion: CLIExitCode.table
  )

  @OptionGroup var connection: ConnectionOptions

  @Argument(help: "The task's id.")
  var id: String

  func run() async throws {
    try await self.connection.withClient { client in
      try await client.delete(TaskID(self.id))
    }
    Output.line("\(self.id) deleted")
  }
}
