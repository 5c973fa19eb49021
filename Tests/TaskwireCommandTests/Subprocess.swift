import Foundation
import Glibc
import Synchronization
import Testing

/// What a child process's readers and termination handler collect.
final class ProcessRecord: Sendable {
  struct State {
    var stdout = Data()
    var stderr = Data()
    var status: Int32?
    var openStreams = 2
  }
  let state = Mutex(State())
}

/// A child process of the test with its stdout and stderr collected as they arrive.
///
/// `@unchecked Sendable`: `process` is configured before `run()` and afterwards only read
/// (`processIdentifier`) or signalled, both thread-safe; everything that changes lives in
/// `Mutex`es.
final class Subprocess: @unchecked Sendable {
  private let process = Process()
  private let record = ProcessRecord()
  let name: String

  /// Starts `executable` with `arguments`; the environment is the test's without `TASKWIRE_*`
  /// and `NO_COLOR`, plus `environment`.
  init(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:]
  ) throws {
    self.name = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(
      separator: " "
    )
    self.process.executableURL = URL(fileURLWithPath: executable)
    self.process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment.filter {
      !$0.key.hasPrefix("TASKWIRE_") && $0.key != "NO_COLOR"
    }
    for (key, value) in environment { merged[key] = value }
    self.process.environment = merged
    self.process.standardInput = FileHandle.nullDevice
    let stdout = Pipe()
    let stderr = Pipe()
    self.process.standardOutput = stdout
    self.process.standardError = stderr
    let record = self.record
    self.process.terminationHandler = { process in
      record.state.withLock { $0.status = process.terminationStatus }
    }
    try self.process.run()
    // Dedicated reader threads: blocking reads stay off the concurrency pool.
    for (handle, isOutput) in [
      (stdout.fileHandleForReading, true), (stderr.fileHandleForReading, false),
    ] {
      let thread = Thread {
        while true {
          let chunk = handle.availableData
          if chunk.isEmpty { break }
          record.state.withLock { state in
            if isOutput { state.stdout.append(chunk) } else { state.stderr.append(chunk) }
          }
        }
        record.state.withLock { $0.openStreams -= 1 }
      }
      thread.start()
    }
  }

  var stdout: String { String(decoding: self.record.state.withLock { $0.stdout }, as: UTF8.self) }
  var stderr: String { String(decoding: self.record.state.withLock { $0.stderr }, as: UTF8.self) }
  var stdoutLines: [String] { self.stdout.split(separator: "\n").map(String.init) }

  /// The exit status once it exited and its output was read to the end.
  var exitStatus: Int32? {
    self.record.state.withLock { $0.openStreams == 0 ? $0.status : nil }
  }

  var hasExited: Bool { self.record.state.withLock { $0.status != nil } }

  var pid: Int32 { self.process.processIdentifier }

  /// Waits for the exit (and the end of its output); fails after `timeout`.
  @discardableResult
  func wait(timeout: Duration = .seconds(60)) async throws -> Int32 {
    do {
      try await waitUntil("\(self.name) to exit", timeout: timeout) { self.exitStatus != nil }
    } catch {
      Issue.record("\(self.name) did not exit; stdout:\n\(self.stdout)\nstderr:\n\(self.stderr)")
      throw error
    }
    return self.exitStatus!
  }

  func signal(_ signal: Int32) {
    if !self.hasExited { _ = Glibc.kill(self.process.processIdentifier, signal) }
  }

  /// SIGKILL if still running (cleanup after a failed test).
  func forceStop() { self.signal(SIGKILL) }

  /// Runs a command to its end.
  static func run(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    timeout: Duration = .seconds(60)
  ) async throws -> (status: Int32, stdout: String, stderr: String) {
    let process = try Subprocess(executable, arguments, environment: environment)
    defer { process.forceStop() }
    let status = try await process.wait(timeout: timeout)
    return (status, process.stdout, process.stderr)
  }
}

/// The `taskwire` binary under test: `TASKWIRE_BIN`, else the one built beside this test
/// bundle, else `.build/debug/taskwire`. Missing, the test fails: it never skips quietly.
func taskwireBinary() throws -> String {
  if let path = ProcessInfo.processInfo.environment["TASKWIRE_BIN"] {
    guard FileManager.default.isExecutableFile(atPath: path) else {
      Issue.record("TASKWIRE_BIN=\(path) is not an executable")
      throw MissingBinary()
    }
    return path
  }
  let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
  var candidates = [testBinary.deletingLastPathComponent().appendingPathComponent("taskwire").path]
  // Tests/TaskwireCommandTests/Subprocess.swift → the package root.
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  candidates.append(root.appendingPathComponent(".build/debug/taskwire").path)
  for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
    return candidate
  }
  let looked = candidates.joined(separator: ", ")
  Issue.record(
    "no taskwire binary: build it (swift build --product taskwire) or set TASKWIRE_BIN; looked at \(looked)"
  )
  throw MissingBinary()
}

struct MissingBinary: Error, CustomStringConvertible {
  var description: String { "the taskwire binary is missing" }
}
