import Testing

@testable import Taskwire

@Suite("Reconnect state machine")
struct ReconnectStateMachineTests {
  let backoff = TaskwireClient.Configuration.Backoff(
    initial: .milliseconds(100),
    multiplier: 2,
    maximum: .seconds(5),
    jitter: 0.2
  )

  @Test("Tries every endpoint in turn before backing off")
  func triesNextEndpoint() {
    var machine = ReconnectStateMachine(endpointCount: 3, backoff: self.backoff)
    #expect(machine.start() == .connect(endpoint: 0))
    #expect(machine.connectFailed(random: 0.5) == .connect(endpoint: 1))
    #expect(machine.connectFailed(random: 0.5) == .connect(endpoint: 2))
    #expect(
      machine.connectFailed(random: 0.5) == .backOff(delay: .milliseconds(100), failWaiters: true)
    )
    #expect(machine.backoffElapsed() == .connect(endpoint: 0))
  }

  @Test("Backoff doubles per failed round, is capped, and resets after a success")
  func exponentialBackoff() {
    var machine = ReconnectStateMachine(endpointCount: 1, backoff: self.backoff)
    #expect(machine.start() == .connect(endpoint: 0))
    var delays: [Duration] = []
    for _ in 0..<8 {
      guard case .backOff(let delay, _) = machine.connectFailed(random: 0.5) else {
        Issue.record("expected a backoff")
        return
      }
      delays.append(delay)
      #expect(machine.backoffElapsed() == .connect(endpoint: 0))
    }
    #expect(
      delays == [100, 200, 400, 800, 1600, 3200, 5000, 5000].map { .milliseconds($0) }
    )
    machine.connected()
    #expect(machine.failedRounds == 0)
    #expect(machine.connectionLost() == .connect(endpoint: 0))
    #expect(
      machine.connectFailed(random: 0.5) == .backOff(delay: .milliseconds(100), failWaiters: true)
    )
  }

  @Test("Jitter stays within ±jitter of the base delay")
  func jitterBounds() {
    let machine = ReconnectStateMachine(endpointCount: 1, backoff: self.backoff)
    #expect(machine.delay(forRound: 0, random: 0) == .milliseconds(80))
    #expect(machine.delay(forRound: 0, random: 1) == .milliseconds(120))
    #expect(machine.delay(forRound: 10, random: 1) == .milliseconds(6000))
  }

  @Test("A lost connection reconnects to the same endpoint at once; then moves on")
  func connectionLost() {
    var machine = ReconnectStateMachine(endpointCount: 2, backoff: self.backoff)
    _ = machine.start()
    #expect(machine.connectFailed(random: 0.5) == .connect(endpoint: 1))
    machine.connected()
    #expect(machine.state == .connected(endpoint: 1))
    #expect(machine.connectionLost() == .connect(endpoint: 1))
    #expect(machine.connectFailed(random: 0.5) == .connect(endpoint: 0))
  }

  @Test("After shutdown every event stops")
  func shutdown() {
    var machine = ReconnectStateMachine(endpointCount: 1, backoff: self.backoff)
    _ = machine.start()
    machine.shutdown()
    #expect(machine.connectFailed(random: 0.5) == .stop)
    #expect(machine.backoffElapsed() == .stop)
    #expect(machine.connectionLost() == .stop)
  }
}
