import Foundation
import Synchronization
import Taskwire
import Testing

@testable import taskwire

@Suite("work --exec: progress lines, outcomes, and the command's process")
struct ExecHandlerTests {
  static let progressCases: [(String, ProgressLine?)] = [
    ("progress 40 resizing", ProgressLine(percent: 40, message: "resizing")),
    ("progress 100", .init(percent: 100, message: "")),
    ("  progress 7% step two  ", .init(percent: 7, message: "step two")),
    ("progress\t0\tstart", .init(percent: 0, message: "start")),
    ("progress 250 too much", .init(percent: 100, message: "too much")),
    ("progress", nil),
    ("progress x", nil),
    ("progress 40x", nil),
    ("progress 1000", nil),
    ("progressive 4", nil),
    ("error: progress 40", nil),
  ]

  @Test("Progress lines parse; other lines are not progress", arguments: Self.progressCases)
  func progressLines(line: String, expected: ProgressLine?) {
    #expect(ProgressLine(line) == expected)
  }

  private func handler(permanent: Set<Int32> = [3]) -> ExecHandler {
    ExecHandler(
      command: "true",
      permanentExitCodes: permanent,
      gracePeriod: .seconds(1),
      resultContentType: "text/plain"
    )
  }

  private func outcome(
    exit: Int32?,
    signal: Int32? = nil,
    stdout: String = "",
    tail: [String] = [],
    cancelled: Bool = false,
    truncated: Bool = false
  ) -> ShellCommand.Outcome {
    .init(
      exitCode: exit,
      signal: signal,
      stdout: Data(stdout.utf8),
      stdoutTruncated: truncated,
      stderrTail: tail,
      cancelled: cancelled
    )
  }

  @Test("Exit 0 completes with stdout as the result")
  func success() throws {
    let result = try self.handler().result(of: self.outcome(exit: 0, stdout: "OUT"))
    #expect(result == TaskResult(Data("OUT".utf8), contentType: "text/plain"))
  }

  @Test("A listed exit code fails for good; others, and signals, fail retryably")
  func failures() {
    let permanent = #expect(throws: NonRetryableError.self) {
      try self.handler().result(of: self.outcome(exit: 3, tail: ["bad input"]))
    }
    #expect(permanent?.message == "exit code 3: bad input")
    let retryable = #expect(throws: ExecHandler.CommandFailed.self) {
      try self.handler().result(of: self.outcome(exit: 1, tail: ["a", "b"]))
    }
    #expect(retryable?.description == "exit code 1: a | b")
    let killed = #expect(throws: ExecHandler.CommandFailed.self) {
      try self.handler().result(of: self.outcome(exit: nil, signal: 9))
    }
    #expect(killed?.description == "killed by signal 9")
    #expect(throws: NonRetryableError.self) {
      try self.handler().result(of: self.outcome(exit: 0, truncated: true))
    }
  }

  @Test("A cancelled run throws CancellationError, so the worker acknowledges the cancel")
  func cancelled() {
    #expect(throws: CancellationError.self) {
      try self.handler().result(of: self.outcome(exit: nil, signal: 15, cancelled: true))
    }
  }

  @Test("The command gets the payload on stdin, the task's environment, and its stderr lines")
  func realCommand() async throws {
    let lines = Mutex<[String]>([])
    let shell = ShellCommand(
      command: """
        echo "progress 10 start" >&2; echo "id=$TASKWIRE_TASK_ID attempt=$TASKWIRE_ATTEMPT" >&2
        tr a-z A-Z; printf 'no newline' >&2; exit 0
        """,
      environment: ["TASKWIRE_TASK_ID": "T9", "TASKWIRE_ATTEMPT": "2"]
    )
    let outcome = try await shell.run(stdin: Data("hello".utf8)) { line in
      lines.withLock { $0.append(line) }
    }
    #expect(outcome.exitCode == 0 && !outcome.cancelled)
    #expect(outcome.stdout == Data("HELLO".utf8))
    #expect(lines.withLock { $0 } == ["progress 10 start", "id=T9 attempt=2", "no newline"])
    #expect(outcome.stderrTail == ["id=T9 attempt=2", "no newline"])
  }

  @Test("A large payload and output do not deadlock the pipes")
  func largeBodies() async throws {
    let payload = Data(repeating: UInt8(ascii: "a"), count: 600_000)
    let outcome = try await ShellCommand(command: "cat", environment: [:])
      .run(stdin: payload) { _ in }
    #expect(outcome.exitCode == 0)
    #expect(outcome.stdout == payload)
  }

  @Test("A command that ignores its stdin still finishes")
  func ignoresStdin() async throws {
    let payload = Data(repeating: 1, count: 1_000_000)
    let outcome = try await ShellCommand(command: "exit 4", environment: [:])
      .run(stdin: payload) { _ in }
    #expect(outcome.exitCode == 4)
  }

  @Test("Cancelling terminates the whole process group: SIGTERM first")
  func cancelTerminates() async throws {
    let started = Mutex(false)
    let shell = ShellCommand(
      command: "echo started >&2; sleep 60; echo never",
      environment: [:],
      gracePeriod: .seconds(30)
    )
    let run = Task {
      try await shell.run(stdin: Data()) { line in
        if line == "started" { started.withLock { $0 = true } }
      }
    }
    try await waitUntil("the command started") { started.withLock { $0 } }
    run.cancel()
    let outcome = try await run.value
    #expect(outcome.cancelled)
    #expect(outcome.signal == 15)  // sh died of SIGTERM long before the 30 s grace period
    #expect(outcome.stdout.isEmpty)  // and its child `sleep` went with it
  }

  @Test("A cancel reaches a command that closed its stdout and stderr")
  func cancelAfterPipesClosed() async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("tw-exec-\(UUID().uuidString)").path
    let marker = directory + ".started"
    defer { try? FileManager.default.removeItem(atPath: marker) }
    let shell = ShellCommand(
      command: "exec >&- 2>&-; touch '\(marker)'; sleep 60",
      environment: [:],
      gracePeriod: .seconds(30)
    )
    let run = Task { try await shell.run(stdin: Data()) { _ in } }
    try await waitUntil("the command started") { FileManager.default.fileExists(atPath: marker) }
    run.cancel()
    let outcome = try await run.value
    #expect(outcome.cancelled && outcome.signal == 15)
  }

  @Test("A command that ignores SIGTERM gets SIGKILL after the grace period")
  func cancelKills() async throws {
    let started = Mutex(false)
    let shell = ShellCommand(
      command: "trap '' TERM; echo started >&2; while :; do sleep 0.05; done",
      environment: [:],
      gracePeriod: .milliseconds(200)
    )
    let run = Task {
      try await shell.run(stdin: Data()) { line in
        if line == "started" { started.withLock { $0 = true } }
      }
    }
    try await waitUntil("the command started") { started.withLock { $0 } }
    run.cancel()
    let outcome = try await run.value
    #expect(outcome.cancelled)
    #expect(outcome.signal == 9)
  }
}

/// Polls `condition` until it holds, failing after `timeout`.
func waitUntil(
  _ what: String,
  timeout: Duration = .seconds(60),
  _ condition: () async throws -> Bool
) async throws {
  let deadline = ContinuousClock.now.advanced(by: timeout)
  while try await !condition() {
    guard ContinuousClock.now < deadline else {
      Issue.record("timed out waiting for \(what)")
      throw TimedOut(what: what)
    }
    try await Task.sleep(for: .milliseconds(20))
  }
}

struct TimedOut: Error, CustomStringConvertible {
  var what: String
  var description: String { "timed out waiting for \(self.what)" }
}
