import ArgumentParser
import Foundation
import Taskwire

/// `taskwire stats`: per-queue counts (admin).
struct StatsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats",
    abstract: "Per-queue counts: pending, running, failed, stuck, ... (admin token).",
    discussion: CLIExitCode.table
  )

  @OptionGroup var connection: ConnectionOptions

  @Option(name: .long, help: "Only this queue (repeatable).")
  var queue: [String] = []

  @Flag(name: .long, help: "One JSON object per queue, one per line.")
  var json = false

  func run() async throws {
    let stats = try await self.connection.withClient { client in
      try await client.stats(queues: self.queue)
    }
    if self.json {
      for queue in stats { Output.line(JSONOutput.line(Self.object(queue))) }
    } else {
      Output.line(Self.render(stats))
    }
  }

  static func object(_ stats: QueueStats) -> [String: Any] {
    [
      "queue": stats.queue, "paused": stats.paused, "pending": stats.pending,
      "scheduled": stats.scheduled, "running": stats.running, "retrying": stats.retrying,
      "succeeded": stats.succeeded, "failed": stats.failed, "cancelled": stats.cancelled,
      "stuck": stats.stuck, "oldest_pending_ms": JSONOutput.milliseconds(stats.oldestPending),
    ]
  }

  static func render(_ stats: [QueueStats]) -> String {
    Human.table(
      [
        "QUEUE", "PAUSED", "PENDING", "SCHEDULED", "RUNNING", "RETRYING", "SUCCEEDED", "FAILED",
        "CANCELLED", "STUCK", "OLDEST PENDING",
      ],
      stats.map { queue in
        [
          queue.queue, queue.paused ? "yes" : "no", "\(queue.pending)", "\(queue.scheduled)",
          "\(queue.running)", "\(queue.retrying)", "\(queue.succeeded)", "\(queue.failed)",
          "\(queue.cancelled)", "\(queue.stuck)", Human.time(queue.oldestPending),
        ]
      }
    )
  }
}

/// `taskwire workers`: the worker registry (admin).
struct WorkersCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "workers",
    abstract: "Connected workers, the tasks they hold, their last heartbeat (admin token).",
    discussion: CLIExitCode.table
  )

  @OptionGroup var connection: ConnectionOptions

  @Flag(name: .long, help: "One JSON object per worker, one per line.")
  var json = false

  func run() async throws {
    let workers = try await self.connection.withClient { client in
      try await client.workers()
    }
    if self.json {
      for worker in workers {
        let object: [String: Any] = [
          "id": worker.id, "name": worker.name, "address": worker.address,
          "queues": worker.queues, "task_ids": worker.taskIDs.map(\.rawValue),
          "last_heartbeat_ms": JSONOutput.milliseconds(worker.lastHeartbeat),
          "connected_ms": JSONOutput.milliseconds(worker.connected),
        ]
        Output.line(JSONOutput.line(object))
      }
    } else {
      Output.line(
        Human.table(
          ["ID", "NAME", "ADDRESS", "QUEUES", "TASKS", "LAST HEARTBEAT", "CONNECTED"],
          workers.map { worker in
            [
              worker.id, worker.name, worker.address, worker.queues.joined(separator: ","),
              "\(worker.taskIDs.count)", Human.time(worker.lastHeartbeat),
              Human.time(worker.connected),
            ]
          }
        )
      )
    }
  }
}

/// `taskwire queue pause|resume Q` (admin).
struct QueueCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "queue",
    abstract: "Pause or resume leasing from a queue (admin token).",
    subcommands: [Pause.self, Resume.self]
  )

  struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "pause",
      abstract: "Stop leasing from a queue; submits are still accepted.",
      discussion: CLIExitCode.table
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queue.")
    var queue: String

    func run() async throws {
      try await self.connection.withClient { client in try await client.pauseQueue(self.queue) }
      Output.line("queue \(self.queue) paused")
    }
  }

  struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "resume",
      abstract: "Resume leasing from a queue.",
      discussion: CLIExitCode.table
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queue.")
    var queue: String

    func run() async throws {
      try await self.connection.withClient { client in try await client.resumeQueue(self.queue) }
      Output.line("queue \(self.queue) resumed")
    }
  }
}

/// `taskwire token create|list|revoke` (admin).
struct TokenCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "token",
    abstract: "Create, list and revoke API tokens (admin token).",
    subcommands: [Create.self, List.self, Revoke.self]
  )

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "create",
      abstract: "Create a token; its secret is printed once, to stdout.",
      discussion: """
        Prints only the secret on stdout (so `TOKEN=$(taskwire token create ci --role client)` \
        works) and the token's id and role on stderr.

        \(CLIExitCode.table)
        """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "A unique name.")
    var name: String

    @Option(name: .long, help: "client, worker or admin.")
    var role: String

    func validate() throws { _ = try Parse.role(self.role) }

    func run() async throws {
      let role = try Parse.role(self.role)
      let (info, secret) = try await self.connection.withClient { client in
        try await client.createToken(name: self.name, role: role)
      }
      FileHandle.standardError.write(
        Data("created token \(info.name) (id \(info.id), role \(info.role)); shown once:\n".utf8)
      )
      Output.line(secret)
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "list",
      abstract: "List tokens (never their secrets).",
      discussion: CLIExitCode.table
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(name: .long, help: "One JSON object per token, one per line.")
    var json = false

    func run() async throws {
      let tokens = try await self.connection.withClient { client in try await client.tokens() }
      if self.json {
        for token in tokens {
          let object: [String: Any] = [
            "id": token.id, "name": token.name, "role": token.role.description,
            "created_ms": JSONOutput.milliseconds(token.created),
            "revoked_ms": JSONOutput.milliseconds(token.revoked),
          ]
          Output.line(JSONOutput.line(object))
        }
      } else {
        Output.line(
          Human.table(
            ["ID", "NAME", "ROLE", "CREATED", "REVOKED"],
            tokens.map {
              [$0.id, $0.name, $0.role.description, Human.time($0.created), Human.time($0.revoked)]
            }
          )
        )
      }
    }
  }

  struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "revoke",
      abstract: "Revoke a token by id or name; its connections are closed.",
      discussion: CLIExitCode.table
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The token's id or name.")
    var idOrName: String

    func run() async throws {
      try await self.connection.withClient { client in try await client.revokeToken(self.idOrName) }
      Output.line("token \(self.idOrName) revoked")
    }
  }
}
