import Foundation
import Glibc
import Testing

/// `serve --exit-with-parent PID`, as `taskwire bench` starts its server: the server shuts down
/// gracefully once that process exits, however it ended. The watched process here is a helper
/// the test starts and kills; nothing depends on timing but a generous upper bound.
@Suite("serve --exit-with-parent")
struct ServeExitWithParentTests {
  @Test("Shuts down once the watched process is killed, and removes the directory if told to")
  func killedParent() async throws {
    let binary = try taskwireBinary()
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("tw-parent-\(UUID().uuidString)").path
    let data = root + "/data"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }

    // Lives until the test kills it (the sleep only keeps it alive; nothing waits on it).
    let parent = try Subprocess("/bin/sleep", ["3600"])
    defer { parent.forceStop() }
    let serve = try Subprocess(
      binary,
      [
        "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--log-level", "notice",
        "--exit-with-parent", "\(parent.pid)", "--remove-data-dir-on-exit",
      ]
    )
    defer { serve.forceStop() }
    try await waitUntil("the server to write its address") {
      if serve.hasExited { throw TimedOut(what: "serve exited early: \(serve.stderr)") }
      return FileManager.default.fileExists(atPath: data + "/address")
    }
    #expect(!serve.hasExited)

    parent.signal(SIGKILL)
    let status = try await serve.wait()
    #expect(status == 0, "serve stderr:\n\(serve.stderr)")
    #expect(serve.stderr.contains("the process that started this server exited; shutting down"))
    #expect(!FileManager.default.fileExists(atPath: data))
  }

  @Test("Without --remove-data-dir-on-exit the data directory stays; a process already gone counts")
  func keepsDirectory() async throws {
    let binary = try taskwireBinary()
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("tw-parent-\(UUID().uuidString)").path
    let data = root + "/data"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }

    let parent = try Subprocess("/bin/true", [])
    try await parent.wait()
    let serve = try Subprocess(
      binary,
      [
        "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--log-level", "notice",
        "--exit-with-parent", "\(parent.pid)",
      ]
    )
    defer { serve.forceStop() }
    let status = try await serve.wait()
    #expect(status == 0, "serve stderr:\n\(serve.stderr)")
    #expect(serve.stderr.contains("the process that started this server exited; shutting down"))
    #expect(FileManager.default.fileExists(atPath: data + "/taskwire.sqlite"))
  }
}
