import Foundation
import Taskwire

/// The task handler of `taskwire work --exec`: runs the command once per task and turns its exit
/// into the task's outcome.
///
/// - exit 0: the task completes with the command's stdout as its result;
/// - an exit code listed in ``permanentExitCodes``: the task fails for good;
/// - any other exit code, or death by a signal: the attempt fails and is retried;
/// - the task's cancel (or execution timeout, or the worker's shutdown timeout) cancels the
///   handler, which terminates the command; the worker then acknowledges the cancel (or fails
///   the attempt, or releases the lease).
struct ExecHandler: Sendable {
  /// The failure of one attempt, as recorded on the task.
  struct CommandFailed: Error, CustomStringConvertible {
    var description: String
  }

  var command: String
  var permanentExitCodes: Set<Int32>
  var gracePeriod: Duration
  var resultContentType: String
  /// Where stderr lines that are not progress reports go.
  var passThrough: @Sendable (String) -> Void = { line in
    FileHandle.standardError.write(Data((line + "\n").utf8))
  }

  /// The environment the command sees on top of the worker's.
  static func environment(for task: LeasedTask) -> [String: String] {
    [
      "TASKWIRE_TASK_ID": task.id.rawValue,
      "TASKWIRE_ATTEMPT": String(task.attempt),
      "TASKWIRE_TASK_TYPE": task.type,
      "TASKWIRE_QUEUE": task.queue,
    ]
  }

  /// Runs the command for `task`, reporting its progress lines through `progress`.
  func run(
    _ task: LeasedTask,
    progress: @escaping @Sendable (Int, String) async -> Void
  ) async throws -> TaskResult {
    let shell = ShellCommand(
      command: self.command,
      environment: Self.environment(for: task),
      gracePeriod: self.gracePeriod
    )
    // Progress lines arrive on the I/O thread; the newest waiting one is sent, older ones are
    // superseded (the server coalesces progress anyway).
    let (reports, reporter) = AsyncStream.makeStream(
      of: ProgressLine.self,
      bufferingPolicy: .bufferingNewest(1)
    )
    let passThrough = self.passThrough
    let outcome = try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        for await report in reports { await progress(report.percent, report.message) }
      }
      defer { reporter.finish() }
      let outcome = try await shell.run(stdin: task.payload) { line in
        if let report = ProgressLine(line) {
          reporter.yield(report)
        } else {
          passThrough(line)
        }
      }
      reporter.finish()
      try await group.waitForAll()  // the last progress is recorded before the outcome
      return outcome
    }
    return try self.result(of: outcome)
  }

  /// The task's outcome for a finished command.
  func result(of outcome: ShellCommand.Outcome) throws -> TaskResult {
    if outcome.cancelled {
      throw CancellationError()
    }
    let detail =
      outcome.stderrTail.isEmpty ? "" : ": " + outcome.stderrTail.joined(separator: " | ")
    guard let code = outcome.exitCode else {
      throw CommandFailed(description: "killed by signal \(outcome.signal ?? 0)\(detail)")
    }
    if code == 0 {
      if outcome.stdoutTruncated {
        throw NonRetryableError(
          "the command's output is larger than the \(outcome.stdout.count)-byte result limit"
        )
      }
      return TaskResult(outcome.stdout, contentType: self.resultContentType)
    }
    let message = "exit code \(code)\(detail)"
    if self.permanentExitCodes.contains(code) {
      throw NonRetryableError(message)
    }
    throw CommandFailed(description: message)
  }
}
