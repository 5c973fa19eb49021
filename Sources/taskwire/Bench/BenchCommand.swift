import ArgumentParser
import Foundation
import Logging
import Synchronization
import Taskwire
import TaskwireSQLite

/// `taskwire bench`: measures a Taskwire deployment — by default a server it starts itself (from
/// this binary, on a temporary data directory) — over real TLS, and prints one line per figure,
/// each the median of several runs with min and max.
struct BenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure throughput, latency and memory of a Taskwire server.",
    discussion: """
      Figures (docs/benchmarks.md): submit (single and batched, 1 and 16 connections), drain \
      (1/4/16 workers), submit→start latency at a fixed rate, rpc (health calls), watch fan-out, \
      server RSS with many pending tasks and with many idle TLS connections, the store alone in \
      this process (no network), and an fsync probe. \
      Against a running server pass --data-dir (development setup) instead of starting one.
      """
  )

  @Option(help: "Tasks per throughput run.") var tasks = 100_000
  @Option(help: "Runs per figure (median, min, max).") var runs = 3
  @Option(help: "Payload bytes.") var payloadBytes = 128
  @Option(help: "Durability of the server the bench starts: full or relaxed.") var durability =
    "full"
  @Option(
    help: "Benchmarks to run, comma-separated: submit,rpc,drain,latency,watch,memory,store."
  )
  var only = "submit,rpc,drain,latency,watch,memory,store"
  @Option(help: "Worker counts of the drain benchmark, comma-separated.")
  var drainWorkers = "1,4,16"
  @Option(help: "Submit modes of the submit benchmark, comma-separated: single,batch.")
  var submitModes = "single,batch"
  @Option(help: "Connection counts of the submit benchmark, comma-separated.")
  var submitClients = "1,16"
  @Option(
    help: ArgumentHelp(
      "A perf stat control FIFO (CTL or CTL,ACK) to enable around each figure's measured window.",
      discussion: """
        Repeatable. The bench writes `enable` where a figure's CPU window starts and `disable` \
        where it ends, so `perf stat --delay=-1 --control fifo:CTL,ACK` counts only those \
        windows (Benchmarks/count-allocations.sh counts malloc calls per task this way).
        """,
      valueName: "ctl[,ack]"
    )
  )
  var perfControl: [String] = []
  @Option(help: "Offered rate for the latency benchmark, tasks/s.") var rate = 1_000
  @Option(help: "Pending tasks for the memory figure.") var memoryTasks = 1_000_000
  @Option(help: "Idle TLS connections for the memory figure.") var idleConnections = 10_000
  @Option(help: "Use a running server in this data directory instead of starting one.")
  var dataDir: String?
  @Flag(help: "Print the figures as one JSON array.") var json = false

  func run() async throws {
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = .warning
      return handler
    }
    var figures: [Figure] = []
    let selected = Set(self.only.split(separator: ",").map(String.init))
    let emit: (Figure) -> Void = { figure in
      if !self.json { print(figure.line) }
      figures.append(figure)
    }
    let target = try await BenchTarget.make(
      dataDirectory: self.dataDir,
      durability: self.durability
    )
    defer { target.stop() }
    let probe = fsyncProbe(directory: target.dataDirectory)
    let payload = Data(repeating: 0x61, count: self.payloadBytes)
    let workload = Workload(
      configuration: target.configuration,
      payload: payload,
      server: target.pid,
      perfControls: try self.perfControl.map(PerfControl.init(argument:))
    )
    let modes = Set(self.submitModes.split(separator: ",").map(String.init))
    guard modes.isSubset(of: ["single", "batch"]) else {
      throw ValidationError("--submit-modes takes single and batch")
    }
    let submitClients = self.submitClients.split(separator: ",").compactMap { Int($0) }
      .filter { $0 > 0 }
    guard !submitClients.isEmpty else {
      throw ValidationError("--submit-clients needs positive counts, such as 1,16")
    }

    if selected.contains("submit") {
      for clients in submitClients where modes.contains("single") {
        let inflight = 64
        emit(
          try await workload.repeatRuns(
            self.runs,
            "submit",
            [
              "mode": "single", "clients": "\(clients)", "inflight": "\(inflight)",
              "durability": self.durability,
            ],
            unit: "tps"
          ) { _ in
            try await workload.submitSingles(
              total: self.tasks,
              clients: clients,
              inflight: inflight
            )
          }
        )
      }
      let batch = workload.batchSize(preferred: 100)
      for clients in submitClients where modes.contains("batch") {
        emit(
          try await workload.repeatRuns(
            self.runs,
            "submit",
            [
              "mode": "batch", "clients": "\(clients)", "batch": "\(batch)",
              "durability": self.durability,
            ],
            unit: "tps"
          ) { _ in
            try await workload.submitBatches(
              total: self.tasks,
              clients: clients,
              batch: batch,
              inflight: 4
            )
          }
        )
      }
    }
    if selected.contains("rpc") {
      emit(
        try await workload.repeatRuns(
          self.runs,
          "rpc",
          ["call": "health", "clients": "16", "inflight": "64"],
          unit: "cps"
        ) { _ in
          try await workload.rpc(total: self.tasks, clients: 16, inflight: 64)
        }
      )
    }
    if selected.contains("drain") {
      let counts = self.drainWorkers.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
      guard !counts.isEmpty else {
        throw ValidationError("--drain-workers needs positive counts, such as 1,4,16")
      }
      for workers in counts {
        emit(
          try await workload.repeatRuns(
            self.runs,
            "drain",
            ["workers": "\(workers)", "durability": self.durability],
            unit: "tps",
            setupFirst: true
          ) { window in
            try await workload.drain(total: self.tasks, workers: workers, window: window)
          }
        )
      }
    }
    if selected.contains("latency") {
      let samples = try await workload.latency(rate: self.rate, seconds: 5)
      for (label, q) in [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)] {
        emit(
          Figure(
            name: "latency",
            labels: [
              ("path", "submit_to_start"), ("rate", "\(self.rate)"), ("quantile", label),
              ("durability", self.durability),
            ],
            unit: "latency_ms",
            values: [quantile(samples, q)]
          )
        )
      }
    }
    if selected.contains("store") {
      let store = StoreWorkload(
        payload: payload,
        durability: self.durability == "relaxed" ? .relaxed : .full
      )
      var submits: [Double] = []
      var drains: [Double] = []
      for _ in 0..<self.runs {
        let (submit, drain) = try await store.run(total: self.tasks)
        submits.append(submit)
        drains.append(drain)
      }
      let labels = [("where", "in_process"), ("durability", self.durability)]
      emit(
        Figure(
          name: "store",
          labels: [("op", "submit_batch100")] + labels,
          unit: "tps",
          values: submits
        )
      )
      emit(
        Figure(
          name: "store",
          labels: [("op", "lease64_complete")] + labels,
          unit: "tps",
          values: drains
        )
      )
    }
    if selected.contains("watch") {
      let (eventsPerSecond, p99) = try await workload.watchFanOut(
        watchers: 1_000,
        tasks: min(self.tasks, 2_000)
      )
      emit(
        Figure(
          name: "watch",
          labels: [("watchers", "1000")],
          unit: "events_per_s",
          values: [eventsPerSecond]
        )
      )
      emit(
        Figure(
          name: "watch",
          labels: [("watchers", "1000"), ("quantile", "p99")],
          unit: "delay_ms",
          values: [p99]
        )
      )
    }
    if selected.contains("memory"), let pid = target.pid {
      let (pendingBytes, connectionBytes) = try await workload.memory(
        pending: self.memoryTasks,
        connections: self.idleConnections,
        pid: pid
      )
      emit(
        Figure(
          name: "memory",
          labels: [("pending_tasks", "\(self.memoryTasks)")],
          unit: "rss_mb",
          values: [Double(pendingBytes) / 1_048_576]
        )
      )
      emit(
        Figure(
          name: "memory",
          labels: [("idle_tls_connections", "\(self.idleConnections)")],
          unit: "rss_mb",
          values: [Double(connectionBytes) / 1_048_576]
        )
      )
      emit(
        Figure(
          name: "memory",
          labels: [("idle_tls_connections", "\(self.idleConnections)"), ("measure", "rss_growth")],
          unit: "rss_mb",
          values: [Double(connectionBytes - pendingBytes) / 1_048_576]
        )
      )
    }
    let fsync = Figure(
      name: "fsync_probe",
      labels: [("write_bytes", "128"), ("call", "fdatasync")],
      unit: "latency_ms",
      values: [probe.median]
    )
    emit(fsync)
    if self.json {
      let data = try JSONSerialization.data(
        withJSONObject: figures.map(\.json),
        options: [.prettyPrinted, .sortedKeys]
      )
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(
        String(
          format: "probe=fdatasync median_ms=%.3f p99_ms=%.3f min_ms=%.3f",
          probe.median,
          probe.p99,
          probe.min
        )
      )
    }
  }
}

/// The server under test: one the bench started, or a running one given by data directory.
struct BenchTarget {
  var configuration: TaskwireClient.Configuration
  var dataDirectory: String
  var server: BenchServer?
  var pid: Int32? { self.server?.pid }

  static func make(dataDirectory: String?, durability: String) async throws -> BenchTarget {
    if let dataDirectory {
      return BenchTarget(
        configuration: try developmentConfiguration(dataDirectory),
        dataDirectory: dataDirectory,
        server: nil
      )
    }
    let server = try BenchServer(durability: durability)
    try await server.start()
    return BenchTarget(
      configuration: try developmentConfiguration(server.dataDirectory),
      dataDirectory: server.dataDirectory,
      server: server
    )
  }

  func stop() { self.server?.stop() }
}

/// A client configuration from a server's development files.
func developmentConfiguration(_ directory: String) throws -> TaskwireClient.Configuration {
  func read(_ name: String) throws -> String {
    let path = (directory as NSString).appendingPathComponent(name)
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw BenchError("cannot read \(path)")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }
  let address = try read("address")
  guard let colon = address.lastIndex(of: ":"),
    let port = Int(address[address.index(after: colon)...])
  else {
    throw BenchError("bad address \(address)")
  }
  var configuration = TaskwireClient.Configuration(
    host: String(address[..<colon]),
    port: port,
    tls: .init(trust: .caFile((directory as NSString).appendingPathComponent("tls/ca.pem"))),
    token: try read("admin.token")
  )
  configuration.clientName = "taskwire-bench"
  return configuration
}
