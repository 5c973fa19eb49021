import ArgumentParser
import Foundation
import Taskwire

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `taskwire watch`: live task events, as progress bars on a terminal or JSON lines when piped.
struct WatchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "watch",
    abstract: "Watch tasks live: progress bars on a terminal, JSON lines when piped.",
    discussion: """
      With task ids, starts from each task's current state (a SNAPSHOT event) and ends once \
      every one of them has finished. Without ids, watches every task matching --queue, \
      --type and --created-by until interrupted. --after SEQ replays the events after that \
      sequence number first (no snapshots). When stdout is not a terminal (or with --json), \
      prints one JSON object per event per line; on a terminal, one progress bar per task.

      \(CLIExitCode.table)
      """
  )

  @OptionGroup var connection: ConnectionOptions

  @Argument(help: "Task ids to watch (none: every task matching the filters).")
  var ids: [String] = []

  @Option(name: .long, help: "Only this queue (repeatable; without ids).")
  var queue: [String] = []

  @Option(name: .long, help: "Only this task type (repeatable; without ids).")
  var type: [String] = []

  @Option(
    name: .customLong("created-by"),
    help: "Only tasks created by this token name (their created_by metadata; without ids)."
  )
  var createdBy: String?

  @Option(name: .long, help: "Replay the events after this sequence number first.")
  var after: UInt64?

  @Flag(name: .long, help: "JSON lines even on a terminal.")
  var json = false

  func validate() throws {
    if !self.ids.isEmpty, !self.queue.isEmpty || !self.type.isEmpty || self.createdBy != nil {
      throw ValidationError(
        "watch either task ids or --queue/--type/--created-by filters, not both"
      )
    }
    if let createdBy = self.createdBy, createdBy.isEmpty {
      throw ValidationError("--created-by needs a name")
    }
  }

  /// The filter this command line asks for (without ids).
  func filter() -> TaskFilter {
    var filter = TaskFilter(queues: self.queue, types: self.type)
    filter.createdBy = self.createdBy
    return filter
  }

  func run() async throws {
    let jsonLines = self.json || !Output.isTerminal
    var renderer = WatchRenderer(
      maxRows: max(1, Terminal.size().rows - 1),
      colour: ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    )
    let ids = self.ids.map { TaskID($0) }
    try await self.connection.withClient { client in
      // A watch resumes across outages by itself; fail fast (exit 6) if the server is down now.
      _ = try await client.health()
      let events =
        ids.isEmpty
        ? client.watch(filter: self.filter(), after: self.after)
        : client.watch(ids, after: self.after)
      var finished: Set<String> = []
      for try await event in events {
        if jsonLines {
          Output.line(JSONOutput.line(JSONOutput.event(event)))
        } else {
          renderer.apply(event)
          Output.write(renderer.frame(width: Terminal.size().columns))
        }
        if !ids.isEmpty,
          event.kind == .deleted || (event.state.isTerminal && event.kind != .progress)
        {
          finished.insert(event.taskID.rawValue)
          if finished.count == Set(self.ids).count { break }
        }
      }
    }
  }
}

/// The terminal's size, from the tty or `COLUMNS`/`LINES`, else 80 × 24.
enum Terminal {
  static func size() -> (columns: Int, rows: Int) {
    var size = winsize()
    #if canImport(Glibc)
      let request = UInt(TIOCGWINSZ)
    #else
      let request = TIOCGWINSZ
    #endif
    if ioctl(STDOUT_FILENO, request, &size) == 0, size.ws_col > 0 {
      return (Int(size.ws_col), max(Int(size.ws_row), 2))
    }
    let environment = ProcessInfo.processInfo.environment
    return (
      environment["COLUMNS"].flatMap(Int.init) ?? 80, environment["LINES"].flatMap(Int.init) ?? 24
    )
  }
}
