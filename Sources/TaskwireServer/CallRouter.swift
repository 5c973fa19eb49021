import Foundation
import Logging
import TaskwireCoordinator
import TaskwireCore
import SwiftProtobuf
import TaskwireProto
import TaskwireStore
import TaskwireWire

/// Turns request frames into coordinator calls and their results into response frames.
final class CallRouter: Sendable {
  let coordinator: Coordinator
  let registry: ConnectionRegistry
  let limits: WireLimits
  let logger: Logger

  init(coordinator: Coordinator, registry: ConnectionRegistry, limits: WireLimits, logger: Logger) {
    self.coordinator = coordinator
    self.registry = registry
    self.limits = limits
    self.logger = logger
    coordinator.onCancelRequested { [registry] workerID, taskID, token, reason in
      var notice = Taskwire_V1_Frame()
      notice.cancelNotice.taskID = taskID
      notice.cancelNotice.leaseToken = token
      notice.cancelNotice.reason = reason
      registry.push(notice, toWorker: workerID)
    }
    coordinator.onTokenRevoked { [registry] tokenID in
      registry.closeConnections(ofToken: tokenID)
    }
  }

  var defaultHeartbeatIntervalMs: Int64 { self.coordinator.heartbeatIntervalMs }

  /// Checks a hello's token. Unknown and revoked tokens get the same answer.
  func authenticate(token: String) async -> Result<Principal, WireStatus> {
    guard let principal = await self.coordinator.authenticate(token: token) else {
      return .failure(WireStatus(.unauthenticated, "unknown or revoked token"))
    }
    return .success(principal)
  }

  func connectionClosed(_ context: CallContext) {
    if context.principal.role != .client {
      self.coordinator.workerDisconnected(context.workerID)
    }
  }

  /// Answers one unary request: its response body, or `.error`. `interrupt` ends a long poll's
  /// wait early (cancel_call, shutdown).
  func unary(
    _ body: Taskwire_V1_Frame.OneOf_Body,
    context: CallContext,
    interrupt: (any LongPollInterrupt)? = nil
  ) async -> Taskwire_V1_Frame.OneOf_Body {
    do {
      return try await self.dispatch(body, context: context, interrupt: interrupt)
    } catch let error as CallError {
      return .error(WireStatus(error).proto)
    } catch let status as WireStatus {
      return .error(status.proto)
    } catch {
      self.logger.error("call failed", metadata: ["error": "\(error)"])
      return .error(WireStatus(.internal, "unexpected failure: \(error)").proto)
    }
  }

  /// Answers a health call. It touches only in-memory state, so the connection answers it in its
  /// own loop, in the same write as the other answers of the read burst.
  func health() async -> Taskwire_V1_Frame.OneOf_Body {
    var response = Taskwire_V1_HealthResponse()
    let storeOK = (try? await self.coordinator.store.latestSequence()) != nil
    response.storeOk = storeOK
    response.accepting = true
    response.ready = storeOK
    response.serverVersion = taskwireVersion
    return .healthResponse(response)
  }

  /// Answers pipelined single submits of one read burst with one store hand-off.
  func submitEach(_ requests: [Taskwire_V1_SubmitRequest], context: CallContext) async
    -> [Taskwire_V1_Frame.OneOf_Body]
  {
    var answers = [Taskwire_V1_Frame.OneOf_Body?](repeating: nil, count: requests.count)
    var specs: [SubmitSpec] = []
    var positions: [Int] = []
    for (index, request) in requests.enumerated() {
      do {
        specs.append(try self.spec(request.task))
        positions.append(index)
      } catch let status as WireStatus {
        answers[index] = .error(status.proto)
      } catch {
        answers[index] = .error(WireStatus(.internal, "\(error)").proto)
      }
    }
    let results = await self.coordinator.submitEach(specs, createdBy: context.principal.tokenName)
    for (position, result) in zip(positions, results) {
      let brief = requests[position].brief
      switch result {
      case .created(let task):
        answers[position] = .submitResponse(.with { $0.task = task.submitProto(brief: brief) })
      case .existing(let task):
        answers[position] = .submitResponse(
          .with {
            $0.task = task.submitProto(brief: brief)
            $0.existing = true
          }
        )
      case .rejected(let error):
        answers[position] = .error(WireStatus(error).proto)
      }
    }
    return answers.map { $0! }
  }

  /// Answers pipelined single completions of one read burst with one store hand-off.
  func completeEach(_ requests: [Taskwire_V1_CompleteRequest], context: CallContext) async
    -> [Taskwire_V1_Frame.OneOf_Body]
  {
    let worker = WorkerIdentity(
      id: context.workerID,
      name: context.clientName,
      address: context.address
    )
    do {
      let results = try await self.coordinator.complete(
        requests.map(Completion.init),
        worker: worker
      )
      return results.map { error in
        error.map { .error(WireStatus($0).proto) } ?? .completeResponse(.init())
      }
    } catch {
      // A limit on one item refuses the batch; answer each item on its own instead.
      var answers: [Taskwire_V1_Frame.OneOf_Body] = []
      for request in requests {
        answers.append(await self.unary(.completeRequest(request), context: context))
      }
      return answers
    }
  }

  private func dispatch(
    _ body: Taskwire_V1_Frame.OneOf_Body,
    context: CallContext,
    interrupt: (any LongPollInterrupt)?
  ) async throws -> Taskwire_V1_Frame.OneOf_Body {
    let coordinator = self.coordinator
    let worker = WorkerIdentity(
      id: context.workerID,
      name: context.clientName,
      address: context.address
    )
    switch body {
    case .healthRequest:
      return await self.health()

    case .submitRequest(let request):
      let results = try await coordinator.submit(
        [try self.spec(request.task)],
        createdBy: context.principal.tokenName
      )
      switch results[0] {
      case .created(let task):
        return .submitResponse(.with { $0.task = task.submitProto(brief: request.brief) })
      case .existing(let task):
        return .submitResponse(
          .with {
            $0.task = task.submitProto(brief: request.brief)
            $0.existing = true
          }
        )
      case .rejected(let error):
        throw error
      }

    case .submitBatchRequest(let request):
      let specs = try request.tasks.map { try self.spec($0) }
      let results = try await coordinator.submit(specs, createdBy: context.principal.tokenName)
      return .submitBatchResponse(
        .with { response in
          response.results = results.map { result in
            var item = Taskwire_V1_SubmitResult()
            switch result {
            case .created(let task): item.task = task.submitProto(brief: request.brief)
            case .existing(let task):
              item.task = task.submitProto(brief: request.brief)
              item.existing = true
            case .rejected(let error): item.status = WireStatus(error).proto
            }
            return item
          }
        }
      )

    case .getRequest(let request):
      let task = try await coordinator.get(request.id)
      return .getResponse(.with { $0.task = Self.full(task) })

    case .listRequest(let request):
      let page = try await coordinator.list(
        TaskFilter(request.filter),
        pageSize: Int(request.pageSize),
        cursor: request.cursor.isEmpty ? nil : request.cursor
      )
      return .listResponse(
        .with {
          $0.tasks = page.tasks.map { $0.proto(includeBodies: false) }
          $0.nextCursor = page.nextCursor ?? ""
        }
      )

    case .countRequest(let request):
      let count = try await coordinator.count(TaskFilter(request.filter))
      return .countResponse(.with { $0.count = count })

    case .cancelRequest(let request):
      let task = try await coordinator.cancel(request.id, reason: request.reason)
      return .cancelResponse(.with { $0.task = task.proto(includeBodies: false) })

    case .retryRequest(let request):
      let task = try await coordinator.retry(request.id, resetAttempts: request.resetAttempts)
      return .retryResponse(.with { $0.task = task.proto(includeBodies: false) })

    case .deleteRequest(let request):
      try await coordinator.delete(request.id)
      return .deleteResponse(.init())

    case .leaseRequest(let request):
      let grants = try await coordinator.lease(
        queues: request.queues,
        types: request.types,
        max: Int(request.maxTasks),
        waitMs: request.waitMs,
        worker: worker,
        interrupt: interrupt
      )
      return .leaseResponse(.with { $0.tasks = grants.map(\.proto) })

    case .heartbeatRequest(let request):
      let outcome = try await coordinator.heartbeat(
        taskID: request.taskID,
        token: request.leaseToken,
        progress: request.hasProgress
          ? (Int(request.progress.percent), request.progress.message) : nil,
        worker: worker
      )
      return .heartbeatResponse(
        .with {
          $0.leaseDeadlineMs = outcome.leaseDeadlineMs
          $0.cancelRequested = outcome.cancelRequested
        }
      )

    case .completeRequest(let request):
      let results = try await coordinator.complete([Completion(request)], worker: worker)
      if let error = results[0] { throw error }
      return .completeResponse(.init())

    case .completeBatchRequest(let request):
      let results = try await coordinator.completeBatch(
        request.items.map(Completion.init),
        worker: worker
      )
      return .completeBatchResponse(
        .with { response in
          response.results = results.map { error in
            error.map { WireStatus($0).proto } ?? Taskwire_V1_Status()
          }
        }
      )

    case .failRequest(let request):
      let outcome = try await coordinator.fail(
        taskID: request.taskID,
        token: request.leaseToken,
        error: request.error,
        permanent: request.permanent,
        retryAfterMs: request.retryAfterMs,
        worker: worker
      )
      return .failResponse(
        .with {
          $0.state = outcome.state.proto
          $0.nextRunMs = outcome.nextRunMs
        }
      )

    case .releaseRequest(let request):
      try await coordinator.release(
        taskID: request.taskID,
        token: request.leaseToken,
        worker: worker
      )
      return .releaseResponse(.init())

    case .cancelAckRequest(let request):
      try await coordinator.cancelAck(
        taskID: request.taskID,
        token: request.leaseToken,
        message: request.message,
        worker: worker
      )
      return .cancelAckResponse(.init())

    case .statsRequest(let request):
      let stats = try await coordinator.stats(queues: request.queues)
      return .statsResponse(.with { $0.queues = stats.map(\.proto) })

    case .listWorkersRequest:
      return .listWorkersResponse(.with { $0.workers = coordinator.listWorkers().map(\.proto) })

    case .pauseQueueRequest(let request):
      try await coordinator.pause(queue: request.queue.isEmpty ? "default" : request.queue)
      return .pauseQueueResponse(.init())

    case .resumeQueueRequest(let request):
      try await coordinator.resume(queue: request.queue.isEmpty ? "default" : request.queue)
      return .resumeQueueResponse(.init())

    case .createTokenRequest(let request):
      guard let role = request.role.principalRole else {
        throw WireStatus(.invalidArgument, "role must be client, worker or admin")
      }
      let (record, secret) = try await coordinator.createToken(name: request.name, role: role)
      return .createTokenResponse(
        .with {
          $0.info = record.proto
          $0.token = secret
        }
      )

    case .listTokensRequest:
      let tokens = try await coordinator.listTokens()
      return .listTokensResponse(.with { $0.tokens = tokens.map(\.proto) })

    case .revokeTokenRequest(let request):
      try await coordinator.revokeToken(request.id)
      return .revokeTokenResponse(.init())

    case .createScheduleRequest, .listSchedulesRequest, .deleteScheduleRequest,
      .pauseScheduleRequest:
      throw WireStatus(
        .failedPrecondition,
        "cron schedules are not available in this release (planned)"
      )

    default:
      throw WireStatus(.invalidArgument, "frame body is not a unary request")
    }
  }

  /// Converts a submitted TaskSpec, enforcing the payload limit with its wire name.
  private func spec(_ proto: Taskwire_V1_TaskSpec) throws -> SubmitSpec {
    guard proto.payload.count <= self.limits.maxPayloadBytes else {
      throw WireStatus.limit(
        "max_payload",
        limit: self.limits.maxPayloadBytes,
        observed: proto.payload.count,
        what: "payload size"
      )
    }
    return SubmitSpec(proto)
  }

  private static func full(_ task: TaskRecord) -> Taskwire_V1_Task {
    task.proto(includeBodies: true)
  }
}

extension WireStatus {
  /// The wire form of a coordinator error.
  init(_ error: CallError) {
    let code: Taskwire_V1_StatusCode =
      switch error.code {
      case .cancelled: .cancelled
      case .invalidArgument: .invalidArgument
      case .notFound: .notFound
      case .alreadyExists: .alreadyExists
      case .conflict: .conflict
      case .failedPrecondition: .failedPrecondition
      case .leaseLost: .leaseLost
      case .resourceExhausted: .resourceExhausted
      case .permissionDenied: .permissionDenied
      case .deadlineExceeded: .deadlineExceeded
      case .unavailable: .unavailable
      case .internal: .internal
      }
    self.init(code, error.message)
    self.limitName = error.limitName
    self.limitValue = error.limitValue
    self.observedValue = error.observedValue
  }
}
