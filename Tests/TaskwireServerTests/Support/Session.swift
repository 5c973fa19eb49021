import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import TaskwireProto

/// Typed calls over a `RawClient`, for lifecycle tests.
final class Session: Sendable {
  let client: RawClient
  private let ids = IDCounter()

  init(_ client: RawClient) { self.client = client }

  private final class IDCounter: @unchecked Sendable {
    // Only the owning test task uses a session, one call at a time.
    var next: UInt64 = 0
    func take() -> UInt64 {
      self.next += 1
      return self.next
    }
  }

  func call(_ body: Taskwire_V1_Frame.OneOf_Body) async throws -> Taskwire_V1_Frame.OneOf_Body {
    guard let answer = try await self.client.call(self.ids.take(), body) else {
      throw TestFailure("connection closed before the answer")
    }
    return answer
  }

  /// The error status of a call, or a failure if it succeeded.
  func error(_ body: Taskwire_V1_Frame.OneOf_Body) async throws -> Taskwire_V1_Status {
    let answer = try await self.call(body)
    guard case .error(let status) = answer else {
      throw TestFailure("expected an error, got \(answer)")
    }
    return status
  }

  func submit(_ configure: (inout Taskwire_V1_TaskSpec) -> Void) async throws
    -> Taskwire_V1_SubmitResponse
  {
    var spec = Taskwire_V1_TaskSpec()
    spec.type = "job"
    configure(&spec)
    let answer = try await self.call(.submitRequest(.with { $0.task = spec }))
    guard case .submitResponse(let response) = answer else {
      throw TestFailure("submit: \(answer)")
    }
    return response
  }

  func lease(_ queue: String, max: UInt32 = 1, waitMs: Int64 = 0) async throws
    -> [Taskwire_V1_LeasedTask]
  {
    let answer = try await self.call(
      .leaseRequest(
        .with {
          $0.queues = [queue]
          $0.maxTasks = max
          $0.waitMs = waitMs
        }
      )
    )
    guard case .leaseResponse(let response) = answer else { throw TestFailure("lease: \(answer)") }
    return response.tasks
  }

  func get(_ id: String) async throws -> Taskwire_V1_Task {
    let answer = try await self.call(.getRequest(.with { $0.id = id }))
    guard case .getResponse(let response) = answer else { throw TestFailure("get: \(answer)") }
    return response.task
  }

  func complete(_ task: Taskwire_V1_LeasedTask, result: String = "ok") async throws
    -> Taskwire_V1_Frame.OneOf_Body
  {
    try await self.call(
      .completeRequest(
        .with {
          $0.taskID = task.id
          $0.leaseToken = task.leaseToken
          $0.result = Data(result.utf8)
        }
      )
    )
  }

  func fail(_ task: Taskwire_V1_LeasedTask, error: String = "boom", permanent: Bool = false)
    async throws -> Taskwire_V1_Frame.OneOf_Body
  {
    try await self.call(
      .failRequest(
        .with {
          $0.taskID = task.id
          $0.leaseToken = task.leaseToken
          $0.error = error
          $0.permanent = permanent
        }
      )
    )
  }

  func heartbeat(_ task: Taskwire_V1_LeasedTask, percent: Int32? = nil) async throws
    -> Taskwire_V1_Frame.OneOf_Body
  {
    try await self.call(
      .heartbeatRequest(
        .with {
          $0.taskID = task.id
          $0.leaseToken = task.leaseToken
          if let percent { $0.progress.percent = percent }
        }
      )
    )
  }
}

extension TestNode {
  func session(_ role: RoleName = .admin) async throws -> Session {
    switch role {
    case .admin: return Session(try await self.client())
    case .worker: return Session(try await self.client(token: try await self.token(.worker)))
    case .client: return Session(try await self.client(token: try await self.token(.client)))
    }
  }

  enum RoleName { case admin, worker, client }
}
