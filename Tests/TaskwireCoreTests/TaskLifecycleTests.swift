import TaskwireCore
import Testing

@Suite("Task lifecycle")
struct TaskLifecycleTests {
  typealias T = TaskLifecycle.Transition
  typealias O = TaskLifecycle.Outcome

  /// Every legal (state, transition) pair, written out by hand. Any pair not listed must be
  /// refused: NOT_FOUND for a missing task, ALREADY_EXISTS for a submit of an existing one,
  /// FAILED_PRECONDITION otherwise.
  static let legal: [(T, [TaskState?: O])] = [
    (.submit(delayed: false), [nil: .moved(to: .pending)]),
    (.submit(delayed: true), [nil: .moved(to: .scheduled)]),
    (.promote, [.scheduled: .moved(to: .pending), .retrying: .moved(to: .pending)]),
    (.lease, [.pending: .moved(to: .running)]),
    (.heartbeat, [.running: .moved(to: .running)]),
    (.complete, [.running: .moved(to: .succeeded)]),
    (
      .fail(retryable: true, attemptsLeft: true, cancelRequested: false),
      [.running: .moved(to: .retrying)]
    ),
    (
      .fail(retryable: true, attemptsLeft: false, cancelRequested: false),
      [.running: .moved(to: .failed)]
    ),
    (
      .fail(retryable: false, attemptsLeft: true, cancelRequested: false),
      [.running: .moved(to: .failed)]
    ),
    (
      .fail(retryable: false, attemptsLeft: false, cancelRequested: false),
      [.running: .moved(to: .failed)]
    ),
    (
      .fail(retryable: true, attemptsLeft: true, cancelRequested: true),
      [.running: .moved(to: .cancelled)]
    ),
    (
      .fail(retryable: true, attemptsLeft: false, cancelRequested: true),
      [.running: .moved(to: .cancelled)]
    ),
    (
      .fail(retryable: false, attemptsLeft: true, cancelRequested: true),
      [.running: .moved(to: .cancelled)]
    ),
    (
      .fail(retryable: false, attemptsLeft: false, cancelRequested: true),
      [.running: .moved(to: .cancelled)]
    ),
    (.leaseExpired(attemptsLeft: true, cancelRequested: false), [.running: .moved(to: .retrying)]),
    (.leaseExpired(attemptsLeft: false, cancelRequested: false), [.running: .moved(to: .failed)]),
    (.leaseExpired(attemptsLeft: true, cancelRequested: true), [.running: .moved(to: .cancelled)]),
    (.leaseExpired(attemptsLeft: false, cancelRequested: true), [.running: .moved(to: .cancelled)]),
    (
      .executionTimedOut(attemptsLeft: true, cancelRequested: false),
      [.running: .moved(to: .retrying)]
    ),
    (
      .executionTimedOut(attemptsLeft: false, cancelRequested: false),
      [.running: .moved(to: .failed)]
    ),
    (
      .executionTimedOut(attemptsLeft: true, cancelRequested: true),
      [.running: .moved(to: .cancelled)]
    ),
    (
      .executionTimedOut(attemptsLeft: false, cancelRequested: true),
      [.running: .moved(to: .cancelled)]
    ),
    (
      .cancel,
      [
        .pending: .moved(to: .cancelled), .scheduled: .moved(to: .cancelled),
        .retrying: .moved(to: .cancelled), .running: .cancelRequested,
      ]
    ),
    (.cancelAck, [.running: .moved(to: .cancelled)]),
    (.release(cancelRequested: false), [.running: .moved(to: .pending)]),
    (.release(cancelRequested: true), [.running: .moved(to: .cancelled)]),
    (.retry, [.failed: .moved(to: .pending), .cancelled: .moved(to: .pending)]),
    (.delete, [.succeeded: .deleted, .failed: .deleted, .cancelled: .deleted]),
  ]

  static let allStates: [TaskState?] = [nil] + TaskState.allCases.map { $0 }

  @Test("Every state × transition pair is legal exactly as the table says")
  func fullTable() {
    var checked = 0
    for (transition, legalFrom) in Self.legal {
      for state in Self.allStates {
        let result = TaskLifecycle.apply(transition, to: state)
        if let expected = legalFrom[state] {
          #expect(result == .success(expected), "\(String(describing: state)) + \(transition)")
        } else {
          let code: LifecycleError.Code
          if state == nil {
            code = .notFound
          } else if case .submit = transition {
            code = .alreadyExists
          } else {
            code = .failedPrecondition
          }
          #expect(
            result == .failure(LifecycleError(code: code, state: state, transition: transition)),
            "\(String(describing: state)) + \(transition)"
          )
        }
        checked += 1
      }
    }
    #expect(checked == 28 * 8)
  }

  @Test("Cancel of a finished task is a failed precondition with a clear message")
  func cancelFinished() {
    for state in [TaskState.succeeded, .failed, .cancelled] {
      guard case .failure(let error) = TaskLifecycle.apply(.cancel, to: state) else {
        Issue.record("cancel of \(state) allowed")
        continue
      }
      #expect(error.code == .failedPrecondition)
      #expect(error.description == "cannot cancel a task in state \(state)")
    }
  }

  @Test("Finished states and waiting states")
  func stateProperties() {
    #expect(TaskState.allCases.filter(\.isFinished) == [.succeeded, .failed, .cancelled])
    #expect(TaskState.allCases.filter(\.isWaiting) == [.pending, .scheduled, .retrying])
    #expect(TaskState.allCases.map(\.rawValue) == [1, 2, 3, 4, 5, 6, 7])
  }
}
