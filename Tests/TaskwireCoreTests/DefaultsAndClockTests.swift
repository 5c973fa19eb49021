import TaskwireCore
import Testing

@Suite("Defaults and clocks")
struct DefaultsAndClockTests {
  @Test("Built-in defaults follow the contract")
  func standard() {
    let d = TaskDefaults.standard
    #expect(d.maxAttempts == 5)
    #expect(d.retryPolicy == .default)
    #expect(d.leaseDurationMs == 30_000)
    #expect(d.executionTimeoutMs == 0)
    #expect(d.priority == 0)
  }

  @Test("Queue and queue+type overrides are laid over the base, most specific last")
  func resolution() {
    let table = DefaultsTable(
      base: .standard,
      queues: ["mail": .init(maxAttempts: 10, leaseDurationMs: 60_000)],
      types: [
        .init(queue: "mail", type: "bulk"): .init(maxAttempts: 2, priority: -5),
        .init(queue: "other", type: "bulk"): .init(priority: 9),
      ]
    )
    let plain = table.resolve(queue: "default", type: "bulk")
    #expect(plain == .standard)
    let mail = table.resolve(queue: "mail", type: "welcome")
    #expect(mail.maxAttempts == 10)
    #expect(mail.leaseDurationMs == 60_000)
    #expect(mail.priority == 0)
    let bulk = table.resolve(queue: "mail", type: "bulk")
    #expect(bulk.maxAttempts == 2)
    #expect(bulk.leaseDurationMs == 60_000)
    #expect(bulk.priority == -5)
    #expect(table.resolve(queue: "other", type: "bulk").priority == 9)
  }

  @Test("The manual clock moves only when told")
  func manualClock() {
    let clock = ManualWallClock(nowMs: 1_000)
    #expect(clock.nowMillis() == 1_000)
    #expect(clock.advance(by: 250) == 1_250)
    #expect(clock.nowMillis() == 1_250)
    clock.set(5)
    #expect(clock.nowMillis() == 5)
  }

  @Test("The system clock is Unix milliseconds")
  func systemClock() {
    let now = SystemWallClock().nowMillis()
    #expect(now > 1_600_000_000_000)
    #expect(now < 4_000_000_000_000)
  }
}
