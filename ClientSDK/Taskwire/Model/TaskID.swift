/// A task's id: made by the server, opaque, unique, and sortable by creation time.
///
/// Compare ids for equality or order; never parse them.
public struct TaskID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
  ExpressibleByStringLiteral
{
  /// The id as the server wrote it.
  public var rawValue: String

  /// Wraps an id string (from a log line, a database row or ``description``).
  public init(_ rawValue: String) {
    self.rawValue = rawValue
  }

  /// Wraps an id literal.
  public init(stringLiteral value: String) {
    self.rawValue = value
  }

  /// Decodes the id from a single string.
  public init(from decoder: any Decoder) throws {
    self.rawValue = try decoder.singleValueContainer().decode(String.self)
  }

  /// Encodes the id as a single string.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(self.rawValue)
  }

  /// The id string.
  public var description: String { self.rawValue }

  /// Orders ids by creation (the server makes them time-ordered).
  public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }
}
