import Foundation
import Logging
import NIOCore
import NIOPosix
import TaskwireRuntime
import TaskwireServer
import Testing

@Suite("A server that cannot listen")
struct ListenFailureTests {
  /// `listeningAddress()` used to wait for an address that never came when `run()` failed before
  /// listening; `EmbeddedServer.run()` then never returned either (its address writer waits for
  /// that address and does not react to cancellation).
  @Test("run() and listeningAddress() fail when the port is taken", .timeLimit(.minutes(1)))
  func portTaken() async throws {
    // Another listener holds an ephemeral port: binding it again fails with EADDRINUSE.
    let squatter = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(squatter.localAddress?.port)
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("taskwire-test-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var options = EmbeddedServer.Options(dataDirectory: directory)
    options.port = port
    let logger = Logger(label: "taskwire-test", factory: { _ in SwiftLogNoOpLogHandler() })
    let embedded = try await EmbeddedServer.open(options, logger: logger)

    await #expect(throws: IOError.self) { try await embedded.run() }
    await #expect(throws: IOError.self) { try await embedded.server.listeningAddress() }
    try await squatter.close()
  }
}
