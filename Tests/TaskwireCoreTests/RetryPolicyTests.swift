import TaskwireCore
import Testing

@Suite("Retry policy")
struct RetryPolicyTests {
  @Test("The default is exponential 1 s × 2, capped at 5 min, ±20 % jitter")
  func defaults() {
    let policy = RetryPolicy.default
    #expect(policy.kind == .exponential)
    #expect(policy.initialMs == 1_000)
    #expect(policy.multiplier == 2)
    #expect(policy.maxMs == 300_000)
    #expect(policy.jitter == 0.2)
    #expect(policy.validationError() == nil)
  }

  @Test("Fixed delays do not grow")
  func fixed() {
    var random = SplitMix64(seed: 1)
    let policy = RetryPolicy(kind: .fixed, initialMs: 750, multiplier: 3, maxMs: 10_000)
    for n in 1...10 { #expect(policy.delayMs(afterAttempt: n, random: &random) == 750) }
  }

  @Test("Exponential delays double and stop at the cap")
  func exponential() {
    var random = SplitMix64(seed: 1)
    let policy = RetryPolicy(kind: .exponential, initialMs: 1_000, multiplier: 2, maxMs: 300_000)
    let delays = (1...12).map { policy.delayMs(afterAttempt: $0, random: &random) }
    #expect(
      delays == [
        1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000,
        300_000,
      ]
    )
    // Huge attempt numbers neither overflow nor pass the cap.
    #expect(policy.delayMs(afterAttempt: 10_000, random: &random) == 300_000)
  }

  @Test("Jitter stays within ±jitter and never passes the cap")
  func jitterBounds() {
    var random = SplitMix64(seed: 7)
    let policy = RetryPolicy.default
    var seen = Set<Int64>()
    for _ in 0..<2_000 {
      let first = policy.delayMs(afterAttempt: 1, random: &random)
      #expect(first >= 800 && first <= 1_200)
      seen.insert(first)
      let third = policy.delayMs(afterAttempt: 3, random: &random)
      #expect(third >= 3_200 && third <= 4_800)
      let capped = policy.delayMs(afterAttempt: 30, random: &random)
      #expect(capped >= 240_000 && capped <= 300_000)
    }
    #expect(seen.count > 100, "jitter should spread the delays")
  }

  @Test("The same seed gives the same delays")
  func deterministic() {
    var a = SplitMix64(seed: 99)
    var b = SplitMix64(seed: 99)
    let policy = RetryPolicy.default
    for n in 1...20 {
      #expect(
        policy.delayMs(afterAttempt: n, random: &a) == policy.delayMs(afterAttempt: n, random: &b)
      )
    }
  }

  @Test("Bad numbers are named")
  func validation() {
    #expect(RetryPolicy(kind: .fixed, initialMs: -1, maxMs: 1).validationError() != nil)
    #expect(RetryPolicy(kind: .fixed, initialMs: 1, maxMs: -1).validationError() != nil)
    #expect(
      RetryPolicy(kind: .exponential, initialMs: 1, multiplier: 0.5, maxMs: 1).validationError()
        != nil
    )
    #expect(
      RetryPolicy(kind: .exponential, initialMs: 1, maxMs: 1, jitter: 1.5).validationError() != nil
    )
  }
}
