import Dispatch
import Foundation
import Logging
import ServiceLifecycle

/// Returns once process `pid` has exited, however it ended (SIGKILL included), or when the group
/// shuts down. In a group with `successTerminationBehavior: .gracefullyShutdownGroup` it turns the
/// exit of that process into the same graceful shutdown SIGTERM starts: `taskwire bench` passes
/// its own pid to the server it starts (`serve --exit-with-parent`), so that server never outlives
/// the bench.
///
/// A pidfd (Linux 5.3, glibc 2.36) becomes readable when the process exits; without one, a timer
/// looks every 250 ms.
struct ParentExitWatch: Service {
  let pid: pid_t
  let logger: Logger

  func run() async throws {
    let (exits, continuation) = AsyncStream.makeStream(of: Void.self)
    let source = Self.watch(self.pid) {
      continuation.yield()
      continuation.finish()
    }
    defer { source?.cancel() }
    for await _ in exits.cancelOnGracefulShutdown() {
      self.logger.notice(
        "the process that started this server exited; shutting down",
        metadata: ["pid": "\(self.pid)"]
      )
      return
    }
  }

  /// Calls `exited` once `pid` has exited: at once if it is gone already. The caller cancels the
  /// source it gets, if it stops watching first.
  private static func watch(
    _ pid: pid_t,
    exited: @escaping @Sendable () -> Void
  ) -> (any DispatchSourceProtocol)? {
    let queue = DispatchQueue(label: "taskwire.parent-exit-watch")
    let descriptor = openPidfd(pid)
    if descriptor >= 0 {
      let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
      source.setEventHandler {
        source.cancel()  // the pidfd stays readable: once is enough
        exited()
      }
      source.setCancelHandler { close(descriptor) }
      source.resume()
      return source
    }
    if errno == ESRCH {
      exited()
      return nil
    }
    // No pidfd (older kernel or libc, a seccomp filter, macOS). A parent that exited is noticed
    // by the reparenting even while it is an unreaped zombie; any other process once it is reaped.
    let wasParent = getppid() == pid
    let timer = DispatchSource.makeTimerSource(queue: queue)
    timer.schedule(deadline: .now(), repeating: .milliseconds(250))
    timer.setEventHandler {
      if (wasParent && getppid() != pid) || (kill(pid, 0) != 0 && errno == ESRCH) {
        timer.cancel()
        exited()
      }
    }
    timer.resume()
    return timer
  }

  /// `pidfd_open(pid, 0)`, or -1 with `errno` set. glibc has it since 2.36, but Swift's Glibc
  /// module does not export it, and `syscall(2)` is variadic, which Swift cannot call; so it is
  /// looked up at run time.
  private static func openPidfd(_ pid: pid_t) -> Int32 {
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pidfd_open") else {
      errno = ENOSYS
      return -1
    }
    return unsafeBitCast(symbol, to: PidfdOpen.self)(pid, 0)
  }
}
