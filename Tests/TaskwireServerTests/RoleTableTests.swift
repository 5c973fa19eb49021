import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import TaskwireProto
import Testing

/// Which role may call what, spelled out by hand from docs/protocol.md ("Roles") — never derived
/// from the server's own table.
@Suite("Role × call table")
struct RoleTableTests {
  enum Role: String, CaseIterable { case client, worker, admin }

  /// (call, roles allowed).
  static let table: [(String, Taskwire_V1_Frame.OneOf_Body, Set<Role>)] = [
    ("health", .healthRequest(.init()), [.client, .worker, .admin]),
    ("submit", .submitRequest(.with { $0.task.type = "t" }), [.client, .worker, .admin]),
    (
      "submit_batch", .submitBatchRequest(.with { $0.tasks = [.with { $0.type = "t" }] }),
      [.client, .worker, .admin]
    ),
    ("get", .getRequest(.with { $0.id = "x" }), [.client, .admin]),
    ("list", .listRequest(.init()), [.client, .admin]),
    ("count", .countRequest(.init()), [.client, .admin]),
    ("cancel", .cancelRequest(.with { $0.id = "x" }), [.client, .admin]),
    ("retry", .retryRequest(.with { $0.id = "x" }), [.client, .admin]),
    ("delete", .deleteRequest(.with { $0.id = "x" }), [.client, .admin]),
    ("lease", .leaseRequest(.with { $0.queues = ["none"] }), [.worker, .admin]),
    ("heartbeat", .heartbeatRequest(.with { $0.taskID = "x" }), [.worker, .admin]),
    ("complete", .completeRequest(.with { $0.taskID = "x" }), [.worker, .admin]),
    (
      "complete_batch", .completeBatchRequest(.with { $0.items = [.with { $0.taskID = "x" }] }),
      [.worker, .admin]
    ),
    ("fail", .failRequest(.with { $0.taskID = "x" }), [.worker, .admin]),
    ("release", .releaseRequest(.with { $0.taskID = "x" }), [.worker, .admin]),
    ("cancel_ack", .cancelAckRequest(.with { $0.taskID = "x" }), [.worker, .admin]),
    ("stats", .statsRequest(.init()), [.admin]),
    ("list_workers", .listWorkersRequest(.init()), [.admin]),
    ("pause_queue", .pauseQueueRequest(.with { $0.queue = "role-test" }), [.admin]),
    ("resume_queue", .resumeQueueRequest(.with { $0.queue = "role-test" }), [.admin]),
    (
      "create_token",
      .createTokenRequest(
        .with {
          $0.name = "role-test-token"; $0.role = .client
        }
      ), [.admin]
    ),
    ("list_tokens", .listTokensRequest(.init()), [.admin]),
    ("revoke_token", .revokeTokenRequest(.with { $0.id = "no-such-token" }), [.admin]),
    ("create_schedule", .createScheduleRequest(.init()), [.admin]),
    ("list_schedules", .listSchedulesRequest(.init()), [.admin]),
    ("delete_schedule", .deleteScheduleRequest(.init()), [.admin]),
    ("pause_schedule", .pauseScheduleRequest(.init()), [.admin]),
  ]

  @Test("Each call outside the token's role gets PERMISSION_DENIED; inside it does not")
  func roleTable() async throws {
    try await withTestNode { node in
      for role in Role.allCases {
        let token: String
        switch role {
        case .client: token = try await node.token(.client)
        case .worker: token = try await node.token(.worker)
        case .admin: token = try await node.token(.admin)
        }
        let client = try await node.client(token: token)
        var id: UInt64 = 0
        for (name, body, allowed) in Self.table {
          id += 1
          let answer = try await client.call(id, body)
          #expect(answer != nil, "\(role) \(name): no answer")
          let denied = answer?.errorCode == .permissionDenied
          #expect(
            denied == !allowed.contains(role),
            "\(role) calling \(name): \(String(describing: answer))"
          )
        }
        await client.close()
      }
    }
  }
}
