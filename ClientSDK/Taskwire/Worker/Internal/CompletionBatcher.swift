import Synchronization
import TaskwireProto

/// Coalesces a worker's completions by Nagle's rule: while one completion call is in flight,
/// the completions that finish meanwhile wait, and go out together in one call when it returns.
/// An idle worker's completion goes out at once, alone (a plain `CompleteRequest`, so the lone
/// case costs no latency); a busy worker sends fewer, larger frames (`CompleteBatchRequest`),
/// each of which the server applies in one store operation. Each task still waits for its own
/// item's answer, so a slot is freed only once its completion is acknowledged.
///
/// The caller whose completion finds no call in flight leads: it yields once (so completions
/// of handlers finishing at the same moment join it), takes the waiting completions (its own
/// first), sends them, answers the others, and hands the lead to the oldest completion that
/// arrived meanwhile. No task of its own, no timer: a batch is whatever arrived while the
/// previous one was on the wire.
final class CompletionBatcher: Sendable {
  /// Items in one batch: well under the server's `max_batch` (1,000).
  static let maxItems = 256
  /// Result bytes in one batch: far under `max_frame` (4 MiB). A larger result goes alone.
  static let maxBytes = 256 * 1024

  private enum Turn: Sendable {
    /// The completion's answer: `nil` when it was accepted.
    case answered(TaskwireError?)
    /// Send the next batch; the completion is its first item.
    case lead
  }

  private struct Waiter {
    let request: Taskwire_V1_CompleteRequest
    let continuation: UnsafeContinuation<Turn, Never>
  }

  private struct State {
    /// Completions not sent yet, oldest first. While `sending`, the first is the leader's own.
    var waiting: [Waiter] = []
    /// Whether a leader is sending. When false, `waiting` is empty.
    var sending = false
  }

  private let state = Mutex(State())
  /// Called with the number of completions waiting (the leader's included) each time one joins;
  /// tests wait on it instead of sleeping.
  private let onWait: (@Sendable (Int) -> Void)?

  init(onWait: (@Sendable (Int) -> Void)? = nil) {
    self.onWait = onWait
  }

  /// Completes one task through the batch it lands in; returns its item's error, if any.
  /// `send` delivers a batch (one item or more) and returns an answer per item, in order.
  func complete(
    _ request: Taskwire_V1_CompleteRequest,
    send: ([Taskwire_V1_CompleteRequest]) async -> [TaskwireError?]
  ) async -> TaskwireError? {
    // Unchecked (no canary allocation per completion); resumed exactly once, by the leader
    // that answers it or hands it the lead.
    let turn = await withUnsafeContinuation { (continuation: UnsafeContinuation<Turn, Never>) in
      let (lead, waiting) = self.state.withLock { state in
        state.waiting.append(Waiter(request: request, continuation: continuation))
        if state.sending { return (false, state.waiting.count) }
        state.sending = true
        return (true, state.waiting.count)
      }
      self.onWait?(waiting)
      if lead { continuation.resume(returning: .lead) }
    }
    if case .answered(let error) = turn { return error }
    // Handlers of one lease answer tend to finish together: let those already runnable reach
    // the queue first, so they go in this batch rather than wait for its answer.
    await Task.yield()

    let batch = self.state.withLock { state in
      var count = 1
      var bytes = state.waiting[0].request.result.count
      while count < state.waiting.count, count < Self.maxItems {
        bytes += state.waiting[count].request.result.count
        if bytes > Self.maxBytes { break }
        count += 1
      }
      let batch = Array(state.waiting[..<count])
      state.waiting.removeFirst(count)
      return batch
    }
    var answers = await send(batch.map(\.request))
    if answers.count != batch.count {
      let error = TaskwireError(
        code: .internal,
        message: "the server answered \(answers.count) completions for \(batch.count)"
      )
      answers = Array(repeating: error, count: batch.count)
    }
    for index in 1..<batch.count {
      batch[index].continuation.resume(returning: .answered(answers[index]))
    }
    let next = self.state.withLock { state -> Waiter? in
      if let next = state.waiting.first { return next }
      state.sending = false
      return nil
    }
    next?.continuation.resume(returning: .lead)
    return answers[0]
  }
}
