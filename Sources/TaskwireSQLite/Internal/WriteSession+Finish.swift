import Foundation
import TaskwireCore
import TaskwireStore

extension WriteSession {
  // MARK: Complete

  /// What a completion will do, decided by reads alone: answer a repeat, or complete `core`.
  enum CompletionPlan {
    case repeated(CompletionOutcome)
    case complete(TaskCore)
  }

  /// Completes tasks; each item stands alone, as if it were its own call, in order — without a
  /// savepoint per item: an item is refused (not found, lease lost) by reads before anything is
  /// written, and a failed write fails the whole operation (its savepoint rolls it all back).
  func complete(_ items: [Completion], nowMs: Int64) throws -> [Result<
    CompletionOutcome, StoreError
  >] {
    var results: [Result<CompletionOutcome, StoreError>] = []
    results.reserveCapacity(items.count)
    for item in items {
      let plan: CompletionPlan
      do {
        plan = try planCompletion(item)
      } catch {
        results.append(.failure(SQLiteTaskStore.storeError(error)))
        continue
      }
      switch plan {
      case .repeated(let outcome): results.append(.success(outcome))
      case .complete(let core): results.append(.success(try complete(core, item, nowMs: nowMs)))
      }
    }
    return results
  }

  /// Decides a completion by reads only; refusals throw before anything is written.
  func planCompletion(_ item: Completion) throws -> CompletionPlan {
    guard let core = try loadCore(id: item.taskID) else {
      if let cleaned = try cleanedCompletion(item) { return .repeated(cleaned) }
      throw StoreError.notFound("task \(item.taskID)")
    }
    guard core.holds(item.token) else {
      // The attempt that succeeded lives in the task row, its token kept there.
      if core.state == .succeeded, !item.token.isEmpty, core.leaseToken == item.token {
        return .repeated(
          CompletionOutcome(
            taskID: core.id,
            queue: core.queue,
            type: core.type,
            attempt: core.attempt,
            finishedMs: core.finishedMs,
            repeated: true
          )
        )
      }
      if let ended = try finishedAttempt(taskID: core.id, token: item.token),
        ended.outcome == .succeeded
      {
        return .repeated(
          CompletionOutcome(
            taskID: core.id,
            queue: core.queue,
            type: core.type,
            attempt: ended.attempt,
            finishedMs: ended.endedMs,
            repeated: true
          )
        )
      }
      throw StoreError.leaseLost(taskID: item.taskID)
    }
    return .complete(core)
  }

  /// Completes the running task `core` with `item`'s result (its lease was checked).
  private func complete(_ core: TaskCore, _ item: Completion, nowMs: Int64) throws
    -> CompletionOutcome
  {
    let resultSize = Int64(item.result.count)
    let sequence = nextSequence
    let s = try db.statement(
      """
      UPDATE tasks SET state = 5, result = ?, result_content_type = ?,
        lease_deadline_ms = 0, expire_ms = NULL, next_run_ms = 0, finished_ms = ?,
        updated_ms = ?, last_seq = ?
      WHERE rid = ?
      """
    )
    s.bind(0, item.result)
    s.bind(1, item.contentType)
    s.bind(2, nowMs)
    s.bind(3, nowMs)
    s.bind(4, Int64(sequence))
    s.bind(5, core.rid)
    _ = try s.step()
    s.reset()
    // The attempt that succeeded stays in the task row (worker, token, start; the row's
    // finished_ms is its end): no attempts row is written for it (see TaskRow.load).
    try append(
      event(
        core,
        .finished,
        state: .succeeded,
        nowMs: nowMs,
        message: core.cancelRequested ? "completed after cancel was requested" : "",
        resultSize: resultSize
      )
    )
    move(queue: core.queue, from: .running, to: .succeeded, ready: nil)
    try updateKey(core, finalState: .succeeded, nowMs: nowMs)
    if core.cleanOnSuccess {
      try deleteRow(core, state: .succeeded, nowMs: nowMs)
      try db.run(
        """
        INSERT OR REPLACE INTO cleaned_tasks(task_id, lease_token, queue, type, attempt, finished_ms)
        VALUES (?, ?, ?, ?, ?, ?)
        """
      ) {
        $0.bind(0, core.id)
        $0.bind(1, item.token)
        $0.bind(2, core.queue)
        $0.bind(3, core.type)
        $0.bind(4, core.attempt)
        $0.bind(5, nowMs)
      }
    }
    return CompletionOutcome(
      taskID: core.id,
      queue: core.queue,
      type: core.type,
      attempt: core.attempt,
      finishedMs: nowMs,
      repeated: false
    )
  }

  /// The answer to a repeated completion of a task that was cleaned on success, if it is one.
  private func cleanedCompletion(_ item: Completion) throws(SQLiteError) -> CompletionOutcome? {
    let s = try db.statement(
      """
      SELECT queue, type, attempt, finished_ms FROM cleaned_tasks
      WHERE task_id = ? AND lease_token = ?
      """
    )
    s.bind(0, item.taskID)
    s.bind(1, item.token)
    defer { s.reset() }
    guard !item.token.isEmpty, try s.step() else { return nil }
    return CompletionOutcome(
      taskID: item.taskID,
      queue: s.string(0),
      type: s.string(1),
      attempt: s.int32(2),
      finishedMs: s.int64(3),
      repeated: true
    )
  }

  // MARK: Fail

  func fail(
    taskID: String,
    token: String,
    error: String,
    permanent: Bool,
    retryAfterMs: Int64?,
    nowMs: Int64
  ) throws -> FailOutcome {
    let core = try requireCore(id: taskID)
    guard core.holds(token) else {
      if let ended = try finishedAttempt(taskID: core.id, token: token), ended.outcome == .failed,
        let answer = ended.answer
      {
        return FailOutcome(state: answer, nextRunMs: ended.nextRunMs)
      }
      throw StoreError.leaseLost(taskID: taskID)
    }
    let transition = TaskLifecycle.Transition.fail(
      retryable: !permanent,
      attemptsLeft: core.attempt < core.maxAttempts,
      cancelRequested: core.cancelRequested
    )
    guard case .success(.moved(let state)) = TaskLifecycle.apply(transition, to: core.state) else {
      throw StoreError.internal("lifecycle refused a failure of a running task")
    }
    var nextRunMs: Int64 = 0
    if state == .retrying {
      let delay =
        retryAfterMs.map { Swift.max($0, 0) }
        ?? core.retryPolicy.delayMs(afterAttempt: Int(core.attempt), random: &random)
      nextRunMs = nowMs + delay
    }
    try endAttempt(
      core,
      outcome: .failed,
      error: error,
      answer: state,
      answerNextRunMs: nextRunMs,
      nowMs: nowMs
    )
    try settle(core, to: state, nextRunMs: nextRunMs, error: error, nowMs: nowMs)
    return FailOutcome(state: state, nextRunMs: nextRunMs)
  }

  // MARK: Release and cancel acknowledgement

  func release(taskID: String, token: String, nowMs: Int64) throws -> TaskState {
    let core = try requireCore(id: taskID)
    guard core.holds(token) else { throw StoreError.leaseLost(taskID: taskID) }
    let state: TaskState = core.cancelRequested ? .cancelled : .pending
    try endAttempt(
      core,
      outcome: .released,
      answer: state,
      nowMs: nowMs
    )
    try settle(
      core,
      to: state,
      attempt: Swift.max(core.attempt - 1, 0),
      nextRunMs: 0,
      error: nil,
      message: "released",
      nowMs: nowMs
    )
    return state
  }

  func cancelAck(taskID: String, token: String, message: String, nowMs: Int64) throws {
    let core = try requireCore(id: taskID)
    guard core.holds(token) else { throw StoreError.leaseLost(taskID: taskID) }
    try endAttempt(
      core,
      outcome: .cancelled,
      error: message,
      answer: .cancelled,
      nowMs: nowMs
    )
    try settle(core, to: .cancelled, nextRunMs: 0, error: nil, message: message, nowMs: nowMs)
  }

  // MARK: Cancel, retry, delete

  func cancel(taskID: String, reason: String, nowMs: Int64) throws -> CancelOutcome {
    let core = try requireCore(id: taskID)
    switch TaskLifecycle.apply(.cancel, to: core.state) {
    case .failure(let error):
      throw StoreError.failedPrecondition(
        "cannot cancel task \(taskID): it is already \(error.state.map { "\($0)" } ?? "gone")"
      )
    case .success(.cancelRequested):
      if !core.cancelRequested {
        let sequence = nextSequence
        try db.run(
          """
          UPDATE tasks SET cancel_requested = 1, cancel_reason = ?, updated_ms = ?, last_seq = ?
          WHERE rid = ?
          """
        ) {
          $0.bind(0, reason)
          $0.bind(1, nowMs)
          $0.bind(2, Int64(sequence))
          $0.bind(3, core.rid)
        }
        try append(event(core, .cancelRequested, state: .running, nowMs: nowMs, message: reason))
      }
      guard let task = try TaskRow.load(db, id: taskID, withAttempts: false) else {
        throw StoreError.notFound("task \(taskID)")
      }
      return CancelOutcome(
        task: task,
        notify: .init(workerID: core.workerID, leaseToken: core.leaseToken)
      )
    case .success:
      let sequence = nextSequence
      try db.run(
        """
        UPDATE tasks SET state = 7, cancel_reason = ?, next_run_ms = 0, finished_ms = ?,
          updated_ms = ?, last_seq = ?
        WHERE rid = ?
        """
      ) {
        $0.bind(0, reason)
        $0.bind(1, nowMs)
        $0.bind(2, nowMs)
        $0.bind(3, Int64(sequence))
        $0.bind(4, core.rid)
      }
      try append(event(core, .finished, state: .cancelled, nowMs: nowMs, message: reason))
      move(queue: core.queue, from: core.state, to: .cancelled, ready: core.readyTask)
      try updateKey(core, finalState: .cancelled, nowMs: nowMs)
      guard let task = try TaskRow.load(db, id: taskID, withAttempts: false) else {
        throw StoreError.notFound("task \(taskID)")
      }
      return CancelOutcome(task: task, notify: nil)
    }
  }

  func retry(taskID: String, resetAttempts: Bool, nowMs: Int64) throws -> TaskRecord {
    let core = try requireCore(id: taskID)
    guard case .success = TaskLifecycle.apply(.retry, to: core.state) else {
      throw StoreError.failedPrecondition(
        "cannot retry task \(taskID) in state \(core.state): only FAILED or CANCELLED tasks can"
      )
    }
    let sequence = nextSequence
    try db.run(
      """
      UPDATE tasks SET state = 1, attempt = ?, next_run_ms = 0, finished_ms = 0,
        cancel_requested = 0, cancel_reason = '', result = NULL, result_content_type = '',
        lease_token = '', lease_deadline_ms = 0, expire_ms = NULL, updated_ms = ?, last_seq = ?
      WHERE rid = ?
      """
    ) {
      $0.bind(0, resetAttempts ? 0 : core.attempt)
      $0.bind(1, nowMs)
      $0.bind(2, Int64(sequence))
      $0.bind(3, core.rid)
    }
    try append(
      event(
        core,
        .stateChanged,
        state: .pending,
        attempt: resetAttempts ? 0 : core.attempt,
        nowMs: nowMs,
        message: "retried"
      )
    )
    move(queue: core.queue, from: core.state, to: .pending, ready: core.readyTask)
    try updateKey(core, finalState: nil, nowMs: nowMs)
    guard let task = try TaskRow.load(db, id: taskID, withAttempts: true) else {
      throw StoreError.notFound("task \(taskID)")
    }
    return task
  }

  func delete(taskID: String, nowMs: Int64) throws {
    let core = try requireCore(id: taskID)
    guard case .success = TaskLifecycle.apply(.delete, to: core.state) else {
      throw StoreError.failedPrecondition(
        "cannot delete task \(taskID) in state \(core.state): only finished tasks can be deleted"
      )
    }
    try deleteRow(core, state: core.state, nowMs: nowMs)
  }

  /// Deletes a finished task's row and history, with a `deleted` event.
  func deleteRow(_ core: TaskCore, state: TaskState, nowMs: Int64) throws {
    try db.run("DELETE FROM tasks WHERE rid = ?") { $0.bind(0, core.rid) }
    try db.run("DELETE FROM attempts WHERE task_id = ?") { $0.bind(0, core.id) }
    try append(event(core, .deleted, state: state, nowMs: nowMs))
    move(queue: core.queue, from: state, to: nil, ready: core.readyTask)
  }
}
