import Taskwire

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
