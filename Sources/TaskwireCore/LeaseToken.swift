/// Lease tokens: 128 random bits as 32 lower-case hex characters. A token is bound to one
/// attempt; the store compares it on every heartbeat, completion and failure (the fence).
public enum LeaseToken {
  /// The length of a token in characters.
  public static let length = 32

  /// A fresh token from `random`.
  public static func generate(using random: inout some RandomNumberGenerator) -> String {
    let a: UInt64 = random.next()
    let b: UInt64 = random.next()
    var bytes = [UInt8]()
    bytes.reserveCapacity(16)
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: a >> UInt64(shift)))
    }
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: b >> UInt64(shift)))
    }
    return Hex.encode(bytes)
  }

  /// A fresh token from the system's secure random numbers.
  public static func generate() -> String {
    var random = SystemRandomNumberGenerator()
    return generate(using: &random)
  }
}
