import TaskwireProto

// Admin calls (an admin token): queue statistics, the worker registry, pausing queues, tokens.

extension TaskwireClient {
  /// Per-queue counts (all queues when `queues` is empty).
  public func stats(queues: [String] = []) async throws -> [QueueStats] {
    var request = Taskwire_V1_StatsRequest()
    request.queues = queues
    let answer = try await self.call(.statsRequest(request), idempotent: true)
    guard case .statsResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "stats_response")
    }
    return response.queues.map(QueueStats.init)
  }

  /// The connected workers, what they hold, and their last heartbeat.
  public func workers() async throws -> [WorkerInfo] {
    let answer = try await self.call(
      .listWorkersRequest(Taskwire_V1_ListWorkersRequest()),
      idempotent: true
    )
    guard case .listWorkersResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "list_workers_response")
    }
    return response.workers.map(WorkerInfo.init)
  }

  /// Stops leasing from `queue` (submits are still accepted).
  public func pauseQueue(_ queue: String) async throws {
    var request = Taskwire_V1_PauseQueueRequest()
    request.queue = queue
    let answer = try await self.call(.pauseQueueRequest(request), idempotent: true)
    guard case .pauseQueueResponse = answer else {
      throw unexpectedAnswer(answer, expected: "pause_queue_response")
    }
  }

  /// Resumes leasing from `queue`.
  public func resumeQueue(_ queue: String) async throws {
    var request = Taskwire_V1_ResumeQueueRequest()
    request.queue = queue
    let answer = try await self.call(.resumeQueueRequest(request), idempotent: true)
    guard case .resumeQueueResponse = answer else {
      throw unexpectedAnswer(answer, expected: "resume_queue_response")
    }
  }

  /// Creates an API token and returns its facts and its secret (shown only this once).
  ///
  /// - Throws: ``TaskwireError`` `alreadyExists` for a name in use.
  public func createToken(name: String, role: Role) async throws -> (
    info: TokenInfo, secret: String
  ) {
    var request = Taskwire_V1_CreateTokenRequest()
    request.name = name
    request.role = role.wire
    let answer = try await self.call(.createTokenRequest(request), idempotent: false)
    guard case .createTokenResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "create_token_response")
    }
    return (TokenInfo(response.info), response.token)
  }

  /// Every token's facts (never their secrets).
  public func tokens() async throws -> [TokenInfo] {
    let answer = try await self.call(
      .listTokensRequest(Taskwire_V1_ListTokensRequest()),
      idempotent: true
    )
    guard case .listTokensResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "list_tokens_response")
    }
    return response.tokens.map(TokenInfo.init)
  }

  /// Revokes a token by id or name; its open connections are closed within seconds.
  public func revokeToken(_ idOrName: String) async throws {
    var request = Taskwire_V1_RevokeTokenRequest()
    request.id = idOrName
    let answer = try await self.call(.revokeTokenRequest(request), idempotent: true)
    guard case .revokeTokenResponse = answer else {
      throw unexpectedAnswer(answer, expected: "revoke_token_response")
    }
  }
}
