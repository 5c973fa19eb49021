import ArgumentParser
import Foundation
import Taskwire

/// The connection options every client subcommand shares.
///
/// Each value is taken from the first place that sets it: its flag, then its `TASKWIRE_*`
/// environment variable, then the development data directory (`--data-dir`, else
/// `TASKWIRE_DATA_DIR`, else `./taskwire-data`): `address`, `admin.token`, `tls/ca.pem`.
struct ConnectionOptions: ParsableArguments {
  @Option(
    name: .long,
    help: "Server address HOST:PORT (else TASKWIRE_ADDRESS, else DATA_DIR/address)."
  )
  var address: String?

  @Option(name: .long, help: "API token (else TASKWIRE_TOKEN, else DATA_DIR/admin.token).")
  var token: String?

  @Option(name: .long, help: "PEM CA file to trust (else TASKWIRE_CA, else DATA_DIR/tls/ca.pem).")
  var ca: String?

  @Option(
    name: .long,
    help: "Development data directory to read address, token and CA from (default ./taskwire-data)."
  )
  var dataDir: String?

  /// Where each resolved value came from, for messages and tests.
  enum Source: String, Equatable, Sendable {
    case flag
    case environment
    case dataDirectory = "data dir"
    case systemRoots = "system roots"
  }

  /// The connection after precedence.
  struct Resolved: Equatable, Sendable {
    var host: String
    var port: Int
    var token: String
    /// The CA file to trust; `nil` = the system roots.
    var caPath: String?
    var addressSource: Source
    var tokenSource: Source
    var caSource: Source
  }

  /// Applies flags > environment > data directory to every value.
  func resolve(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> Resolved {
    let directory = self.dataDir ?? environment["TASKWIRE_DATA_DIR"] ?? "./taskwire-data"
    func fromDirectory(_ name: String) -> String? {
      let path = (directory as NSString).appendingPathComponent(name)
      guard let data = FileManager.default.contents(atPath: path) else { return nil }
      return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    let address: (String, Source)
    if let flag = self.address {
      address = (flag, .flag)
    } else if let variable = environment["TASKWIRE_ADDRESS"], !variable.isEmpty {
      address = (variable, .environment)
    } else if let file = fromDirectory("address"), !file.isEmpty {
      address = (file, .dataDirectory)
    } else {
      throw CLIFailure.usage(
        "no server address: pass --address HOST:PORT, set TASKWIRE_ADDRESS, or point --data-dir "
          + "at a server's data directory (\(directory)/address not found)"
      )
    }

    let token: (String, Source)
    if let flag = self.token {
      token = (flag, .flag)
    } else if let variable = environment["TASKWIRE_TOKEN"], !variable.isEmpty {
      token = (variable, .environment)
    } else if let file = fromDirectory("admin.token"), !file.isEmpty {
      token = (file, .dataDirectory)
    } else {
      throw CLIFailure.usage(
        "no API token: pass --token, set TASKWIRE_TOKEN, or point --data-dir at a server's data "
          + "directory (\(directory)/admin.token not found)"
      )
    }

    let ca: (String?, Source)
    if let flag = self.ca {
      ca = (flag, .flag)
    } else if let variable = environment["TASKWIRE_CA"], !variable.isEmpty {
      ca = (variable, .environment)
    } else {
      let path = (directory as NSString).appendingPathComponent("tls/ca.pem")
      ca =
        FileManager.default.fileExists(atPath: path) ? (path, .dataDirectory) : (nil, .systemRoots)
    }

    let (host, port) = try Self.splitAddress(address.0)
    return Resolved(
      host: host,
      port: port,
      token: token.0,
      caPath: ca.0,
      addressSource: address.1,
      tokenSource: token.1,
      caSource: ca.1
    )
  }

  /// Splits `host:port` at the last colon; `[v6]:port` loses its brackets.
  static func splitAddress(_ text: String) throws -> (host: String, port: Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (1...65535).contains(port)
    else {
      throw CLIFailure.usage("expected the address as HOST:PORT, got \(text)")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else {
      throw CLIFailure.usage("expected the address as HOST:PORT, got \(text)")
    }
    return (host, port)
  }

  /// The SDK configuration for the resolved connection.
  func configuration(
    clientName: String = "taskwire-cli",
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> TaskwireClient.Configuration {
    let resolved = try self.resolve(environment: environment)
    let trust: TaskwireClient.Configuration.TLS.Trust =
      resolved.caPath.map { .caFile($0) } ?? .systemRoots
    var configuration = TaskwireClient.Configuration(
      host: resolved.host,
      port: resolved.port,
      tls: .init(trust: trust),
      token: resolved.token
    )
    configuration.clientName = clientName
    return configuration
  }
}
