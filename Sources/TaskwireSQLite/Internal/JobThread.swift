import Dispatch
import Foundation
import Synchronization

/// A dedicated OS thread that takes jobs from a queue in batches. Callers enqueue from any thread;
/// the thread takes everything queued at once and hands the batch to its handler. Blocking SQLite
/// work runs here, never on an event loop or the Swift cooperative pool.
final class JobThread<Job: Sendable>: Sendable {
  private struct State {
    var jobs: [Job] = []
    var sleeping = false
    var closing = false
  }

  private let state = Mutex(State())
  private let wakeup = DispatchSemaphore(value: 0)

  /// Starts the thread. `handler` gets each batch; `finish` runs on the thread once it is closed
  /// and drained.
  init(
    name: String,
    handler: @escaping @Sendable ([Job]) -> Void,
    finish: @escaping @Sendable () -> Void
  ) {
    let thread = Thread { [self] in
      while true {
        let (jobs, closing) = self.state.withLock { state -> ([Job], Bool) in
          if state.jobs.isEmpty {
            if !state.closing { state.sleeping = true }
            return ([], state.closing)
          }
          let jobs = state.jobs
          state.jobs.removeAll(keepingCapacity: true)
          return (jobs, false)
        }
        if !jobs.isEmpty {
          handler(jobs)
        } else if closing {
          break
        } else {
          self.wakeup.wait()
        }
      }
      finish()
    }
    thread.name = name
    thread.start()
  }

  /// Queues a job; returns `false` (and does not queue it) once the thread is closing.
  func enqueue(_ job: Job) -> Bool {
    let wake = state.withLock { state -> Bool? in
      if state.closing { return nil }
      state.jobs.append(job)
      if state.sleeping {
        state.sleeping = false
        return true
      }
      return false
    }
    guard let wake else { return false }
    if wake { wakeup.signal() }
    return true
  }

  /// Asks the thread to finish the queued jobs and stop.
  func close() {
    let wake = state.withLock { state -> Bool in
      state.closing = true
      if state.sleeping {
        state.sleeping = false
        return true
      }
      return false
    }
    if wake { wakeup.signal() }
  }
}
