import Foundation
import Logging
import TaskwireProto
import TaskwireWire

extension TaskwireWorker {
  /// Takes a leased task on: registers it and its handler, or, when it cannot run (the worker
  /// is stopping, or no handler takes its type), returns what to report instead.
  /// ``execute(_:refusal:)`` then runs the handler and follows the task to its end.
  func launch(_ task: LeasedTask) -> (RunningTask, refusal: Outcome?) {
    let running = RunningTask(task: task)
    self.state.register(running)
    guard !self.state.isStopping, !Task.isCancelled else {
      // Leased while stopping: hand it back without using an attempt.
      return (running, .release)
    }
    guard let handler = self.handler(for: task.type) else {
      let message = "no handler for task type \(task.type)"
      return (running, .fail(message: message, permanent: true, retryAfter: nil))
    }
    let context = TaskContext(task: task, running: running, worker: self)
    if self.logger.logLevel <= .debug {
      running.logger(from: self.logger).debug("running task")
    }
    // Heartbeats and the execution timeout run on the worker's one timer loop.
    self.timers.add(running)
    running.start { try await handler(task, context) }
    return (running, nil)
  }

  /// Runs a launched task's handler in the calling task and reports the outcome (or reports
  /// `refusal`). Returns whether a stop cancelled the calling task (it stays cancelled, so its
  /// lane ends).
  func execute(_ running: RunningTask, refusal: Outcome?) async -> Bool {
    let task = running.task
    defer {
      self.state.unregister(task.id)
      self.state.releaseSlot()
    }
    if let refusal {
      await self.report(running, refusal)
      return false
    }
    guard let (result, cancelledByStop) = await running.run() else { return false }
    self.timers.remove(running)

    if Task.isCancelled, !cancelledByStop {
      // Aborted (the worker's task was cancelled): report nothing; the lease expires.
      if self.logger.logLevel <= .debug {
        running.logger(from: self.logger).debug("worker aborted; dropping the task")
      }
      return false
    }
    let outcome: Outcome
    switch (running.stopReason, result) {
    case (.leaseLost?, _):
      running.logger(from: self.logger).info("lease lost; the result is dropped")
      return cancelledByStop
    case (_, .success(let value)):
      // A completion wins even over a cancel request.
      outcome = .complete(value)
    case (.cancelRequested?, .failure):
      outcome = .cancelAck
    case (.shutdown?, .failure):
      outcome = .release
    case (.executionTimeout?, .failure):
      outcome = .fail(
        message: "execution timeout of \(task.executionTimeout ?? .zero) exceeded",
        permanent: false,
        retryAfter: nil
      )
    case (nil, .failure(let error)):
      switch error {
      case let error as NonRetryableError:
        outcome = .fail(message: error.message, permanent: true, retryAfter: nil)
      case let error as RetryLaterError:
        outcome = .fail(message: error.message, permanent: false, retryAfter: error.delay)
      default:
        outcome = .fail(message: String(describing: error), permanent: false, retryAfter: nil)
      }
    }
    if cancelledByStop {
      // The stop cancelled this task to stop the handler; a cancelled task's call would be
      // cancelled too, so the outcome goes from a fresh one (only on this rare path).
      await Task { await self.report(running, outcome) }.value
    } else {
      await self.report(running, outcome)
    }
    return cancelledByStop
  }

  // MARK: - Heartbeats

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
  /// the same token) for up to the lease duration or 30 s, whichever is longer. Completions go
  /// through the worker's ``CompletionBatcher``.
  func report(_ running: RunningTask, _ outcome: Outcome) async {
    let task = running.task
    let body: Taskwire_V1_Frame.OneOf_Body
    switch outcome {
    case .complete(let result):
      var request = Taskwire_V1_CompleteRequest()
      request.taskID = task.id.rawValue
      request.leaseToken = task.leaseToken
      request.result = result.payload
      request.contentType = result.contentType
      let error = await self.completions.complete(request) { items in
        await self.sendCompletions(items, leaseDuration: task.leaseDuration)
      }
      self.logReport(running, outcome, error)
      return
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
    let answer = await self.deliver(body, leaseDuration: task.leaseDuration)
    switch answer {
    case .success: self.logReport(running, outcome, nil)
    case .failure(let error): self.logReport(running, outcome, error)
    }
  }

  /// Sends a batch of completions: one alone as a `CompleteRequest`, more as one
  /// `CompleteBatchRequest`. Returns each item's error (`nil`: accepted). A refusal of the whole
  /// batch (a limit) is answered by sending each item on its own, so each gets its own answer.
  func sendCompletions(
    _ items: [Taskwire_V1_CompleteRequest],
    leaseDuration: Duration
  ) async -> [TaskwireError?] {
    if items.count == 1 {
      switch await self.deliver(.completeRequest(items[0]), leaseDuration: leaseDuration) {
      case .success: return [nil]
      case .failure(let error): return [error]
      }
    }
    var request = Taskwire_V1_CompleteBatchRequest()
    request.items = items
    switch await self.deliver(.completeBatchRequest(request), leaseDuration: leaseDuration) {
    case .success(.completeBatchResponse(let response)):
      guard response.results.count == items.count else {
        let error = TaskwireError(
          code: .internal,
          message:
            "complete_batch_response has \(response.results.count) results for \(items.count)"
        )
        return Array(repeating: error, count: items.count)
      }
      return response.results.map { $0.code == .ok ? nil : TaskwireError($0) }
    case .success(let answer):
      let error = unexpectedAnswer(answer, expected: "complete_batch_response")
      return Array(repeating: error, count: items.count)
    case .failure(let error)
    where error.code == .resourceExhausted || error.code == .invalidArgument:
      var answers: [TaskwireError?] = []
      answers.reserveCapacity(items.count)
      for item in items {
        answers.append(contentsOf: await self.sendCompletions([item], leaseDuration: leaseDuration))
      }
      return answers
    case .failure(let error):
      return Array(repeating: error, count: items.count)
    }
  }

  /// One call of an outcome, retried on UNAVAILABLE through reconnects until the lease duration
  /// or 30 s (whichever is longer) has passed.
  private func deliver(
    _ body: Taskwire_V1_Frame.OneOf_Body,
    leaseDuration: Duration
  ) async -> Result<Taskwire_V1_Frame.OneOf_Body, TaskwireError> {
    let deadline = ContinuousClock.now + max(leaseDuration, .seconds(30))
    var attempt = 0
    while true {
      do {
        let connection = try await self.connection.connection()
        return .success(try await connection.unary(body))
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
      } catch let error as TaskwireError {
        return .failure(error)
      } catch {
        return .failure(TaskwireError(code: .internal, message: "\(error)"))
      }
    }
  }

  private func logReport(_ running: RunningTask, _ outcome: Outcome, _ error: TaskwireError?) {
    if let error {
      running.logger(from: self.logger).warning(
        "could not report the task's outcome",
        metadata: ["outcome": "\(outcome.name)", "error": "\(error)"]
      )
    } else if self.logger.logLevel <= .debug {
      running.logger(from: self.logger).debug(
        "task reported",
        metadata: ["outcome": "\(outcome.name)"]
      )
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
