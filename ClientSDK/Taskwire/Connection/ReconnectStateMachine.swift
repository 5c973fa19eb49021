import TaskwireWire
/// Decides when and where a managed connection connects: over one or more endpoints, trying the
/// next one when an attempt fails, and backing off exponentially (with jitter) once every
/// endpoint failed in a row. A successful connection resets the backoff.
///
/// Pure: the owner feeds it events and performs the actions it returns.
package struct ReconnectStateMachine: Sendable {
  /// What the owner does next.
  package enum Action: Hashable, Sendable {
    /// Open a connection to `endpoints[endpoint]`.
    case connect(endpoint: Int)
    /// Wait `delay`, then report ``ReconnectStateMachine/backoffElapsed()``.
    case backOff(delay: Duration, failWaiters: Bool)
    /// Stop: the machine was shut down.
    case stop
  }

  package enum State: Hashable, Sendable {
    case idle
    case connecting(endpoint: Int)
    case connected(endpoint: Int)
    case backingOff(nextEndpoint: Int)
    case shutdown
  }

  package private(set) var state: State = .idle
  private let endpointCount: Int
  private let backoff: TaskwireClient.Configuration.Backoff
  /// Failed attempts since the last success, across endpoints.
  private var failedInRound = 0
  /// Full rounds that failed since the last success.
  package private(set) var failedRounds = 0

  package init(endpointCount: Int, backoff: TaskwireClient.Configuration.Backoff) {
    precondition(endpointCount > 0, "at least one endpoint")
    self.endpointCount = endpointCount
    self.backoff = backoff
  }

  /// The first connect.
  package mutating func start() -> Action {
    guard case .idle = self.state else { return .stop }
    self.state = .connecting(endpoint: 0)
    return .connect(endpoint: 0)
  }

  /// The connection is up and the hello accepted.
  package mutating func connected() {
    guard case .connecting(let endpoint) = self.state else { return }
    self.state = .connected(endpoint: endpoint)
    self.failedInRound = 0
    self.failedRounds = 0
  }

  /// An attempt failed. `random` is a value in `0...1` for the jitter.
  package mutating func connectFailed(random: Double) -> Action {
    guard case .connecting(let endpoint) = self.state else { return .stop }
    self.failedInRound += 1
    let next = (endpoint + 1) % self.endpointCount
    if self.failedInRound < self.endpointCount {
      self.state = .connecting(endpoint: next)
      return .connect(endpoint: next)
    }
    self.failedInRound = 0
    let delay = self.delay(forRound: self.failedRounds, random: random)
    self.failedRounds += 1
    self.state = .backingOff(nextEndpoint: next)
    return .backOff(delay: delay, failWaiters: true)
  }

  /// The backoff delay passed.
  package mutating func backoffElapsed() -> Action {
    guard case .backingOff(let next) = self.state else { return .stop }
    self.state = .connecting(endpoint: next)
    return .connect(endpoint: next)
  }

  /// A working connection became unusable (closed, or the server said go-away): reconnect at
  /// once, to the same endpoint first.
  package mutating func connectionLost() -> Action {
    guard case .connected(let endpoint) = self.state else { return .stop }
    self.state = .connecting(endpoint: endpoint)
    return .connect(endpoint: endpoint)
  }

  /// No more connections.
  package mutating func shutdown() {
    self.state = .shutdown
  }

  /// `initial × multiplier^round`, capped at `maximum`, times a factor in `[1-jitter, 1+jitter]`.
  package func delay(forRound round: Int, random: Double) -> Duration {
    let initial = Double(self.backoff.initial.milliseconds)
    let maximum = Double(self.backoff.maximum.milliseconds)
    var base = initial * pow(self.backoff.multiplier, Double(round))
    if !base.isFinite || base > maximum { base = maximum }
    let jitter = min(max(self.backoff.jitter, 0), 1)
    let factor = 1 - jitter + 2 * jitter * min(max(random, 0), 1)
    return .milliseconds(Int64((base * factor).rounded()))
  }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
  var result = 1.0
  var remaining = Int(exponent)
  while remaining > 0 && result < .greatestFiniteMagnitude {
    result *= base
    remaining -= 1
  }
  return result
}
