import Foundation
import Synchronization

/// Median, minimum and maximum of repeated runs; percentiles of one run's samples.
struct Figure {
  var name: String
  var labels: [(String, String)]
  var unit: String
  var values: [Double]

  var median: Double {
    let sorted = self.values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }

  /// `bench=submit mode=single clients=16 tps=… min=… max=… runs=3`
  var line: String {
    let labels = self.labels.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    let format = { (value: Double) in
      self.unit.hasSuffix("_ms") ? String(format: "%.3f", value) : String(format: "%.0f", value)
    }
    return "bench=\(self.name) \(labels) \(self.unit)=\(format(self.median)) "
      + "min=\(format(self.values.min() ?? 0)) max=\(format(self.values.max() ?? 0)) runs=\(self.values.count)"
  }

  var json: [String: Any] {
    var object: [String: Any] = ["bench": self.name, "unit": self.unit, "median": self.median]
    object["min"] = self.values.min() ?? 0
    object["max"] = self.values.max() ?? 0
    object["runs"] = self.values
    for (key, value) in self.labels { object[key] = value }
    return object
  }
}

/// The `q` quantile (0...1) of `samples`.
func quantile(_ samples: [Double], _ q: Double) -> Double {
  guard !samples.isEmpty else { return 0 }
  let sorted = samples.sorted()
  let index = min(sorted.count - 1, max(0, Int((q * Double(sorted.count - 1)).rounded())))
  return sorted[index]
}

/// One 128-byte write plus `fdatasync` in `directory`, 200 times: the floor of any
/// fsync-before-ack figure on this disk.
func fsyncProbe(directory: String) -> (median: Double, p99: Double, min: Double) {
  let path = (directory as NSString).appendingPathComponent("fsync-probe-\(getpid())")
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  guard fd >= 0 else { return (0, 0, 0) }
  defer {
    close(fd)
    unlink(path)
  }
  let bytes = [UInt8](repeating: 0x78, count: 128)
  var samples: [Double] = []
  for _ in 0..<200 {
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, 128) }
    let start = ContinuousClock.now
    fdatasync(fd)
    samples.append(
      Double((ContinuousClock.now - start).components.attoseconds) / 1e15
        + Double((ContinuousClock.now - start).components.seconds) * 1000
    )
  }
  return (quantile(samples, 0.5), quantile(samples, 0.99), samples.min() ?? 0)
}

/// Resident set size of process `pid` in bytes (from /proc).
func residentBytes(pid: Int32) -> Int {
  guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
    let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
  else { return 0 }
  return kb * 1024
}

/// CPU time (user + system) of process `pid` in seconds.
func cpuSeconds(pid: Int32) -> Double {
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return 0 }
  let fields = stat[stat.index(after: close)...].split(separator: " ")
  // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
  guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
    return 0
  }
  return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU time of the bench's server and of this process since the window (re)started.
final class CPUWindow: Sendable {
  private let server: Int32?
  private let perfControls: [PerfControl]
  private let start: Mutex<(server: Double, client: Double)>

  /// `setupFirst`: the figure calls ``restart()`` once its setup is done; the perf controls are
  /// enabled only then (perf cannot take back what it counted during the setup).
  init(server: Int32?, perfControls: [PerfControl] = [], setupFirst: Bool = false) {
    self.server = server
    self.perfControls = perfControls
    self.start = Mutex((0, 0))
    if !setupFirst { for control in self.perfControls { control.send("enable") } }
    let now = self.now()
    self.start.withLock { $0 = now }
  }

  /// Starts the window again now, after a figure's setup (such as submitting the tasks a drain
  /// then takes), which should not count.
  func restart() {
    for control in self.perfControls { control.send("enable") }
    let now = self.now()
    self.start.withLock { $0 = now }
  }

  /// Ends the window: CPU seconds since its start, the server's (`nil` when the bench did not
  /// start it) and this process's.
  func end() -> (server: Double?, client: Double) {
    let now = self.now()
    for control in self.perfControls { control.send("disable") }
    let start = self.start.withLock { $0 }
    return (self.server.map { _ in now.server - start.server }, now.client - start.client)
  }

  private func now() -> (server: Double, client: Double) {
    (self.server.map(cpuSeconds) ?? 0, cpuSeconds(pid: getpid()))
  }
}

/// A `perf stat --control fifo:CTL[,ACK]` pair: `enable` and `disable` written to CTL, each
/// awaited on ACK when given, so counting starts before the window's first operation.
struct PerfControl: Sendable {
  let control: Int32
  let ack: Int32?

  init(argument: String) throws {
    let paths = argument.split(separator: ",", maxSplits: 1).map(String.init)
    guard let first = paths.first else { throw BenchError("--perf-control needs a FIFO path") }
    self.control = open(first, O_WRONLY)
    guard self.control >= 0 else { throw BenchError("cannot open \(first): errno \(errno)") }
    if paths.count == 2 {
      let ack = open(paths[1], O_RDONLY)
      guard ack >= 0 else { throw BenchError("cannot open \(paths[1]): errno \(errno)") }
      self.ack = ack
    } else {
      self.ack = nil
    }
  }

  func send(_ command: String) {
    let line = Array((command + "\n").utf8)
    _ = line.withUnsafeBytes { write(self.control, $0.baseAddress, $0.count) }
    guard let ack = self.ack else { return }
    var reply = [UInt8](repeating: 0, count: 16)
    _ = reply.withUnsafeMutableBytes { read(ack, $0.baseAddress, $0.count) }
  }
}

/// A value shared by a benchmark's concurrent tasks.
final class Shared<Value: Sendable>: Sendable {
  private let storage: Mutex<Value>
  init(_ value: Value) { self.storage = Mutex(value) }
  func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T {
    self.storage.withLock { body(&$0) }
  }
}
