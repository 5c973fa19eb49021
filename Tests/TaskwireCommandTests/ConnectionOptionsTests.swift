import ArgumentParser
import Foundation
import Taskwire
import Testing

@testable import taskwire

@Suite("Client connection: flags > TASKWIRE_* environment > data directory")
struct ConnectionOptionsTests {
  /// A data directory like `serve` leaves behind.
  private func dataDirectory(address: String = "127.0.0.1:7001", token: String = "dir-token")
    throws -> String
  {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("tw-cli-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(
      atPath: directory + "/tls",
      withIntermediateDirectories: true
    )
    try (address + "\n").write(toFile: directory + "/address", atomically: true, encoding: .utf8)
    try (token + "\n").write(toFile: directory + "/admin.token", atomically: true, encoding: .utf8)
    try "PEM".write(toFile: directory + "/tls/ca.pem", atomically: true, encoding: .utf8)
    return directory
  }

  private let environment = [
    "TASKWIRE_ADDRESS": "10.0.0.2:7002", "TASKWIRE_TOKEN": "env-token",
    "TASKWIRE_CA": "/env/ca.pem",
  ]

  @Test("The data directory alone: address, admin.token and tls/ca.pem")
  func dataDirectoryOnly() throws {
    let directory = try self.dataDirectory()
    let resolved = try ConnectionOptions.parse(["--data-dir", directory]).resolve(environment: [:])
    #expect(resolved.host == "127.0.0.1" && resolved.port == 7001)
    #expect(resolved.token == "dir-token")
    #expect(resolved.caPath == directory + "/tls/ca.pem")
    #expect(resolved.addressSource == .dataDirectory)
    #expect(resolved.tokenSource == .dataDirectory)
    #expect(resolved.caSource == .dataDirectory)
  }

  @Test("TASKWIRE_DATA_DIR names the data directory when --data-dir does not")
  func dataDirectoryFromEnvironment() throws {
    let directory = try self.dataDirectory(address: "[::1]:7003")
    let resolved = try ConnectionOptions.parse([]).resolve(environment: [
      "TASKWIRE_DATA_DIR": directory
    ])
    #expect(resolved.host == "::1" && resolved.port == 7003)
  }

  @Test("The environment beats the data directory")
  func environmentBeatsDataDirectory() throws {
    let directory = try self.dataDirectory()
    let resolved = try ConnectionOptions.parse(["--data-dir", directory])
      .resolve(environment: self.environment)
    #expect(resolved.host == "10.0.0.2" && resolved.port == 7002)
    #expect(resolved.token == "env-token")
    #expect(resolved.caPath == "/env/ca.pem")
    #expect(resolved.addressSource == .environment)
    #expect(resolved.tokenSource == .environment)
    #expect(resolved.caSource == .environment)
  }

  @Test("Flags beat the environment and the data directory, each value on its own")
  func flagsBeatEverything() throws {
    let directory = try self.dataDirectory()
    let all = try ConnectionOptions.parse([
      "--data-dir", directory, "--address", "localhost:7004", "--token", "flag-token", "--ca",
      "/flag/ca.pem",
    ]).resolve(environment: self.environment)
    #expect(all.host == "localhost" && all.port == 7004)
    #expect(all.token == "flag-token" && all.caPath == "/flag/ca.pem")
    #expect([all.addressSource, all.tokenSource, all.caSource] == [.flag, .flag, .flag])

    // Mixed: the token from a flag, the address from the environment, the CA from the data dir.
    let mixed = try ConnectionOptions.parse(["--data-dir", directory, "--token", "flag-token"])
      .resolve(environment: ["TASKWIRE_ADDRESS": "10.0.0.2:7002"])
    #expect(mixed.tokenSource == .flag && mixed.token == "flag-token")
    #expect(mixed.addressSource == .environment && mixed.port == 7002)
    #expect(mixed.caSource == .dataDirectory)
  }

  @Test("Without a CA anywhere the system roots are trusted")
  func systemRoots() throws {
    let resolved = try ConnectionOptions.parse([
      "--data-dir", "/nonexistent", "--address", "example.com:443", "--token", "t",
    ]).resolve(environment: [:])
    #expect(resolved.caPath == nil && resolved.caSource == .systemRoots)
  }

  @Test("No address or no token anywhere is a usage error that says where it looked")
  func missingValues() throws {
    let noAddress = #expect(throws: CLIFailure.self) {
      try ConnectionOptions.parse(["--data-dir", "/nonexistent", "--token", "t"])
        .resolve(environment: [:])
    }
    #expect(noAddress?.exitCode == .usage)
    #expect(noAddress?.message.contains("/nonexistent/address") == true)
    let noToken = #expect(throws: CLIFailure.self) {
      try ConnectionOptions.parse(["--data-dir", "/nonexistent", "--address", "h:1"])
        .resolve(environment: [:])
    }
    #expect(noToken?.message.contains("TASKWIRE_TOKEN") == true)
  }

  @Test("Addresses split at the last colon; bad ones are usage errors")
  func addresses() throws {
    #expect(try ConnectionOptions.splitAddress("127.0.0.1:80") == ("127.0.0.1", 80))
    #expect(try ConnectionOptions.splitAddress("[::1]:7433") == ("::1", 7433))
    for bad in ["nohost", ":80", "h:0", "h:70000", "h:x"] {
      #expect(throws: CLIFailure.self) { try ConnectionOptions.splitAddress(bad) }
    }
  }

  @Test("The SDK configuration carries the resolved endpoint, token and trust")
  func sdkConfiguration() throws {
    let directory = try self.dataDirectory()
    let configuration = try ConnectionOptions.parse(["--data-dir", directory])
      .configuration(environment: [:])
    #expect(configuration.endpoints == [TaskwireClient.Endpoint(host: "127.0.0.1", port: 7001)])
    #expect(configuration.token == "dir-token")
    #expect(configuration.tls.trust == .caFile(directory + "/tls/ca.pem"))
  }
}
