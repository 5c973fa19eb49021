import Foundation
import Logging
import Synchronization
import Taskwire

/// The bench's client side: every workload opens its own SDK clients (one TLS connection each).
struct Workload: Sendable {
  let configuration: TaskwireClient.Configuration
  let payload: Data
  let server: Int32?
  /// `perf stat` control FIFOs told `enable` and `disable` around each measured window.
  var perfControls: [PerfControl] = []

  /// Runs `body` `runs` times; `body` returns (operations, seconds). Each figure also gets the
  /// CPU time per operation of the server (when the bench started it) and of this process (the
  /// SDK clients and workers), from the run's start or, with `setupFirst`, from where `body`
  /// restarts its window.
  func repeatRuns(
    _ runs: Int,
    _ name: String,
    _ labels: KeyValuePairs<String, String>,
    unit: String,
    setupFirst: Bool = false,
    _ body: (CPUWindow) async throws -> (operations: Int, seconds: Double)
  ) async throws -> Figure {
    var values: [Double] = []
    var serverCPU: [Double] = []
    var clientCPU: [Double] = []
    for _ in 0..<max(1, runs) {
      let window = CPUWindow(
        server: self.server,
        perfControls: self.perfControls,
        setupFirst: setupFirst
      )
      let (operations, seconds) = try await body(window)
      let (server, client) = window.end()
      values.append(Double(operations) / seconds)
      guard operations > 0 else { continue }
      if let server { serverCPU.append(server / Double(operations) * 1e6) }
      clientCPU.append(client / Double(operations) * 1e6)
    }
    var pairs = labels.map { ($0.key, $0.value) }
    for (label, samples) in [
      ("server_cpu_us_per_op", serverCPU), ("client_cpu_us_per_op", clientCPU),
    ]
    where !samples.isEmpty {
      pairs.append((label, String(format: "%.1f", samples.sorted()[samples.count / 2])))
    }
    return Figure(name: name, labels: pairs, unit: unit, values: values)
  }

  /// `preferred` items per batch, or fewer when that many payloads would not fit in 3 MiB (the
  /// server's frame limit is 4 MiB by default): large `--payload-bytes` still run.
  func batchSize(preferred: Int) -> Int {
    max(1, min(preferred, (3 << 20) / (self.payload.count + 256)))
  }

  /// Runs `body` with `count` connected clients.
  func withClients<T: Sendable>(
    _ count: Int,
    _ body: @Sendable ([TaskwireClient]) async throws -> T
  ) async throws -> T {
    var logger = Logger(label: "taskwire.bench")
    logger.logLevel = .warning
    let clients = try (0..<count).map { _ in
      try TaskwireClient(configuration: self.configuration, logger: logger)
    }
    return try await withThrowingTaskGroup(of: T?.self) { group in
      for client in clients {
        group.addTask {
          try await client.run(); return nil
        }
      }
      // Connect every client before the clock starts.
      for client in clients { _ = try await client.health() }
      let result = try await body(clients)
      for client in clients { client.beginGracefulShutdown() }
      while let next = try await group.next() { if next != nil { break } }
      return result
    }
  }

  /// Single submits: `clients` connections, each with `inflight` calls in flight.
  func submitSingles(total: Int, clients: Int, inflight: Int) async throws -> (
    operations: Int, seconds: Double
  ) {
    let queue = "bench-\(UUID().uuidString.prefix(8))"
    return try await self.withClients(clients) { clients in
      let perLoop = max(1, total / (clients.count * inflight))
      let start = ContinuousClock.now
      try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
          for _ in 0..<inflight {
            group.addTask {
              let options = TaskOptions(queue: queue)
              for _ in 0..<perLoop {
                _ = try await client.enqueue(type: "bench", payload: self.payload, options: options)
              }
            }
          }
        }
        try await group.waitForAll()
      }
      return (perLoop * clients.count * inflight, seconds(since: start))
    }
  }

  /// Batches of `batch`: `clients` connections, each with `inflight` batches in flight.
  func submitBatches(total: Int, clients: Int, batch: Int, inflight: Int) async throws -> (
    operations: Int, seconds: Double
  ) {
    let queue = "bench-\(UUID().uuidString.prefix(8))"
    return try await self.withClients(clients) { clients in
      let perLoop = max(1, total / (clients.count * inflight * batch))
      let options = TaskOptions(queue: queue)
      let items = Array(
        repeating: TaskwireClient.BatchItem(type: "bench", payload: self.payload, options: options),
        count: batch
      )
      let start = ContinuousClock.now
      try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
          for _ in 0..<inflight {
            group.addTask {
              for _ in 0..<perLoop { _ = try await client.enqueueBatch(items) }
            }
          }
        }
        try await group.waitForAll()
      }
      return (perLoop * clients.count * inflight * batch, seconds(since: start))
    }
  }

  /// Health calls: the RPC layer alone.
  func rpc(total: Int, clients: Int, inflight: Int) async throws -> (
    operations: Int, seconds: Double
  ) {
    try await self.withClients(clients) { clients in
      let perLoop = max(1, total / (clients.count * inflight))
      let start = ContinuousClock.now
      try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
          for _ in 0..<inflight {
            group.addTask { for _ in 0..<perLoop { _ = try await client.health() } }
          }
        }
        try await group.waitForAll()
      }
      return (perLoop * clients.count * inflight, seconds(since: start))
    }
  }

  /// 1,000 watchers on a queue while `tasks` are submitted: events delivered per second and the
  /// p99 delay from commit time to receipt.
  func watchFanOut(watchers: Int, tasks: Int) async throws -> (eventsPerSecond: Double, p99: Double)
  {
    let queue = "bench-watch-\(UUID().uuidString.prefix(8))"
    // 50 watches per connection, well inside max_concurrent_calls (100).
    return try await self.withClients(watchers / 50 + 1) { clients in
      let delays = Shared<[Double]>([])
      let received = Shared(0)
      let expected = watchers * tasks
      let filter = TaskFilter(queues: [queue])
      let start = ContinuousClock.now
      try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<watchers {
          let client = clients[index % (clients.count - 1)]
          group.addTask {
            var seen = 0
            for try await event in client.watch(filter: filter) where event.kind == .created {
              let delay = Date().timeIntervalSince(event.time ?? Date()) * 1000
              delays.withLock { $0.append(delay) }
              seen += 1
              received.withLock { $0 += 1 }
              if seen == tasks { break }
            }
          }
        }
        // Let the watches subscribe: one round trip on each watcher connection orders them first.
        for client in clients { _ = try await client.health() }
        let producer = clients[clients.count - 1]
        let options = TaskOptions(queue: queue)
        for _ in 0..<tasks {
          _ = try await producer.enqueue(type: "bench", payload: self.payload, options: options)
        }
        try await group.waitForAll()
      }
      let elapsed = seconds(since: start)
      let total = received.withLock { $0 }
      guard total == expected else {
        throw BenchError("watch fan-out: \(total) of \(expected) events")
      }
      return (Double(total) / elapsed, quantile(delays.withLock { $0 }, 0.99))
    }
  }

  /// Server RSS with `pending` tasks waiting, then with `connections` idle TLS connections
  /// (opened by a child process of this binary).
  func memory(pending: Int, connections: Int, pid: Int32) async throws -> (
    pendingBytes: Int, connectionBytes: Int
  ) {
    let queue = "bench-memory-\(UUID().uuidString.prefix(8))"
    try await self.withClients(4) { clients in
      let options = TaskOptions(queue: queue)
      let size = self.batchSize(preferred: 1_000)
      let items = Array(
        repeating: TaskwireClient.BatchItem(type: "bench", payload: self.payload, options: options),
        count: size
      )
      let perClient = pending / (size * clients.count)
      try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
          group.addTask { for _ in 0..<perClient { _ = try await client.enqueueBatch(items) } }
        }
        try await group.waitForAll()
      }
    }
    let pendingBytes = residentBytes(pid: pid)
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let address = "\(self.configuration.endpoints[0].host):\(self.configuration.endpoints[0].port)"
    let ca: String
    if case .caFile(let path) = self.configuration.tls.trust { ca = path } else { ca = "" }
    child.arguments = [
      "bench-connections", "--address", address, "--ca", ca, "--token", self.configuration.token,
      "--count", "\(connections)",
    ]
    let output = Pipe()
    child.standardOutput = output
    try child.run()
    // The child prints "ready N" once every connection completed its hello, then waits for EOF.
    let line = try await readLine(output.fileHandleForReading)
    guard line.hasPrefix("ready") else { throw BenchError("bench-connections: \(line)") }
    let connectionBytes = residentBytes(pid: pid)
    child.terminate()
    child.waitUntilExit()
    return (pendingBytes, connectionBytes)
  }
}

/// Seconds since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
  let elapsed = ContinuousClock.now - start
  return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Reads one line from `handle` without blocking the cooperative pool.
func readLine(_ handle: FileHandle) async throws -> String {
  try await withCheckedThrowingContinuation { continuation in
    Thread.detachNewThread {
      var bytes: [UInt8] = []
      while true {
        let chunk = handle.readData(ofLength: 1)
        if chunk.isEmpty || chunk.first == 0x0A { break }
        bytes.append(contentsOf: chunk)
      }
      continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
    }
  }
}
