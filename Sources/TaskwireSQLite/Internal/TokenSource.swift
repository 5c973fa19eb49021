import CSQLite

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Lease tokens (128 bits from the kernel's secure generator, as 32 lower-case hex characters,
/// like ``TaskwireCore/LeaseToken``) read 4 KiB at a time: one `getrandom` per 256 tokens
/// instead of two system calls and two allocations per token. Used on the writer thread only.
final class TokenSource {
  private var pool = [UInt8](repeating: 0, count: 4_096)
  private var offset = 4_096

  /// A fresh token.
  func next() -> String {
    if offset + 16 > pool.count { refill() }
    defer { offset += 16 }
    return pool.withUnsafeBufferPointer { pool in
      String(unsafeUninitializedCapacity: 32) { out in
        let digits: StaticString = "0123456789abcdef"
        let hex = digits.utf8Start
        for i in 0..<16 {
          let byte = pool[offset + i]
          out[2 * i] = hex[Int(byte >> 4)]
          out[2 * i + 1] = hex[Int(byte & 0x0f)]
        }
        return 32
      }
    }
  }

  private func refill() {
    pool.withUnsafeMutableBytes { raw in
      var filled = 0
      while filled < raw.count {
        #if canImport(Glibc)
          let n = Int(taskwire_getrandom(raw.baseAddress! + filled, UInt(raw.count - filled)))
          if n > 0 {
            filled += n
          } else if errno != EINTR {
            // No kernel randomness (never seen on Linux ≥ 3.17): fall back to Swift's, which
            // reads the same source.
            var system = SystemRandomNumberGenerator()
            for i in filled..<raw.count { raw[i] = system.next() }
            filled = raw.count
          }
        #else
          arc4random_buf(raw.baseAddress!, raw.count)
          filled = raw.count
        #endif
      }
    }
    offset = 0
  }
}
