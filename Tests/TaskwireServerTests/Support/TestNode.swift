import SwiftProtobuf
import TaskwireServer
import TaskwireStore
import Foundation
import Logging
import TaskwireCoordinator
import TaskwireCore
import TaskwireProto
import TaskwireRuntime

/// A real server on 127.0.0.1:0 with a temporary data directory (dev CA, SQLite store).
struct TestNode: Sendable {
  let embedded: EmbeddedServer
  let port: Int
  let caPath: String
  let adminToken: String
  let dataDirectory: String

  var coordinator: Coordinator { self.embedded.coordinator }

  /// A connected, authenticated raw client.
  func client(token: String? = nil) async throws -> RawClient {
    let client = try await RawClient.connect(port: self.port, caPath: self.caPath)
    let reply = try await client.hello(token: token ?? self.adminToken)
    guard case .helloReply? = reply?.body else {
      throw TestFailure("hello was refused")
    }
    return client
  }

  /// Creates a token of `role` and returns its secret.
  func token(_ role: Principal.Role, name: String = UUID().uuidString) async throws -> String {
    try await self.coordinator.createToken(name: name, role: role).1
  }
}

struct TestFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Runs `body` against a fresh server, then stops it.
func withTestNode<T: Sendable>(
  configure: (inout EmbeddedServer.Options) -> Void = { _ in },
  _ body: @Sendable (TestNode) async throws -> T
) async throws -> T {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("taskwire-test-\(UUID().uuidString)").path
  defer { try? FileManager.default.removeItem(atPath: directory) }
  var options = EmbeddedServer.Options(dataDirectory: directory)
  options.port = 0
  configure(&options)
  var logger = Logger(label: "taskwire-test")
  logger.logLevel = .warning
  let embedded = try await EmbeddedServer.open(options, logger: logger)
  return try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await embedded.run() }
    let (_, port) = try await embedded.server.listeningAddress()
    let token = try String(contentsOfFile: embedded.adminTokenPath, encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let node = TestNode(
      embedded: embedded,
      port: port,
      caPath: embedded.caPath!,
      adminToken: token,
      dataDirectory: directory
    )
    do {
      let result = try await body(node)
      group.cancelAll()
      try? await group.waitForAll()
      return result
    } catch {
      group.cancelAll()
      try? await group.waitForAll()
      throw error
    }
  }
}
