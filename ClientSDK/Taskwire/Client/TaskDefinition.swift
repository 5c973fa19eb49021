import Foundation

/// Binds a task type name to the Codable input and output its handlers take and return.
///
/// Inputs and outputs travel as JSON with content type `application/json`, so workers in other
/// languages can read them.
///
/// ```swift
/// enum Resize: TaskDefinition {
///   static let name = "images.resize"
///   struct Input: Codable, Sendable { var url: String; var width: Int }
///   struct Output: Codable, Sendable { var url: String }
/// }
/// ```
public protocol TaskDefinition: Sendable {
  /// What the submitter passes and the handler receives.
  associatedtype Input: Codable & Sendable
  /// What the handler returns and ``TaskwireClient/result(of:)`` yields.
  associatedtype Output: Codable & Sendable

  /// The task type on the wire, e.g. `images.resize`.
  static var name: String { get }

  /// Options every submit of this task starts from. Default: the server's defaults.
  static var defaultOptions: TaskOptions { get }
}

extension TaskDefinition {
  /// The server's defaults.
  public static var defaultOptions: TaskOptions { TaskOptions() }
}

/// A submitted task whose result decodes as `Definition.Output`.
public struct SubmittedTask<Definition: TaskDefinition>: Sendable, Hashable {
  /// The task's id.
  public var id: TaskID
  /// The task right after the submit (without payload).
  public var snapshot: TaskSnapshot
  /// Whether the submit's idempotency key matched an existing task (no new task was made).
  public var existing: Bool

  /// Wraps a task id whose type you know (e.g. one stored earlier).
  public init(id: TaskID, snapshot: TaskSnapshot, existing: Bool) {
    self.id = id
    self.snapshot = snapshot
    self.existing = existing
  }
}

/// The JSON coding of typed inputs and outputs.
enum TaskCoding {
  static let contentType = "application/json"

  static func encode<Value: Encodable>(_ value: Value, what: String) throws -> Data {
    do {
      // Sorted keys: the same input always makes the same bytes, so an idempotent repeat is
      // recognised as the same request.
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      return try encoder.encode(value)
    } catch {
      throw TaskwireError(
        code: .invalidArgument,
        message: "cannot encode the \(what) as JSON",
        cause: SendableCause(error)
      )
    }
  }

  static func decode<Value: Decodable>(_ type: Value.Type, from data: Data, what: String) throws
    -> Value
  {
    do {
      return try JSONDecoder().decode(type, from: data.isEmpty ? Data("null".utf8) : data)
    } catch {
      throw TaskwireError(
        code: .invalidArgument,
        message: "cannot decode the \(what) as \(Value.self)",
        cause: SendableCause(error)
      )
    }
  }
}
