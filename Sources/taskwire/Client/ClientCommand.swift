import ArgumentParser
import Foundation
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

/// Shared parsing of the words the CLI accepts.
enum Parse {
  /// `pending`, `RUNNING`, `task_state_failed`, ... → the state.
  static func state(_ text: String) throws -> TaskState {
    var name = text.uppercased()
    if name.hasPrefix("TASK_STATE_") { name.removeFirst("TASK_STATE_".count) }
    let states: [TaskState] = [
      .pending, .scheduled, .running, .retrying, .succeeded, .failed, .cancelled,
    ]
    guard let state = states.first(where: { $0.description == name }) else {
      throw CLIFailure.usage(
        "unknown state \(text); expected one of "
          + states.map { $0.description.lowercased() }.joined(separator: ", ")
      )
    }
    return state
  }

  /// `client`, `worker` or `admin`.
  static func role(_ text: String) throws -> Role {
    switch text.lowercased() {
    case "client": return .client
    case "worker": return .worker
    case "admin": return .admin
    default: throw CLIFailure.usage("unknown role \(text); expected client, worker or admin")
    }
  }

  /// `k=v` pairs; the value may contain `=`.
  static func metadata(_ pairs: [String]) throws -> [String: String] {
    var result: [String: String] = [:]
    for pair in pairs {
      guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
        throw CLIFailure.usage("--metadata expects KEY=VALUE, got \(pair)")
      }
      result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return result
  }
}

/// Human formatting shared by the commands.
enum Human {
  static func time(_ date: Date?) -> String {
    guard let date else { return "-" }
    return date.formatted(.iso8601)
  }

  static func bytes(_ data: Data?) -> String {
    guard let data else { return "-" }
    if let text = String(data: data, encoding: .utf8), !text.contains(where: { $0.isNewline }) {
      return text.count > 200 ? String(text.prefix(200)) + "… (\(data.count) bytes)" : text
    }
    return "(\(data.count) bytes)"
  }

  /// Lays out rows under headers, columns padded to their widest cell.
  static func table(_ headers: [String], _ rows: [[String]]) -> String {
    var widths = headers.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() where index < widths.count {
        widths[index] = max(widths[index], cell.count)
      }
    }
    func render(_ cells: [String]) -> String {
      cells.enumerated().map { index, cell in
        index == cells.count - 1
          ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }
    return ([render(headers)] + rows.map(render)).joined(separator: "\n")
  }
}
