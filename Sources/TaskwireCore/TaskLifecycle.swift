/// The task lifecycle as a pure state machine: given a task's state and a transition, it says
/// where the task goes, or why the transition is not allowed. No I/O; stores apply its answers.
///
/// New states (waiting on dependencies or child tasks) are added as new cases of ``TaskState`` and
/// new transitions here; every switch below lists its legal states explicitly, so a new state is
/// illegal everywhere until a rule names it.
public struct TaskLifecycle: Sendable {
  /// Something that happens to a task.
  public enum Transition: Sendable, Hashable {
    /// A new task is stored; `delayed` when its run-at is in the future.
    case submit(delayed: Bool)
    /// A scheduled or retrying task's time has come.
    case promote
    /// A worker takes the task.
    case lease
    /// The worker holding the lease reports progress or extends the lease.
    case heartbeat
    /// The worker holding the lease completes the task.
    case complete
    /// The worker holding the lease reports a failure.
    case fail(retryable: Bool, attemptsLeft: Bool, cancelRequested: Bool = false)
    /// The lease ran out without a heartbeat.
    case leaseExpired(attemptsLeft: Bool, cancelRequested: Bool)
    /// The attempt ran past the task's execution timeout.
    case executionTimedOut(attemptsLeft: Bool, cancelRequested: Bool)
    /// A client cancels the task.
    case cancel
    /// The worker holding the lease confirms it stopped because of a cancel.
    case cancelAck
    /// The worker hands the lease back without using an attempt.
    case release(cancelRequested: Bool = false)
    /// A manual requeue of a failed or cancelled task.
    case retry
    /// A finished task is deleted.
    case delete
  }

  /// Where a legal transition leaves the task.
  public enum Outcome: Sendable, Hashable {
    /// The task is now in this state (possibly the state it was in, e.g. after a heartbeat).
    case moved(to: TaskState)
    /// The task stays `RUNNING` and is marked *cancel requested*; its worker must be told.
    case cancelRequested
    /// The task is gone.
    case deleted
  }

  private init() {}

  /// Applies `transition` to a task in `state` (`nil`: no such task).
  public static func apply(_ transition: Transition, to state: TaskState?) -> Result<
    Outcome, LifecycleError
  > {
    guard let state else {
      if case .submit(let delayed) = transition {
        return .success(.moved(to: delayed ? .scheduled : .pending))
      }
      return .failure(LifecycleError(code: .notFound, state: nil, transition: transition))
    }
    if let outcome = outcome(of: transition, from: state) {
      return .success(outcome)
    }
    let code: LifecycleError.Code
    if case .submit = transition { code = .alreadyExists } else { code = .failedPrecondition }
    return .failure(LifecycleError(code: code, state: state, transition: transition))
  }

  private static func outcome(of transition: Transition, from state: TaskState) -> Outcome? {
    switch (transition, state) {
    case (.promote, .scheduled), (.promote, .retrying):
      return .moved(to: .pending)
    case (.lease, .pending):
      return .moved(to: .running)
    case (.heartbeat, .running):
      return .moved(to: .running)
    case (.complete, .running):
      return .moved(to: .succeeded)
    case (.fail(let retryable, let attemptsLeft, let cancelRequested), .running):
      if cancelRequested { return .moved(to: .cancelled) }
      return .moved(to: retryable && attemptsLeft ? .retrying : .failed)
    case (.leaseExpired(let attemptsLeft, let cancelRequested), .running),
      (.executionTimedOut(let attemptsLeft, let cancelRequested), .running):
      if cancelRequested { return .moved(to: .cancelled) }
      return .moved(to: attemptsLeft ? .retrying : .failed)
    case (.cancel, .pending), (.cancel, .scheduled), (.cancel, .retrying):
      return .moved(to: .cancelled)
    case (.cancel, .running):
      return .cancelRequested
    case (.cancelAck, .running):
      return .moved(to: .cancelled)
    case (.release(let cancelRequested), .running):
      return .moved(to: cancelRequested ? .cancelled : .pending)
    case (.retry, .failed), (.retry, .cancelled):
      return .moved(to: .pending)
    case (.delete, .succeeded), (.delete, .failed), (.delete, .cancelled):
      return .deleted
    default:
      return nil
    }
  }
}

/// Why a lifecycle transition is not allowed.
public struct LifecycleError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of refusal; each maps to one wire status code.
  public enum Code: Sendable, Hashable {
    /// There is no such task.
    case notFound
    /// A task with this id exists already.
    case alreadyExists
    /// The task is in a state that does not allow the transition.
    case failedPrecondition
  }

  /// The kind of refusal.
  public var code: Code
  /// The task's state (`nil`: no such task).
  public var state: TaskState?
  /// The refused transition.
  public var transition: TaskLifecycle.Transition

  /// Creates an error.
  public init(code: Code, state: TaskState?, transition: TaskLifecycle.Transition) {
    self.code = code
    self.state = state
    self.transition = transition
  }

  /// A message for people, e.g. "cannot cancel a task in state SUCCEEDED".
  public var description: String {
    guard let state else { return "task not found" }
    return "cannot \(transition.verb) a task in state \(state)"
  }
}

extension TaskLifecycle.Transition {
  /// The transition as a verb, for messages.
  public var verb: String {
    switch self {
    case .submit: "submit"
    case .promote: "promote"
    case .lease: "lease"
    case .heartbeat: "heartbeat"
    case .complete: "complete"
    case .fail: "fail"
    case .leaseExpired: "expire the lease of"
    case .executionTimedOut: "time out"
    case .cancel: "cancel"
    case .cancelAck: "acknowledge the cancel of"
    case .release: "release"
    case .retry: "retry"
    case .delete: "delete"
    }
  }
}
