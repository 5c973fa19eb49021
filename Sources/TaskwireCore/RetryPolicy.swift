/// How long a failed task waits before its next attempt.
///
/// The delay after attempt `n` (1-based) is `initialMs` for `.fixed`, or
/// `initialMs × multiplier^(n-1)` for `.exponential`, capped at `maxMs`; then a uniform random
/// factor in `[1 - jitter, 1 + jitter]` is applied and the result is kept in `0...maxMs`.
public struct RetryPolicy: Sendable, Hashable, Codable {
  /// The shape of the backoff.
  public enum Kind: Int, Sendable, Hashable, Codable {
    /// The same delay every time.
    case fixed = 1
    /// The delay grows by `multiplier` after each attempt.
    case exponential = 2
  }

  /// The shape of the backoff.
  public var kind: Kind
  /// The first delay, in milliseconds.
  public var initialMs: Int64
  /// The growth factor for `.exponential` (ignored for `.fixed`).
  public var multiplier: Double
  /// The largest delay, in milliseconds.
  public var maxMs: Int64
  /// The relative random spread, `0...1` (0.2 = ±20 %).
  public var jitter: Double

  /// Creates a policy.
  public init(
    kind: Kind,
    initialMs: Int64,
    multiplier: Double = 2,
    maxMs: Int64,
    jitter: Double = 0
  ) {
    self.kind = kind
    self.initialMs = initialMs
    self.multiplier = multiplier
    self.maxMs = maxMs
    self.jitter = jitter
  }

  /// Exponential backoff from 1 s, doubling, capped at 5 minutes, ±20 % jitter.
  public static let `default` = RetryPolicy(
    kind: .exponential,
    initialMs: 1_000,
    multiplier: 2,
    maxMs: 300_000,
    jitter: 0.2
  )

  /// Checks the policy's numbers; returns a message naming the bad field, or `nil` when valid.
  public func validationError() -> String? {
    if initialMs < 0 { return "retry policy initial delay must not be negative (got \(initialMs))" }
    if maxMs < 0 { return "retry policy max delay must not be negative (got \(maxMs))" }
    if !(multiplier >= 1) || !multiplier.isFinite {
      return "retry policy multiplier must be at least 1 (got \(multiplier))"
    }
    if !(jitter >= 0 && jitter <= 1) {
      return "retry policy jitter must be in 0...1 (got \(jitter))"
    }
    return nil
  }

  /// The delay before the attempt after attempt `n` (1-based), in milliseconds.
  public func delayMs(afterAttempt n: Int, random: inout some RandomNumberGenerator) -> Int64 {
    let cap = Double(max(maxMs, 0))
    var base = Double(max(initialMs, 0))
    if kind == .exponential, n > 1 {
      let factor = Swift.max(multiplier, 1)
      for _ in 1..<n {
        base *= factor
        if base >= cap { break }
      }
    }
    base = Swift.min(base, cap)
    if jitter > 0 {
      let spread = Swift.min(jitter, 1)
      base *= 1 + Double.random(in: -spread...spread, using: &random)
    }
    return Int64(Swift.min(Swift.max(base.rounded(), 0), cap))
  }

  /// The delay before the attempt after attempt `n`, using the system's random numbers.
  public func delayMs(afterAttempt n: Int) -> Int64 {
    var random = SystemRandomNumberGenerator()
    return delayMs(afterAttempt: n, random: &random)
  }
}
