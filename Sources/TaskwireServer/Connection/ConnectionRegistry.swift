import NIOCore
import Synchronization
import TaskwireProto

/// Every open connection: counts for the connection limits, tokens for revocation, workers for
/// cancel notices, and the list the server walks on shutdown.
final class ConnectionRegistry: Sendable {
  /// What the registry knows of one connection.
  struct Entry: Sendable {
    var channel: any Channel
    var address: String
    var tokenID: String?
    var workerID: String?
    var push: (@Sendable (Taskwire_V1_Frame) -> Void)?
  }

  private struct State {
    var entries: [ObjectIdentifier: Entry] = [:]
    var perAddress: [String: Int] = [:]
    var workers: [String: ObjectIdentifier] = [:]
  }

  private let state = Mutex(State())
  let maxConnections: Int
  let maxConnectionsPerAddress: Int

  init(maxConnections: Int, maxConnectionsPerAddress: Int) {
    self.maxConnections = maxConnections
    self.maxConnectionsPerAddress = maxConnectionsPerAddress
  }

  /// Admits a new connection, or says which limit it breaks.
  func admit(_ channel: any Channel) -> WireStatusLimit? {
    let address = channel.remoteAddress?.ipAddress ?? "unknown"
    return self.state.withLock { state in
      if state.entries.count >= self.maxConnections {
        return WireStatusLimit(
          name: "max_connections",
          limit: self.maxConnections,
          observed: state.entries.count + 1
        )
      }
      let current = state.perAddress[address, default: 0]
      if current >= self.maxConnectionsPerAddress {
        return WireStatusLimit(
          name: "max_connections_per_address",
          limit: self.maxConnectionsPerAddress,
          observed: current + 1
        )
      }
      state.perAddress[address] = current + 1
      state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, address: address)
      return nil
    }
  }

  /// Forgets a closed connection.
  func remove(_ channel: any Channel) {
    self.state.withLock { state in
      guard let entry = state.entries.removeValue(forKey: ObjectIdentifier(channel)) else { return }
      let left = state.perAddress[entry.address, default: 1] - 1
      state.perAddress[entry.address] = left > 0 ? left : nil
      if let worker = entry.workerID, state.workers[worker] == ObjectIdentifier(channel) {
        state.workers[worker] = nil
      }
    }
  }

  /// Records who the connection authenticated as and how to push frames to it.
  func authenticated(
    _ channel: any Channel,
    tokenID: String,
    workerID: String,
    push: @escaping @Sendable (Taskwire_V1_Frame) -> Void
  ) {
    self.state.withLock { state in
      let key = ObjectIdentifier(channel)
      state.entries[key]?.tokenID = tokenID
      state.entries[key]?.workerID = workerID
      state.entries[key]?.push = push
      state.workers[workerID] = key
    }
  }

  /// Pushes a frame to the connection of a worker, if it is connected here. Returns whether it was.
  @discardableResult
  func push(_ frame: Taskwire_V1_Frame, toWorker workerID: String) -> Bool {
    let push = self.state.withLock { state -> (@Sendable (Taskwire_V1_Frame) -> Void)? in
      guard let key = state.workers[workerID] else { return nil }
      return state.entries[key]?.push
    }
    push?(frame)
    return push != nil
  }

  /// Closes every connection authenticated with `tokenID` (the token was revoked).
  func closeConnections(ofToken tokenID: String) {
    let channels = self.state.withLock { state in
      state.entries.values.filter { $0.tokenID == tokenID }.map(\.channel)
    }
    for channel in channels {
      channel.close(promise: nil)
    }
  }

  /// Pushes `frame` to every authenticated connection (GoAway on shutdown).
  func broadcast(_ frame: Taskwire_V1_Frame) {
    let pushes = self.state.withLock { state in state.entries.values.compactMap(\.push) }
    for push in pushes {
      push(frame)
    }
  }

  /// The number of open connections.
  var count: Int { self.state.withLock { $0.entries.count } }
}

/// A connection limit that was hit: its name, its value and the count the new connection makes.
struct WireStatusLimit: Sendable {
  var name: String
  var limit: Int
  var observed: Int
}
