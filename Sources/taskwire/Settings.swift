import ArgumentParser
import Foundation

/// Where a setting came from, in precedence order: a flag beats the environment, which beats the
/// config file, which beats the built-in default (README.md, "Configuration").
struct Settings {
  /// The `TASKWIRE_*` environment.
  var environment: [String: String]
  /// The config file's keys (JSON object), if any.
  var file: [String: Any]
  /// The config file's path, for messages.
  var filePath: String?

  /// Loads the config file named by `--config` or `TASKWIRE_CONFIG`, if any.
  init(configPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
    throws
  {
    self.environment = environment.filter { $0.key.hasPrefix("TASKWIRE_") }
    let path = configPath ?? environment["TASKWIRE_CONFIG"]
    self.filePath = path
    guard let path else {
      self.file = [:]
      return
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ValidationError("cannot read config file \(path)")
    }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ValidationError("config file \(path) is not a JSON object")
    }
    self.file = object
  }

  /// Resolves one setting named `key` (flag `--key`, environment `TASKWIRE_KEY`, file `"key"`).
  func resolve<T>(_ key: String, flag: T?, default fallback: T, parse: (String) -> T?) throws -> T {
    if let flag { return flag }
    let variable = "TASKWIRE_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
    if let text = self.environment[variable] {
      guard let value = parse(text) else {
        throw ValidationError("\(variable)=\(text) is not a valid value for --\(key)")
      }
      return value
    }
    if let raw = self.file[key] {
      guard let value = parse("\(raw)") else {
        throw ValidationError(
          "\"\(key)\": \(raw) in \(self.filePath ?? "the config file") is not a valid value"
        )
      }
      return value
    }
    return fallback
  }

  func string(_ key: String, flag: String?, default fallback: String) throws -> String {
    try self.resolve(key, flag: flag, default: fallback) { $0 }
  }

  func optionalString(_ key: String, flag: String?) throws -> String? {
    try self.resolve(key, flag: flag.map { Optional($0) }, default: nil) { Optional($0) }
  }

  func int(_ key: String, flag: Int?, default fallback: Int) throws -> Int {
    try self.resolve(key, flag: flag, default: fallback) { Int($0) }
  }

  func int64(_ key: String, flag: Int64?, default fallback: Int64) throws -> Int64 {
    try self.resolve(key, flag: flag, default: fallback) { Int64($0) }
  }
}
