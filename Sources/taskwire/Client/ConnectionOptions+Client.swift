import Logging
import Taskwire

extension ConnectionOptions {
  /// Runs `body` with a connected client for the resolved connection.
  func withClient<Result: Sendable>(
    _ body: (TaskwireClient) async throws -> Result
  ) async throws -> Result {
    var configuration = try self.configuration()
    // A command line waits less than a service before it reports UNAVAILABLE (exit 6).
    configuration.idempotentCallAttempts = 3
    configuration.timeouts.connect = .seconds(5)
    var logger = Logger(label: "taskwire.cli")
    logger.logLevel = .critical
    return try await withTaskwireClient(configuration: configuration, logger: logger) { client in
      try await body(client)
    }
  }
}
