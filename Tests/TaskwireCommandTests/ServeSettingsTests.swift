import ArgumentParser
import Foundation
import Testing

import TaskwireCore

@testable import taskwire

@Suite("taskwire serve: settings and their precedence")
struct ServeSettingsTests {
  private func configFile(_ json: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tw-config-\(UUID().uuidString).json"
    ).path
    try json.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test("No flags: the documented defaults")
  func defaults() throws {
    let command = try ServeCommand.parse([])
    let resolved = try command.resolve(environment: [:])
    #expect(resolved.listen == "127.0.0.1:7433")
    #expect(resolved.dataDir == "./taskwire-data")
    #expect(resolved.durability == "full")
    #expect(resolved.maxFrameBytes == 4_194_304)
    #expect(resolved.maxPayloadBytes == 1_048_576)
    #expect(resolved.maxConcurrentCalls == 100)
    #expect(resolved.idleTimeoutMs == 300_000)
    #expect(resolved.tlsCert == nil)
  }

  @Test("A flag beats the environment, which beats the config file, which beats the default")
  func precedence() throws {
    let file = try self.configFile(
      #"{"listen": "127.0.0.1:1111", "durability": "relaxed", "max-concurrent-calls": 7, "data-dir": "/from/file"}"#
    )
    defer { try? FileManager.default.removeItem(atPath: file) }
    let environment = ["TASKWIRE_LISTEN": "127.0.0.1:2222", "TASKWIRE_DATA_DIR": "/from/env"]
    let command = try ServeCommand.parse(["--config", file, "--listen", "127.0.0.1:3333"])
    let resolved = try command.resolve(environment: environment)
    #expect(resolved.listen == "127.0.0.1:3333", "flag wins")
    #expect(resolved.dataDir == "/from/env", "environment beats file")
    #expect(resolved.durability == "relaxed", "file beats default")
    #expect(resolved.maxConcurrentCalls == 7, "numbers from the file")
    #expect(resolved.maxFrameBytes == 4_194_304, "default when nobody sets it")
  }

  @Test("TASKWIRE_CONFIG names the file when --config does not")
  func configFromEnvironment() throws {
    let file = try self.configFile(#"{"durability": "relaxed"}"#)
    defer { try? FileManager.default.removeItem(atPath: file) }
    let resolved = try ServeCommand.parse([]).resolve(environment: ["TASKWIRE_CONFIG": file])
    #expect(resolved.durability == "relaxed")
  }

  @Test("A payload limit that leaves no room for payload and result in one frame is refused")
  func payloadFitsFrame() throws {
    do {
      _ = try ServeCommand.parse(["--max-frame-bytes", "1048576"]).resolve(environment: [:])
      Issue.record("expected a validation error")
    } catch {
      // Parsing validates (ArgumentParser wraps the ValidationError).
      let message = String(describing: error)
      #expect(message.contains("max-payload-bytes (1048576)"))
      #expect(message.contains("at most (max-frame-bytes - 65536) / 2 = 491520"))
    }
    let resolved = try ServeCommand.parse([
      "--max-frame-bytes", "1048576", "--max-payload-bytes", "491520",
    ]).resolve(environment: [:])
    #expect(resolved.maxPayloadBytes == 491_520)
  }

  @Test("Bad values are one clear error naming where they came from")
  func badValues() throws {
    #expect(throws: (any Error).self) {
      try ServeCommand.parse(["--durability", "sometimes"]).resolve(environment: [:])
    }
    do {
      _ = try ServeCommand.parse([]).resolve(environment: ["TASKWIRE_MAX_FRAME_BYTES": "lots"])
      Issue.record("a non-number was accepted")
    } catch {
      #expect("\(error)".contains("TASKWIRE_MAX_FRAME_BYTES=lots"))
    }
    #expect(throws: (any Error).self) {
      try ServeCommand.parse(["--listen", "nowhere"]).resolve(environment: [:])
    }
    #expect(throws: (any Error).self) {
      try ServeCommand.parse(["--tls-cert", "a.pem"]).resolve(environment: [:])
    }
    let broken = try self.configFile("not json")
    defer { try? FileManager.default.removeItem(atPath: broken) }
    #expect(throws: (any Error).self) {
      try ServeCommand.parse(["--config", broken]).resolve(environment: [:])
    }
  }

  @Test("Per-queue and per-type task defaults, pending limits and retention from the config file")
  func queueSettings() throws {
    let file = try self.configFile(
      #"{"queues": {"emails": {"max-attempts": 10, "lease-ms": 60000, "priority": 2, "max-pending": 500, "retention-hours": 48, "retry": {"kind": "fixed", "initial-ms": 5000}, "types": {"send": {"max-attempts": 3}}}}}"#
    )
    defer { try? FileManager.default.removeItem(atPath: file) }
    let resolved = try ServeCommand.parse(["--config", file]).resolve(environment: [:])
    let queue = resolved.queues.defaults.resolve(queue: "emails", type: "digest")
    #expect(queue.maxAttempts == 10)
    #expect(queue.leaseDurationMs == 60_000)
    #expect(queue.priority == 2)
    #expect(queue.retryPolicy.kind == .fixed)
    #expect(queue.retryPolicy.initialMs == 5_000)
    #expect(resolved.queues.defaults.resolve(queue: "emails", type: "send").maxAttempts == 3)
    #expect(resolved.queues.defaults.resolve(queue: "other", type: "send").maxAttempts == 5)
    #expect(resolved.queues.pendingLimits == ["emails": 500])
    #expect(resolved.queues.retentionMs == ["emails": 48 * 3_600_000])
    let bad = try self.configFile(#"{"queues": {"emails": {"retry": {"kind": "sometimes"}}}}"#)
    defer { try? FileManager.default.removeItem(atPath: bad) }
    #expect(throws: (any Error).self) {
      try ServeCommand.parse(["--config", bad]).resolve(environment: [:])
    }
  }

  @Test("HOST:PORT parsing, IPv6 in brackets")
  func hostPort() throws {
    let v4 = try HostPort("0.0.0.0:0")
    #expect(v4.host == "0.0.0.0" && v4.port == 0)
    let v6 = try HostPort("[::1]:7433")
    #expect(v6.host == "::1" && v6.port == 7433)
    #expect(throws: (any Error).self) { try HostPort("localhost:70000") }
    #expect(throws: (any Error).self) { try HostPort(":80") }
  }
}
