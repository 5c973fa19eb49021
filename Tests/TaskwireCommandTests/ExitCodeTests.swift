import ArgumentParser
import Foundation
import Taskwire
import Testing

@testable import taskwire

@Suite("Exit codes: one line on stderr, a documented code")
struct ExitCodeTests {
  @Test(
    "TaskwireError codes map to the documented exit codes",
    arguments: [
      (TaskwireError.Code.notFound, CLIExitCode.notFound, Int32(4)),
      (.unauthenticated, .denied, 5),
      (.permissionDenied, .denied, 5),
      (.unavailable, .unavailable, 6),
      (.invalidArgument, .refused, 3),
      (.alreadyExists, .refused, 3),
      (.conflict, .refused, 3),
      (.failedPrecondition, .refused, 3),
      (.leaseLost, .refused, 3),
      (.resourceExhausted, .refused, 3),
      (.deadlineExceeded, .refused, 3),
      (.internal, .refused, 3),
      (.cancelled, .refused, 3),
    ]
  )
  func mapping(code: TaskwireError.Code, expected: CLIExitCode, raw: Int32) {
    let error = TaskwireError(code: code, message: "m")
    #expect(CLIExitCode(for: error) == expected)
    #expect(expected.rawValue == raw)
    let (exit, line) = TaskwireCommand.outcome(for: error)
    #expect(exit == raw)
    #expect(line == "\(code): m")
  }

  @Test("The line names the status code and stays one line")
  func oneLine() {
    let error = TaskwireError(code: .notFound, message: "no task with id X\nsecond line")
    let (exit, line) = TaskwireCommand.outcome(for: error)
    #expect(exit == 4)
    #expect(line == "NOT_FOUND: no task with id X second line")
  }

  @Test("A task that ended FAILED or CANCELLED exits 1")
  func taskFailure() {
    for state in [TaskState.failed, .cancelled] {
      let failure = TaskFailure(
        taskID: "T1",
        state: state,
        message: "exit code 3: boom",
        attempts: 2
      )
      let (exit, line) = TaskwireCommand.outcome(for: failure)
      #expect(exit == 1)
      #expect(line == "task T1 \(state) after 2 attempt(s): exit code 3: boom")
    }
  }

  @Test("Usage errors exit 2, not the parser's 64")
  func usage() {
    let parseError = #expect(throws: (any Error).self) {
      try TaskwireCommand.parseAsRoot(["submit"])
    }
    let (exit, line) = TaskwireCommand.outcome(for: parseError!)
    #expect(exit == 2)
    #expect(line?.contains("<type>") == true)
    #expect(line?.contains("\n") == false)

    let unknown = #expect(throws: (any Error).self) {
      try TaskwireCommand.parseAsRoot(["get", "X", "--bogus"])
    }
    #expect(TaskwireCommand.outcome(for: unknown!).0 == 2)
    #expect(TaskwireCommand.outcome(for: CLIFailure.usage("no address")).0 == 2)
  }

  @Test("Every client command documents the table")
  func documented() {
    let commands: [any ParsableCommand.Type] = [
      SubmitCommand.self, GetCommand.self, ListCommand.self, WatchCommand.self,
      CancelCommand.self, RetryCommand.self, DeleteCommand.self, StatsCommand.self,
      WorkersCommand.self, QueueCommand.Pause.self, QueueCommand.Resume.self,
      TokenCommand.Create.self, TokenCommand.List.self, TokenCommand.Revoke.self,
      WorkCommand.self,
    ]
    for command in commands {
      #expect(command.configuration.discussion.contains("6 UNAVAILABLE"), "\(command)")
    }
  }
}
