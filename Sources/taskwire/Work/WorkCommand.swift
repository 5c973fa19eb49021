import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Taskwire
import UnixSignals

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `taskwire work --exec CMD`: turns any command into a worker.
struct WorkCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "work",
    abstract: "Run a shell command for every task: a worker from any script.",
    discussion: """
      For each leased task, runs /bin/sh -c CMD with the payload on stdin and TASKWIRE_TASK_ID, \
      TASKWIRE_ATTEMPT, TASKWIRE_TASK_TYPE and TASKWIRE_QUEUE in its environment. Its stdout is \
      the task's result. A stderr line `progress 40 resizing` reports progress (40 %, \
      "resizing"); other stderr lines go to this worker's stderr. Exit 0 completes the task; \
      an exit code listed in --permanent-exit-codes fails it for good; any other exit fails the \
      attempt, retried by the task's policy. Cancelling the task sends SIGTERM to the command's \
      process group, then SIGKILL after --grace-ms, and acknowledges the cancel. SIGINT or \
      SIGTERM stops leasing and lets running commands finish within --shutdown-timeout-ms \
      (then they are terminated and their tasks handed back without using an attempt).

      Needs a worker or admin token.

      \(CLIExitCode.table)
      """
  )

  @OptionGroup var connection: ConnectionOptions

  @Option(name: .long, help: "Queue to lease from (repeatable; default: default).")
  var queue: [String] = []

  @Option(name: .long, help: "Task type to handle (repeatable).")
  var type: [String]

  @Option(name: .long, help: "The shell command run for each task.")
  var exec: String

  @Option(name: .long, help: "Commands running at once (default 1).")
  var concurrency: Int = 1

  @Option(name: .long, help: "Exit codes that fail the task for good, e.g. 2,3.")
  var permanentExitCodes: String = ""

  @Option(
    name: .customLong("grace-ms"),
    help: "SIGTERM to SIGKILL on cancel, in ms (default 5000)."
  )
  var graceMs: Int64 = 5000

  @Option(
    name: .customLong("shutdown-timeout-ms"),
    help: "On SIGINT/SIGTERM, how long running commands may finish, in ms (default 30000)."
  )
  var shutdownTimeoutMs: Int64 = 30_000

  @Option(name: .long, help: "Content type recorded with each result.")
  var resultContentType: String = ""

  func validate() throws {
    guard !self.type.isEmpty else { throw ValidationError("give at least one --type") }
    guard self.concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    guard self.graceMs >= 0, self.shutdownTimeoutMs >= 0 else {
      throw ValidationError("--grace-ms and --shutdown-timeout-ms must not be negative")
    }
    _ = try Self.exitCodes(self.permanentExitCodes)
  }

  /// `2,3` → {2, 3}.
  static func exitCodes(_ text: String) throws -> Set<Int32> {
    var codes: Set<Int32> = []
    for part in text.split(separator: ",") {
      let trimmed = part.trimmingCharacters(in: .whitespaces)
      guard let code = Int32(trimmed), (1...255).contains(code) else {
        throw ValidationError("--permanent-exit-codes: \(trimmed) is not an exit code 1...255")
      }
      codes.insert(code)
    }
    return codes
  }

  /// The handler this command line asks for.
  func handler() throws -> ExecHandler {
    ExecHandler(
      command: self.exec,
      permanentExitCodes: try Self.exitCodes(self.permanentExitCodes),
      gracePeriod: .milliseconds(self.graceMs),
      resultContentType: self.resultContentType
    )
  }

  func run() async throws {
    // A command that exits before reading its stdin must not kill the worker with SIGPIPE.
    signal(SIGPIPE, SIG_IGN)
    var connection = try self.connection.configuration(clientName: "taskwire-work")
    connection.timeouts.connect = .seconds(5)
    var configuration = TaskwireWorker.Configuration(
      connection: connection,
      queues: self.queue.isEmpty ? ["default"] : self.queue
    )
    configuration.maxConcurrentTasks = self.concurrency
    configuration.shutdownTimeout = .milliseconds(self.shutdownTimeoutMs)

    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel =
        ProcessInfo.processInfo.environment["TASKWIRE_LOG_LEVEL"].flatMap {
          Logger.Level(rawValue: $0)
        }
        ?? .warning
      return handler
    }
    let logger = Logger(label: "taskwire.work")
    let worker = try TaskwireWorker(configuration: configuration, logger: logger)
    let handler = try self.handler()
    for type in self.type {
      worker.register(type: type) { task, context in
        try await handler.run(task) { percent, message in
          try? await context.progress(percent, message)
        }
      }
    }
    let endpoint = connection.endpoints.map(\.description).joined(separator: ",")
    FileHandle.standardError.write(
      Data(
        ("taskwire work: \(endpoint), queues \(configuration.queues.joined(separator: ",")), "
          + "types \(self.type.joined(separator: ",")), concurrency \(self.concurrency)\n").utf8
      )
    )
    var groupConfiguration = ServiceGroupConfiguration(
      services: [.init(service: worker)],
      gracefulShutdownSignals: [.sigterm, .sigint],
      logger: logger
    )
    // Past the drain (and the releases after it), stop anyway.
    groupConfiguration.maximumGracefulShutdownDuration =
      .milliseconds(self.shutdownTimeoutMs) + .seconds(15)
    let group = ServiceGroup(configuration: groupConfiguration)
    try await group.run()
  }
}
