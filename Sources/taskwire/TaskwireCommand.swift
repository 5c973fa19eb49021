import ArgumentParser

/// The one binary: `serve`, and (as they land) the client subcommands, `work` and `bench`.
@main
struct TaskwireCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "taskwire",
    abstract: "Taskwire: a networked task queue.",
    subcommands: [
      ServeCommand.self, SubmitCommand.self, GetCommand.self, ListCommand.self, WatchCommand.self,
      CancelCommand.self, RetryCommand.self, DeleteCommand.self, StatsCommand.self,
      WorkersCommand.self, QueueCommand.self, TokenCommand.self, WorkCommand.self,
      BenchCommand.self, IdleConnectionsCommand.self,
    ]
  )
}
