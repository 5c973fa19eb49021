import ArgumentParser
import Foundation
import Taskwire
import Testing

@testable import taskwire

@Suite("Client subcommands: argument parsing")
struct ClientArgumentTests {
  @Test("submit maps every TaskSpec option")
  func submitOptions() throws {
    let command = try SubmitCommand.parse([
      "images.resize", "{\"w\":64}", "--queue", "media", "--priority=-3", "--delay-ms", "1500",
      "--key", "k-1", "--max-attempts", "7", "--lease-ms", "60000", "--timeout-ms", "9000",
      "--metadata", "trace=abc", "--metadata", "expr=a=b", "--parent", "01PARENT",
      "--content-type", "application/json", "--wait", "--json",
    ])
    #expect(command.type == "images.resize")
    #expect(try command.readPayload() == Data("{\"w\":64}".utf8))
    #expect(command.contentType == "application/json")
    #expect(command.wait && command.json)
    let options = try command.options()
    #expect(options.queue == "media")
    #expect(options.priority == -3)
    #expect(options.delay == .milliseconds(1500))
    #expect(options.runAt == nil)
    #expect(options.idempotencyKey == "k-1")
    #expect(options.maxAttempts == 7)
    #expect(options.leaseDuration == .seconds(60))
    #expect(options.executionTimeout == .seconds(9))
    #expect(options.metadata == ["trace": "abc", "expr": "a=b"])
    #expect(options.parent == TaskID("01PARENT"))
  }

  @Test("submit --run-at is Unix milliseconds; defaults leave the server's defaults")
  func submitRunAtAndDefaults() throws {
    let command = try SubmitCommand.parse(["t", "--run-at", "1700000000123"])
    let options = try command.options()
    #expect(options.runAt == Date(timeIntervalSince1970: 1_700_000_000.123))
    #expect(options.delay == nil)
    let plain = try SubmitCommand.parse(["t"]).options()
    #expect(plain.queue == nil && plain.maxAttempts == nil && plain.leaseDuration == nil)
    #expect(try SubmitCommand.parse(["t"]).readPayload().isEmpty)
  }

  @Test("submit reads the payload from --file")
  func submitFile() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("tw-payload-\(UUID().uuidString)").path
    try Data([0, 1, 2, 255]).write(to: URL(fileURLWithPath: path))
    let command = try SubmitCommand.parse(["t", "--file", path])
    #expect(try command.readPayload() == Data([0, 1, 2, 255]))
    let missing = try SubmitCommand.parse(["t", "--file", path + ".missing"])
    #expect(throws: CLIFailure.self) { try missing.readPayload() }
  }

  @Test(
    "submit rejects contradictory or malformed options",
    arguments: [
      ["t", "x", "--file", "/etc/hostname"],
      ["t", "--delay-ms", "1", "--run-at", "2"],
      ["t", "--delay-ms", "-5"],
      ["t", "--metadata", "novalue"],
      ["t", "--metadata", "=v"],
      [],
    ]
  )
  func submitRejects(arguments: [String]) {
    #expect(throws: (any Error).self) { try SubmitCommand.parse(arguments) }
  }

  @Test("list builds its filter; unknown states are usage errors")
  func listFilter() throws {
    let command = try ListCommand.parse([
      "--queue", "a", "--queue", "b", "--type", "t", "--state", "failed", "--state", "RUNNING",
      "--limit", "5", "--json", "--created-by", "alice",
    ])
    let filter = try command.filter()
    #expect(filter.createdBy == "alice")
    #expect(try ListCommand.parse([]).filter().createdBy == nil)
    #expect(filter.queues == ["a", "b"])
    #expect(filter.types == ["t"])
    #expect(filter.states == [.failed, .running])
    #expect(command.limit == 5 && command.json)
    #expect(throws: (any Error).self) { try ListCommand.parse(["--state", "exploded"]) }
    #expect(throws: (any Error).self) { try ListCommand.parse(["--limit", "0"]) }
  }

  @Test("watch takes ids or filters (--queue, --type, --created-by), and --after")
  func watchArguments() throws {
    let byID = try WatchCommand.parse(["A", "B", "--after", "42"])
    #expect(byID.ids == ["A", "B"] && byID.after == 42)
    let filtered = try WatchCommand.parse(["--queue", "q", "--type", "t"])
    #expect(filtered.ids.isEmpty && filtered.queue == ["q"] && filtered.type == ["t"])
    #expect(filtered.filter().createdBy == nil)
    #expect(throws: (any Error).self) { try WatchCommand.parse(["A", "--queue", "q"]) }
    let byCreator = try WatchCommand.parse(["--created-by", "alice", "--queue", "q"])
    #expect(byCreator.filter().createdBy == "alice")
    #expect(byCreator.filter().queues == ["q"])
    #expect(throws: (any Error).self) { try WatchCommand.parse(["A", "--created-by", "alice"]) }
    #expect(throws: (any Error).self) { try WatchCommand.parse(["--created-by", ""]) }
  }

  @Test("Every subcommand is reachable from the root")
  func subcommandTree() throws {
    func parsed(_ arguments: [String]) throws -> any ParsableCommand {
      try TaskwireCommand.parseAsRoot(arguments)
    }
    #expect(try parsed(["get", "X"]) is GetCommand)
    #expect(try parsed(["cancel", "X", "--reason", "no"]) is CancelCommand)
    #expect(
      (try parsed(["retry", "X", "--reset-attempts"]) as? RetryCommand)?.resetAttempts == true
    )
    #expect(try parsed(["delete", "X"]) is DeleteCommand)
    #expect((try parsed(["stats", "--json"]) as? StatsCommand)?.json == true)
    #expect(try parsed(["workers"]) is WorkersCommand)
    #expect((try parsed(["queue", "pause", "q"]) as? QueueCommand.Pause)?.queue == "q")
    #expect((try parsed(["queue", "resume", "q"]) as? QueueCommand.Resume)?.queue == "q")
    let create = try parsed(["token", "create", "ci", "--role", "worker"]) as? TokenCommand.Create
    #expect(create?.name == "ci" && create?.role == "worker")
    #expect(try parsed(["token", "list"]) is TokenCommand.List)
    #expect((try parsed(["token", "revoke", "ci"]) as? TokenCommand.Revoke)?.idOrName == "ci")
    #expect(throws: (any Error).self) { try parsed(["token", "create", "ci", "--role", "root"]) }
    #expect(throws: (any Error).self) { try parsed(["token", "create", "ci"]) }
  }

  @Test("work: types, concurrency, permanent exit codes")
  func workArguments() throws {
    let command = try WorkCommand.parse([
      "--queue", "media", "--type", "resize", "--type", "crop", "--exec", "./resize.sh",
      "--concurrency", "4", "--permanent-exit-codes", "2, 3",
    ])
    #expect(command.queue == ["media"] && command.type == ["resize", "crop"])
    #expect(command.concurrency == 4)
    #expect(try command.handler().permanentExitCodes == [2, 3])
    #expect(throws: (any Error).self) {
      try WorkCommand.parse(["--type", "t", "--exec", "x", "--permanent-exit-codes", "0"])
    }
    #expect(throws: (any Error).self) {
      try WorkCommand.parse(["--type", "t", "--exec", "x", "--concurrency", "0"])
    }
    #expect(throws: (any Error).self) { try WorkCommand.parse(["--exec", "x"]) }
    #expect(throws: (any Error).self) { try WorkCommand.parse(["--type", "t"]) }
  }
}
