import Foundation

/// A `taskwire serve` child process on a temporary data directory, started by the bench itself
/// from its own executable (so a release build measures a release server).
///
/// The child never outlives the bench: it watches the bench's pid and shuts down gracefully once
/// the bench exits, however it ends (SIGKILL included), then removes its temporary directory.
final class BenchServer {
  let process = Process()
  let dataDirectory: String
  private(set) var address = ""

  init(durability: String, extraArguments: [String] = []) throws {
    self.dataDirectory =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("taskwire-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(
      atPath: self.dataDirectory,
      withIntermediateDirectories: true
    )
    self.process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    self.process.arguments =
      [
        "serve", "--data-dir", self.dataDirectory, "--listen", "127.0.0.1:0",
        "--durability", durability, "--log-level", "warning",
        "--max-connections-per-address", "20000",
        "--exit-with-parent", "\(getpid())", "--remove-data-dir-on-exit",
      ] + extraArguments
  }

  var pid: Int32 { self.process.processIdentifier }

  /// Starts the server and waits (at most 30 s) for its address file.
  func start() async throws {
    try self.process.run()
    let file = (self.dataDirectory as NSString).appendingPathComponent("address")
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      if let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n") {
        self.address = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return
      }
      guard self.process.isRunning else {
        throw BenchError("the server exited with \(self.process.terminationStatus)")
      }
      try await Task.sleep(for: .milliseconds(20))  // readiness poll on a file, bounded above
    }
    throw BenchError("the server did not start within 30 s")
  }

  func stop() {
    if self.process.isRunning {
      self.process.terminate()
      self.process.waitUntilExit()
    }
    try? FileManager.default.removeItem(atPath: self.dataDirectory)
  }

  deinit { self.stop() }
}

struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
