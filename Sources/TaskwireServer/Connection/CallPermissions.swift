import TaskwireProto

/// Which role may make which call (docs/protocol.md, "Roles").
///
/// `client`: health, submit, submit batch, get, list, count, watch, cancel, retry, delete.
/// `worker`: health, lease, heartbeat, complete, complete batch, fail, release, cancel ack, and
/// submit / submit batch for child tasks. `admin`: everything.
enum CallPermissions {
  /// Whether `role` may send a request with this body; `nil` when the body is not a request.
  static func allows(_ role: Taskwire_V1_Role, _ body: Taskwire_V1_Frame.OneOf_Body) -> Bool? {
    guard let kind = Self.kind(of: body) else { return nil }
    switch role {
    case .admin: return true
    case .client: return kind == .any || kind == .client || kind == .clientOrWorker
    case .worker: return kind == .any || kind == .worker || kind == .clientOrWorker
    case .unspecified, .UNRECOGNIZED: return false
    }
  }

  private enum Kind { case any, client, worker, clientOrWorker, admin }

  private static func kind(of body: Taskwire_V1_Frame.OneOf_Body) -> Kind? {
    switch body {
    case .healthRequest: .any
    case .submitRequest, .submitBatchRequest: .clientOrWorker
    case .getRequest, .listRequest, .countRequest, .cancelRequest, .retryRequest, .deleteRequest,
      .watchRequest:
      .client
    case .leaseRequest, .heartbeatRequest, .completeRequest, .completeBatchRequest, .failRequest,
      .releaseRequest, .cancelAckRequest:
      .worker
    case .statsRequest, .listWorkersRequest, .pauseQueueRequest, .resumeQueueRequest,
      .createTokenRequest, .listTokensRequest, .revokeTokenRequest, .createScheduleRequest,
      .listSchedulesRequest, .deleteScheduleRequest, .pauseScheduleRequest:
      .admin
    case .hello, .helloReply, .ping, .pong, .goAway, .cancelCall, .cancelNotice, .error,
      .streamEnd, .healthResponse, .submitResponse, .submitBatchResponse, .getResponse,
      .listResponse, .countResponse, .cancelResponse, .retryResponse, .deleteResponse,
      .watchEvent, .leaseResponse, .heartbeatResponse, .completeResponse,
      .completeBatchResponse, .failResponse, .releaseResponse, .cancelAckResponse,
      .statsResponse, .listWorkersResponse, .pauseQueueResponse, .resumeQueueResponse,
      .createTokenResponse, .listTokensResponse, .revokeTokenResponse,
      .createScheduleResponse, .listSchedulesResponse, .deleteScheduleResponse,
      .pauseScheduleResponse:
      nil
    }
  }
}
