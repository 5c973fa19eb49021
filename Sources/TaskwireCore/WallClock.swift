import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A source of wall-clock time in Unix milliseconds. Every rule that involves time takes one, so
/// tests can use ``ManualWallClock`` and never sleep.
public protocol WallClock: Sendable {
  /// The current time, Unix milliseconds (UTC).
  func nowMillis() -> Int64
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
  /// Creates the clock.
  public init() {}

  /// The current time, Unix milliseconds (UTC).
  public func nowMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
  }
}

/// A clock that moves only when told to, for tests.
public final class ManualWallClock: WallClock {
  private let now: Mutex<Int64>

  /// Creates the clock at `nowMs`.
  public init(nowMs: Int64 = 1_700_000_000_000) {
    self.now = Mutex(nowMs)
  }

  /// The clock's current time.
  public func nowMillis() -> Int64 { now.withLock { $0 } }

  /// Sets the time.
  public func set(_ nowMs: Int64) { now.withLock { $0 = nowMs } }

  /// Moves the time forward by `ms` and returns the new time.
  @discardableResult
  public func advance(by ms: Int64) -> Int64 {
    now.withLock {
      $0 += ms
      return $0
    }
  }
}
