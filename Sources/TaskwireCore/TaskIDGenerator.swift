import Synchronization

/// Makes ``TaskID``s: time-ordered, and strictly increasing across calls (within one millisecond,
/// or if the clock steps back, the random part of the previous id is incremented, as ULID's
/// monotonic mode does). Thread-safe.
public final class TaskIDGenerator: Sendable {
  private struct State {
    var lastMs: Int64 = 0
    var lastRandom: UInt128 = 0
  }

  private static let randomMask: UInt128 = (1 << 80) - 1
  private let state = Mutex(State())

  /// Creates a generator.
  public init() {}

  /// The next id, stamped with `nowMs` (Unix milliseconds) unless an earlier id had a later time.
  public func next(nowMs: Int64) -> TaskID {
    let value = state.withLock { state -> UInt128 in
      var ms = max(nowMs, 0) & 0xFFFF_FFFF_FFFF
      var random: UInt128
      if ms <= state.lastMs {
        ms = state.lastMs
        random = state.lastRandom &+ 1
        if random > Self.randomMask {
          ms += 1
          random = Self.freshRandom()
        }
      } else {
        random = Self.freshRandom()
      }
      state.lastMs = ms
      state.lastRandom = random
      return UInt128(ms) << 80 | random
    }
    return TaskID(value: value)
  }

  private static func freshRandom() -> UInt128 {
    var generator = SystemRandomNumberGenerator()
    let first: UInt64 = generator.next()
    let second: UInt64 = generator.next()
    let high = UInt128(first & 0xFFFF) << 64
    // Leave headroom so a burst of ids within one millisecond rarely overflows into the next.
    let low = UInt128(second >> 1)
    return high | low
  }
}
