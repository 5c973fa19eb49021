import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// `relaxed` durability: `fdatasync` of the `-wal` file from a second descriptor, at least every
/// interval, on its own thread (SQLite's `synchronous=NORMAL` does not sync the WAL on commit).
final class WALSync: Sendable {
  private let path: String
  private let hook: (@Sendable (String) -> Void)?
  private let descriptor = Mutex<Int32>(-1)
  private let stopped = Atomic<Bool>(false)
  private let wakeup = DispatchSemaphore(value: 0)

  init(path: String, intervalMs: Int?, hook: (@Sendable (String) -> Void)?) {
    self.path = path
    self.hook = hook
    if let intervalMs {
      let interval = max(intervalMs, 1)
      let thread = Thread { [self] in
        while !self.stopped.load(ordering: .acquiring) {
          _ = self.wakeup.wait(timeout: .now() + .milliseconds(interval))
          if self.stopped.load(ordering: .acquiring) { break }
          self.sync()
        }
      }
      thread.name = "taskwire-sqlite-walsync"
      thread.start()
    }
  }

  /// Syncs the WAL file now. Safe from any thread.
  func sync() {
    if let hook {
      hook(path)
      return
    }
    descriptor.withLock { fd in
      if fd < 0 {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return }  // no WAL yet: nothing to sync
      }
      if fdatasync(fd) != 0 {
        close(fd)
        fd = -1
      }
    }
  }

  func stop() {
    if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
    wakeup.signal()
    sync()
    descriptor.withLock { fd in
      if fd >= 0 { close(fd) }
      fd = -1
    }
  }
}
