/// A task id: 26 characters of Crockford base32 encoding 48 bits of Unix milliseconds followed by
/// 80 random bits (the ULID layout), so ids sort by creation time. Ids from one
/// ``TaskIDGenerator`` are strictly increasing, even within one millisecond.
public struct TaskID: RawRepresentable, Sendable, Hashable, Comparable, Codable,
  CustomStringConvertible
{
  /// The 26-character text form.
  public let rawValue: String

  /// Parses an id; `nil` unless it is 26 Crockford base32 characters (upper case) whose first
  /// character is at most `7` (128 bits).
  public init?(rawValue: String) {
    let utf8 = rawValue.utf8
    guard utf8.count == 26 else { return nil }
    for (i, c) in utf8.enumerated() {
      guard let v = TaskID.decodeTable[Int(c)], i > 0 || v <= 7 else { return nil }
    }
    self.rawValue = rawValue
  }

  /// Creates an id from its 128-bit value.
  public init(value: UInt128) {
    self.rawValue = String(unsafeUninitializedCapacity: 26) { buffer in
      for i in 0..<26 {
        let shift = UInt128(125 - 5 * i)
        buffer[i] = TaskID.alphabet[Int(truncatingIfNeeded: (value >> shift) & 31)]
      }
      return 26
    }
  }

  /// The 128-bit value of the id.
  public var value: UInt128 {
    var v: UInt128 = 0
    for c in rawValue.utf8 { v = v << 5 | UInt128(TaskID.decodeTable[Int(c)] ?? 0) }
    return v
  }

  /// The creation time encoded in the id, in Unix milliseconds.
  public var timestampMs: Int64 { Int64(truncatingIfNeeded: value >> 80) }

  /// The text form.
  public var description: String { rawValue }

  /// Orders ids by creation (the text order equals the numeric order).
  public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }

  static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

  static let decodeTable: [UInt8?] = {
    var table = [UInt8?](repeating: nil, count: 256)
    for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
    return table
  }()
}
