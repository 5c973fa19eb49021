import TaskwireCore
import Synchronization

/// Who is connected as a worker, what they hold, and when they last showed a sign of life.
final class WorkerRegistry: Sendable {
  private let state = Mutex<[String: WorkerInfo]>([:])

  func sawLease(_ worker: WorkerIdentity, queues: [String], nowMs: Int64) {
    self.state.withLock { workers in
      var info =
        workers[worker.id]
        ?? WorkerInfo(id: worker.id, name: worker.name, address: worker.address, connectedMs: nowMs)
      info.name = worker.name
      info.address = worker.address
      info.queues = Array(Set(info.queues).union(queues)).sorted()
      info.lastSeenMs = nowMs
      workers[worker.id] = info
    }
  }

  func held(_ taskIDs: [String], by workerID: String) {
    guard !taskIDs.isEmpty else { return }
    self.state.withLock { workers in
      workers[workerID]?.taskIDs.formUnion(taskIDs)
    }
  }

  func released(_ taskIDs: [String], by workerID: String) {
    self.state.withLock { workers in
      workers[workerID]?.taskIDs.subtract(taskIDs)
    }
  }

  /// A lease ran out: whoever held the task no longer does.
  func expired(_ taskID: String, workerID: String) {
    self.state.withLock { workers in _ = workers[workerID]?.taskIDs.remove(taskID) }
  }

  func heartbeat(_ workerID: String, nowMs: Int64) {
    self.state.withLock { workers in
      workers[workerID]?.lastHeartbeatMs = nowMs
      workers[workerID]?.lastSeenMs = nowMs
    }
  }

  func disconnected(_ workerID: String) {
    self.state.withLock { workers in _ = workers.removeValue(forKey: workerID) }
  }

  var all: [WorkerInfo] {
    self.state.withLock { Array($0.values) }.sorted { $0.connectedMs < $1.connectedMs }
  }
}

/// One worker in the registry.
public struct WorkerInfo: Sendable, Hashable {
  public var id: String
  public var name: String
  public var address: String
  public var queues: [String] = []
  public var taskIDs: Set<String> = []
  public var lastHeartbeatMs: Int64 = 0
  public var lastSeenMs: Int64 = 0
  public var connectedMs: Int64
}
