import ArgumentParser
import Foundation
import Taskwire

/// `taskwire submit TYPE [PAYLOAD]`: submits one task, optionally waiting for its result.
struct SubmitCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "submit",
    abstract: "Submit a task.",
    discussion: """
      The payload comes from PAYLOAD, from --file, or from stdin when PAYLOAD is -; none means \
      an empty payload. Prints the new task's id (or, with --json, the task as JSON). With \
      --wait it waits for the task to end and prints its result bytes to stdout.

      \(CLIExitCode.table)
      """
  )

  @OptionGroup var connection: ConnectionOptions

  @Argument(help: "The task type, e.g. images.resize.")
  var type: String

  @Argument(help: "The payload text; - reads it from stdin.")
  var payload: String?

  @Option(name: .long, help: "Read the payload from this file.")
  var file: String?

  @Option(name: .long, help: "The queue (default: default).")
  var queue: String?

  @Option(name: .long, help: "Priority, higher runs first (default 0; negative: --priority=-1).")
  var priority: Int32 = 0

  @Option(name: .customLong("delay-ms"), help: "Run no earlier than this many ms from now.")
  var delayMs: Int64?

  @Option(name: .customLong("run-at"), help: "Run no earlier than this Unix time in ms.")
  var runAt: Int64?

  @Option(name: .customLong("key"), help: "Idempotency key, unique per queue.")
  var idempotencyKey: String?

  @Option(name: .long, help: "Attempts before the task fails for good (server default 5).")
  var maxAttempts: Int32?

  @Option(name: .customLong("lease-ms"), help: "Lease duration in ms (server default 30000).")
  var leaseMs: Int64?

  @Option(name: .customLong("timeout-ms"), help: "Execution timeout of one attempt in ms.")
  var timeoutMs: Int64?

  @Option(name: .long, help: "Metadata KEY=VALUE (repeatable).")
  var metadata: [String] = []

  @Option(name: .long, help: "The parent task's id.")
  var parent: String?

  @Option(name: .long, help: "The payload's content type, e.g. application/json.")
  var contentType: String = ""

  @Flag(name: .long, help: "Wait for the task to end; print its result; exit 1 if it failed.")
  var wait = false

  @Flag(name: .long, help: "Print the task as JSON.")
  var json = false

  func validate() throws {
    if self.payload != nil, self.file != nil {
      throw ValidationError("give the payload as an argument or with --file, not both")
    }
    if self.delayMs != nil, self.runAt != nil {
      throw ValidationError("--delay-ms and --run-at exclude each other")
    }
    for (name, value) in [
      ("--delay-ms", self.delayMs), ("--run-at", self.runAt), ("--lease-ms", self.leaseMs),
      ("--timeout-ms", self.timeoutMs),
    ] {
      if let value, value < 0 { throw ValidationError("\(name) must not be negative") }
    }
    _ = try Parse.metadata(self.metadata)
  }

  /// The options this command line asks for.
  func options() throws -> TaskOptions {
    var options = TaskOptions()
    options.queue = self.queue
    options.priority = self.priority
    options.delay = self.delayMs.map { .milliseconds($0) }
    options.runAt = self.runAt.map { Date(timeIntervalSince1970: Double($0) / 1000) }
    options.idempotencyKey = self.idempotencyKey
    options.maxAttempts = self.maxAttempts
    options.leaseDuration = self.leaseMs.map { .milliseconds($0) }
    options.executionTimeout = self.timeoutMs.map { .milliseconds($0) }
    options.metadata = try Parse.metadata(self.metadata)
    options.parent = self.parent.map { TaskID($0) }
    return options
  }

  /// The payload bytes from the argument, the file, or stdin.
  func readPayload() throws -> Data {
    if let file = self.file {
      guard let data = FileManager.default.contents(atPath: file) else {
        throw CLIFailure.usage("cannot read the payload file \(file)")
      }
      return data
    }
    switch self.payload {
    case nil: return Data()
    case "-": return FileHandle.standardInput.readDataToEndOfFile()
    case let text?: return Data(text.utf8)
    }
  }

  func run() async throws {
    let payload = try self.readPayload()
    let options = try self.options()
    try await self.connection.withClient { client in
      let submission = try await client.submit(
        type: self.type,
        payload: payload,
        contentType: self.contentType,
        options: options
      )
      guard self.wait else {
        if self.json {
          var object = JSONOutput.task(submission.task)
          object["existing"] = submission.existing
          Output.line(JSONOutput.document(object))
        } else {
          Output.line(submission.task.id.rawValue)
        }
        return
      }
      do {
        let final = try await client.waitForCompletion(of: submission.task.id)
        if self.json {
          Output.line(JSONOutput.document(JSONOutput.task(final)))
        } else {
          FileHandle.standardOutput.write(final.result ?? Data())
        }
      } catch let failure as TaskFailure {
        if self.json, let final = try? await client.get(submission.task.id) {
          Output.line(JSONOutput.document(JSONOutput.task(final)))
        }
        throw failure
      }
    }
  }
}
