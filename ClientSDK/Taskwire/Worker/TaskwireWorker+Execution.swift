import Foundation
import Logging
import TaskwireProto
import TaskwireWire

extension TaskwireWorker {
  /// What ended a handler's run.
  private enum Event: Sendable {
    case finished(Result<TaskResult, any Error>)
    case other
  }

  /// Runs one leased task to its end and reports the outcome.
  func execute(_ running: RunningTask) async {
    let task = running.task
    defer {
      self.state.unregister(task.id)
      self.state.releaseSlot()
    }
    var logger = self.logger
    logger[metadataKey: "taskwire.task_id"] = "\(task.id)"
    logger[metadataKey: "taskwire.attempt"] = "\(task.attempt)"
    guard !self.state.isStopping, !Task.isCancelled else {
      // Leased while stopping: hand it back without using an attempt.
      await self.report(running, .release, logger: logger)
      return
    }
    guard let handler = self.handler(for: task.type) else {
      await self.report(
        running,
        .fail(message: "no handler for task type \(task.type)", permanent: true, retryAfter: nil),
        logger: logger
      )
      return
    }
    let context = TaskContext(task: task, logger: logger, running: running, worker: self)
    logger.debug("running task")

    let result: Result<TaskResult, any Error> = await withTaskGroup(of: Event.self) { group in
      group.addTask {
        do {
          return .finished(.success(try await handler(task, context)))
        } catch {
          return .finished(.failure(error))
        }
      }
      group.addTask {
        await self.heartbeatLoop(running)
        return .other
      }
      group.addTask {
        _ = await running.waitForStop()
        return .other
      }
      if let timeout = task.executionTimeout {
        group.addTask {
          do {
            try await Task.sleep(for: timeout)
            running.stop(.executionTimeout)
          } catch {}
          return .other
        }
      }
      var result: Result<TaskResult, any Error>?
      while result == nil, let event = await group.next() {
        switch event {
        case .finished(let outcome):
          result = outcome
        case .other:
          // A stop reason arrived: cancel the handler (and the rest) and wait for it to end.
          if running.stopReason != nil { group.cancelAll() }
        }
      }
      group.cancelAll()
      return result ?? .failure(CancellationError())
    }

    if Task.isCancelled {
      // Aborted (the worker's task was cancelled): report nothing; the lease expires.
      logger.debug("worker aborted; dropping the task")
      return
    }
    switch (running.stopReason, result) {
    case (.leaseLost?, _):
      logger.info("lease lost; the result is dropped")
    case (_, .success(let value)):
      // A completion wins even over a cancel request.
      await self.report(running, .complete(value), logger: logger)
    case (.cancelRequested?, .failure):
      await self.report(running, .cancelAck, logger: logger)
    case (.shutdown?, .failure):
      await self.report(running, .release, logger: logger)
    case (.executionTimeout?, .failure):
      await self.report(
        running,
        .fail(
          message: "execution timeout of \(task.executionTimeout ?? .zero) exceeded",
          permanent: false,
          retryAfter: nil
        ),
        logger: logger
      )
    case (nil, .failure(let error)):
      switch error {
      case let error as NonRetryableError:
        await self.report(
          running,
          .fail(message: error.message, permanent: true, retryAfter: nil),
          logger: logger
        )
      case let error as RetryLaterError:
        await self.report(
          running,
          .fail(message: error.message, permanent: false, retryAfter: error.delay),
          logger: logger
        )
      default:
        await self.report(
          running,
          .fail(message: String(describing: error), permanent: false, retryAfter: nil),
          logger: logger
        )
      }
    }
  }

  // MARK: - Heartbeats

  /// Heartbeats every third of the lease duration until cancelled.
  private func heartbeatLoop(_ running: RunningTask) async {
    let interval = running.task.leaseDuration / 3
    while true {
      do {
        try await Task.sleep(for: interval)
      } catch {
        return
      }
      try? await self.heartbeat(running, progress: nil)
    }
  }

  /// Sends one heartbeat (with progress, if given). A cancel request or a lost lease in the
  /// answer stops the handler; UNAVAILABLE is ignored (the next heartbeat tries again).
  func heartbeat(_ running: RunningTask, progress: (Int32, String)?) async throws {
    var request = Taskwire_V1_HeartbeatRequest()
    request.taskID = running.task.id.rawValue
    request.leaseToken = running.task.leaseToken
    if let (percent, message) = progress {
      request.progress.percent = percent
      request.progress.message = message
    }
    // A progress report waits through a reconnect (up to the lease duration) so it is not lost;
    // a periodic heartbeat just waits for the next tick.
    let deadline = ContinuousClock.now + running.task.leaseDuration
    var attempt = 0
    while true {
      do {
        let connection = try await self.connection.connection()
        let answer = try await connection.unary(.heartbeatRequest(request))
        guard case .heartbeatResponse(let response) = answer else {
          throw unexpectedAnswer(answer, expected: "heartbeat_response")
        }
        if response.cancelRequested {
          running.stop(.cancelRequested)
        }
        return
      } catch let error as TaskwireError {
        switch error.code {
        case .leaseLost:
          running.stop(.leaseLost)
          throw error
        case .unavailable:
          guard progress != nil, ContinuousClock.now < deadline else { return }
          attempt += 1
          let machine = ReconnectStateMachine(
            endpointCount: 1,
            backoff: self.configuration.connection.backoff
          )
          try await Task.sleep(
            for: machine.delay(forRound: min(attempt - 1, 30), random: Double.random(in: 0...1))
          )
        default:
          throw error
        }
      }
    }
  }

  // MARK: - Outcomes

  enum Outcome: Sendable {
    case complete(TaskResult)
    case fail(message: String, permanent: Bool, retryAfter: Duration?)
    case cancelAck
    case release
  }

  /// Sends the outcome, retrying through reconnects (complete and fail are safe to repeat with
  /// the same token) for up to the lease duration or 30 s, whichever is longer.
  func report(_ running: RunningTask, _ outcome: Outcome, logger: Logger) async {
    let task = running.task
    let body: Taskwire_V1_Frame.OneOf_Body
    switch outcome {
    case .complete(let result):
      var request = Taskwire_V1_CompleteRequest()
      request.taskID = task.id.rawValue
      request.leaseToken = task.leaseToken
      request.result = result.payload
      request.contentType = result.contentType
      body = .completeRequest(request)
    case .fail(let message, let permanent, let retryAfter):
      var request = Taskwire_V1_FailRequest()
      request.taskID = task.id.rawValue
      request.leaseToken = task.leaseToken
      request.error = message
      request.permanent = permanent
      request.retryAfterMs = retryAfter?.milliseconds ?? 0
      body = .failRequest(request)
    case .cancelAck:
      var request = Taskwire_V1_CancelAckRequest()
      request.taskID = task.id.rawValue
      request.leaseToken = task.leaseToken
      request.message = "the handler stopped after the cancel request"
      body = .cancelAckRequest(request)
    case .release:
      var request = Taskwire_V1_ReleaseRequest()
      request.taskID = task.id.rawValue
      request.leaseToken = task.leaseToken
      body = .releaseRequest(request)
    }
    let deadline = ContinuousClock.now + max(task.leaseDuration, .seconds(30))
    var attempt = 0
    while true {
      do {
        let connection = try await self.connection.connection()
        _ = try await connection.unary(body)
        logger.debug("task reported", metadata: ["outcome": "\(outcome.name)"])
        return
      } catch let error as TaskwireError
        where error.code == .unavailable && ContinuousClock.now < deadline
      {
        attempt += 1
        let machine = ReconnectStateMachine(
          endpointCount: 1,
          backoff: self.configuration.connection.backoff
        )
        try? await Task.sleep(
          for: machine.delay(forRound: min(attempt - 1, 30), random: Double.random(in: 0...1))
        )
      } catch {
        logger.warning(
          "could not report the task's outcome",
          metadata: ["outcome": "\(outcome.name)", "error": "\(error)"]
        )
        return
      }
    }
  }
}

extension TaskwireWorker.Outcome {
  var name: String {
    switch self {
    case .complete: "complete"
    case .fail: "fail"
    case .cancelAck: "cancel_ack"
    case .release: "release"
    }
  }
}
