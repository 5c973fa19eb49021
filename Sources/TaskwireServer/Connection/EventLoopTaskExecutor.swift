import NIOCore

/// Runs Swift tasks on one NIO event loop: the task executor preference of a connection's task
/// (its read loop) and so of the children that inherit it (long polls, submits, completions).
/// A read burst reaches the read loop on the thread that decoded it, and the store's answer
/// resumes the call on the connection's own event loop, which writes it at once: one thread
/// hand-off from the store's writer to the socket instead of two (writer → cooperative pool →
/// event loop). Work that may block or run long (a watch's fan-out, a large list answer, user
/// code) does not belong here: it would hold up every connection on the loop.
final class EventLoopTaskExecutor: TaskExecutor {
  let eventLoop: any EventLoop

  init(_ eventLoop: any EventLoop) {
    self.eventLoop = eventLoop
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    self.eventLoop.execute {
      job.runSynchronously(on: self.asUnownedTaskExecutor())
    }
  }
}
