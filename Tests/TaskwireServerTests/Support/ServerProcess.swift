import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import Synchronization
import TaskwireProto

/// `taskwire serve` as a child process on a data directory, for crash and memory tests.
final class ServerProcess: @unchecked Sendable {
  // Mutated only by the owning test task.
  let process = Process()
  let dataDirectory: String
  private(set) var port = 0
  private(set) var adminToken = ""
  var caPath: String { self.dataDirectory + "/tls/ca.pem" }

  /// The binary: `TASKWIRE_BIN`, or the debug build next to the tests.
  static var binary: String {
    if let path = ProcessInfo.processInfo.environment["TASKWIRE_BIN"] { return path }
    var url = URL(fileURLWithPath: #filePath)
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path)
    {
      url.deleteLastPathComponent()
    }
    return url.appendingPathComponent(".build/debug/taskwire").path
  }

  init(dataDirectory: String, arguments: [String] = []) throws {
    self.dataDirectory = dataDirectory
    guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
      throw TestFailure(
        "the taskwire binary is missing at \(Self.binary); build it first (swift build)"
      )
    }
    self.process.executableURL = URL(fileURLWithPath: Self.binary)
    self.process.arguments =
      ["serve", "--data-dir", dataDirectory, "--listen", "127.0.0.1:0", "--log-level", "warning"]
      + arguments
    self.process.standardOutput = FileHandle.nullDevice
  }

  /// Starts the process and waits (bounded) until it wrote its address file.
  func start() async throws {
    let addressFile = self.dataDirectory + "/address"
    try? FileManager.default.removeItem(atPath: addressFile)
    try self.process.run()
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      if let text = try? String(contentsOfFile: addressFile, encoding: .utf8),
        let port = Int(
          text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").last ?? ""
        )
      {
        self.port = port
        self.adminToken = try String(
          contentsOfFile: self.dataDirectory + "/admin.token",
          encoding: .utf8
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
        return
      }
      guard self.process.isRunning else {
        throw TestFailure("server exited with \(self.process.terminationStatus)")
      }
      try await Task.sleep(for: .milliseconds(20))  // polling a file for readiness, bounded above
    }
    throw TestFailure("server did not write \(addressFile) within 30 s")
  }

  func kill() {
    if self.process.isRunning {
      Foundation.kill(self.process.processIdentifier, SIGKILL)
      self.process.waitUntilExit()
    }
  }

  /// Resident set size in bytes, from /proc.
  func residentBytes() throws -> Int {
    let status = try String(
      contentsOfFile: "/proc/\(self.process.processIdentifier)/status",
      encoding: .utf8
    )
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
      let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { throw TestFailure("no VmRSS in /proc status") }
    return kb * 1024
  }

  func client(token: String? = nil) async throws -> RawClient {
    let client = try await RawClient.connect(port: self.port, caPath: self.caPath)
    let reply = try await client.hello(token: token ?? self.adminToken)
    guard case .helloReply(_)? = reply?.body else {
      throw TestFailure("hello refused")
    }
    return client
  }

  deinit { self.kill() }
}

func temporaryDirectory(_ name: String) -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent(
    "\(name)-\(UUID().uuidString)"
  ).path
  try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// A value shared between a test's concurrent tasks.
final class Locked<Value: Sendable>: Sendable {
  private let storage: Mutex<Value>
  init(_ value: Value) { self.storage = Mutex(value) }
  func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T {
    self.storage.withLock { body(&$0) }
  }
}
