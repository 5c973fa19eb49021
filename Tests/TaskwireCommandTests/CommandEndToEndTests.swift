import Foundation
import Testing

/// `serve`, `work --exec`, `submit --wait` and `watch` as real processes of the built binary, on
/// a temporary data directory and an ephemeral port.
@Suite("taskwire end to end: real processes")
struct CommandEndToEndTests {
  /// The handler script `work --exec` runs. Gate files let the test decide when a task moves on,
  /// so nothing depends on timing.
  static let script = """
    case "$TASKWIRE_TASK_TYPE" in
      upper)
        tr a-z A-Z ;;
      gated)
        while [ ! -f "$GATES/go" ]; do sleep 0.02; done
        echo "progress 40 resizing" >&2
        echo "a diagnostic line from $TASKWIRE_TASK_ID attempt $TASKWIRE_ATTEMPT" >&2
        while [ ! -f "$GATES/finish" ]; do sleep 0.02; done
        tr a-z A-Z ;;
      broken)
        cat > /dev/null; echo "bad input" >&2; exit 3 ;;
      endless)
        echo "endless started" >&2; sleep 300 ;;
    esac
    """

  struct JSONLine {
    var object: [String: Any]
    init?(_ line: String) {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      else { return nil }
      self.object = object
    }
    subscript(_ key: String) -> String? { self.object[key].map { "\($0)" } }
  }

  @Test("serve + work --exec + submit --wait + watch (JSON lines and terminal), cancel, exit codes")
  func endToEnd() async throws {
    let binary = try taskwireBinary()
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("tw-e2e-\(UUID().uuidString)").path
    let data = root + "/data"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    try Self.script.write(toFile: root + "/handler.sh", atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let connection = ["--data-dir", data]

    // 1. The server, on port 0; DATA_DIR/address says where.
    let serve = try Subprocess(
      binary,
      ["serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--log-level", "warning"]
    )
    defer { serve.forceStop() }
    try await waitUntil("the server to write its address") {
      if serve.hasExited { throw TimedOut(what: "serve exited early: \(serve.stderr)") }
      return FileManager.default.fileExists(atPath: data + "/address")
    }

    // 2. A worker running the script for four task types.
    let work = try Subprocess(
      binary,
      ["work"] + connection + [
        "--type", "upper", "--type", "gated", "--type", "broken", "--type", "endless",
        "--exec", "sh \(root)/handler.sh", "--concurrency", "4", "--permanent-exit-codes", "2,3",
        "--grace-ms", "5000",
      ],
      environment: ["GATES": root]
    )
    defer { work.forceStop() }

    func taskwire(_ arguments: [String]) async throws -> (
      status: Int32, stdout: String, stderr: String
    ) {
      try await Subprocess.run(binary, arguments + connection)
    }

    do {
      try await self.steps(
        binary: binary,
        root: root,
        connection: connection,
        serve: serve,
        work: work,
        taskwire: taskwire
      )
    } catch {
      Issue.record("serve stderr:\n\(serve.stderr)\nwork stderr:\n\(work.stderr)")
      throw error
    }
  }

  func steps(
    binary: String,
    root: String,
    connection: [String],
    serve: Subprocess,
    work: Subprocess,
    taskwire: ([String]) async throws -> (status: Int32, stdout: String, stderr: String)
  ) async throws {
    // 3. submit --wait prints the result bytes.
    let upper = try await taskwire(["submit", "upper", "hello, taskwire", "--wait"])
    #expect(upper.status == 0, "\(upper.stderr)")
    #expect(upper.stdout == "HELLO, TASKWIRE")
    // The payload from stdin (`-`), bytes as they are.
    let piped = try await Subprocess.run(
      "/bin/sh",
      [
        "-c", "printf 'from stdin' | \"$0\" submit upper - --wait --data-dir \"$1\"", binary,
        connection[1],
      ]
    )
    #expect(piped.status == 0, "\(piped.stderr)")
    #expect(piped.stdout == "FROM STDIN")

    // 4. A progress line reaches a piped watch as a PROGRESS JSON line.
    let waiting = try Subprocess(
      binary,
      ["submit", "gated", "payload bytes", "--wait"] + connection
    )
    defer { waiting.forceStop() }
    var gatedID = ""
    try await waitUntil("the gated task to be listed") {
      let listed = try await taskwire(["list", "--type", "gated", "--json"])
      gatedID =
        listed.stdout.split(separator: "\n").first.flatMap { JSONLine(String($0))?["id"] } ?? ""
      return !gatedID.isEmpty
    }
    let watch = try Subprocess(binary, ["watch", gatedID] + connection)
    defer { watch.forceStop() }
    try await waitUntil("the watch's snapshot") {
      watch.stdoutLines.contains { JSONLine($0)?["kind"] == "SNAPSHOT" }
    }
    #expect(FileManager.default.createFile(atPath: root + "/go", contents: Data()))
    try await waitUntil("a PROGRESS event on the watch") {
      watch.stdoutLines.contains { line in
        guard let event = JSONLine(line) else { return false }
        return event["kind"] == "PROGRESS" && event["progress"] == "40"
          && event["message"] == "resizing" && event["task_id"] == gatedID
      }
    }
    // Other stderr lines pass through to the worker's stderr.
    try await waitUntil("the diagnostic line on the worker's stderr") {
      work.stderr.contains("a diagnostic line from \(gatedID) attempt 1")
    }
    #expect(FileManager.default.createFile(atPath: root + "/finish", contents: Data()))
    #expect(try await waiting.wait() == 0, "\(waiting.stderr)")
    #expect(waiting.stdout == "PAYLOAD BYTES")
    // The watch of ids ends by itself once they finished; every line is one JSON object.
    #expect(try await watch.wait() == 0, "\(watch.stderr)")
    let events = watch.stdoutLines.compactMap(JSONLine.init)
    #expect(events.count == watch.stdoutLines.count)
    #expect(events.last?["kind"] == "FINISHED" && events.last?["state"] == "SUCCEEDED")

    // 5. On a terminal (a pseudo-terminal from script(1)) the watch draws progress bars.
    let scriptTool = ["/usr/bin/script", "/bin/script"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
    #expect(scriptTool != nil, "script(1) from util-linux is needed for the terminal test")
    if let scriptTool {
      let commandLine = ([binary, "watch", gatedID] + connection).joined(separator: " ")
      let tty = try await Subprocess.run(
        scriptTool,
        ["-qfec", commandLine, "/dev/null"],
        environment: ["COLUMNS": "120", "LINES": "20", "TERM": "xterm"]
      )
      #expect(tty.status == 0, "\(tty.stdout) \(tty.stderr)")
      #expect(tty.stdout.contains(gatedID))
      #expect(tty.stdout.contains("[" + String(repeating: "#", count: 30) + "] 100% "))
      #expect(tty.stdout.contains("\u{1B}[32mSUCCEEDED\u{1B}[0m"))
      #expect(!tty.stdout.contains("\"kind\""))
    }

    // 6. A permanent exit code ends the task FAILED after one attempt; --wait exits 1.
    let broken = try await taskwire(["submit", "broken", "x", "--wait"])
    #expect(broken.status == 1)
    #expect(broken.stderr.hasPrefix("taskwire: task "))
    #expect(broken.stderr.hasSuffix("FAILED after 1 attempt(s): exit code 3: bad input\n"))
    #expect(broken.stderr.split(separator: "\n").count == 1)
    let failedList = try await taskwire(["list", "--type", "broken", "--state", "failed", "--json"])
    let failed = try #require(
      JSONLine(failedList.stdout.split(separator: "\n").first.map(String.init) ?? "")
    )
    #expect(failed["state"] == "FAILED" && failed["attempt"] == "1")
    #expect(failed["last_error"] == "exit code 3: bad input")
    // The CLI submits with the admin token: its tasks are created by "admin", by no one else.
    let byAdmin = try await taskwire([
      "list", "--type", "broken", "--created-by", "admin", "--json",
    ])
    #expect(byAdmin.stdout.split(separator: "\n").count == 1)
    let byOther = try await taskwire(["list", "--type", "broken", "--created-by", "bob", "--json"])
    #expect(byOther.status == 0 && byOther.stdout.isEmpty, "\(byOther.stdout)")

    // 7. Cancelling a running task kills the command and the task ends CANCELLED.
    let endless = try await taskwire(["submit", "endless"])
    let endlessID = endless.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(endless.status == 0 && !endlessID.isEmpty)
    try await waitUntil("the endless command to start") { work.stderr.contains("endless started") }
    let cancel = try await taskwire(["cancel", endlessID, "--reason", "test"])
    #expect(cancel.status == 0, "\(cancel.stderr)")
    let cancelWatch = try await taskwire(["watch", endlessID])
    #expect(cancelWatch.status == 0)
    let last = cancelWatch.stdout.split(separator: "\n").last.flatMap { JSONLine(String($0)) }
    #expect(last?["state"] == "CANCELLED")
    let cancelled = try await taskwire(["get", endlessID, "--json"])
    #expect(JSONLine(cancelled.stdout)?["state"] == "CANCELLED")

    // 8. Exit codes from the real binary, each error one line.
    let missing = try await taskwire(["get", "01NOSUCHTASK"])
    #expect(missing.status == 4)
    #expect(missing.stderr.hasPrefix("taskwire: NOT_FOUND: "))
    #expect(missing.stderr.split(separator: "\n").count == 1)
    let denied = try await taskwire(["get", "01NOSUCHTASK", "--token", "not-a-token"])
    #expect(denied.status == 5, "\(denied.stderr)")
    #expect(denied.stderr.hasPrefix("taskwire: UNAUTHENTICATED: "))
    let usage = try await taskwire(["submit"])
    #expect(usage.status == 2)
    let refused = try await taskwire(["retry", gatedID])
    #expect(refused.status == 3)
    #expect(refused.stderr.hasPrefix("taskwire: FAILED_PRECONDITION: "))

    // 9. SIGTERM: the worker shuts down gracefully. A command still running when the shutdown
    // timeout ends is stopped and its task handed back (PENDING again, no attempt used).
    work.signal(SIGTERM)
    #expect(try await work.wait() == 0, "\(work.stderr)")
    let draining = try Subprocess(
      binary,
      ["work"] + connection + [
        "--type", "endless", "--exec", "sh \(root)/handler.sh", "--shutdown-timeout-ms", "200",
        "--grace-ms", "200",
      ]
    )
    defer { draining.forceStop() }
    let held = try await taskwire(["submit", "endless"])
    let heldID = held.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    try await waitUntil("the second worker's command to start") {
      draining.stderr.contains("endless started")
    }
    draining.signal(SIGTERM)
    #expect(try await draining.wait() == 0, "\(draining.stderr)")
    let released = try await taskwire(["get", heldID, "--json"])
    let releasedTask = try #require(JSONLine(released.stdout))
    #expect(releasedTask["state"] == "PENDING")
    let attempts = releasedTask.object["attempts"] as? [[String: Any]]
    #expect(attempts?.last?["outcome"] as? String == "released")

    // The server too; then it is gone (6).
    serve.signal(SIGTERM)
    #expect(try await serve.wait() == 0, "\(serve.stderr)")
    let unavailable = try await taskwire(["get", gatedID])
    #expect(unavailable.status == 6)
    #expect(unavailable.stderr.hasPrefix("taskwire: UNAVAILABLE: "))
  }
}
