import Foundation
import TaskwireCore

extension NewTask {
  /// SHA-256 over a canonical encoding of every field except the idempotency key (payload
  /// included): two submissions with the same key are "the same request" exactly when their
  /// fingerprints are equal.
  public var fingerprint: [UInt8] {
    var hasher = SHA256.Hasher()
    var scratch = [UInt8]()
    scratch.reserveCapacity(256)
    func int(_ v: Int64) {
      for shift in stride(from: 56, through: 0, by: -8) {
        scratch.append(UInt8(truncatingIfNeeded: v >> Int64(shift)))
      }
    }
    func string(_ s: String) {
      int(Int64(s.utf8.count))
      scratch.append(contentsOf: s.utf8)
    }
    scratch.append(1)  // encoding version
    string(queue)
    string(type)
    string(contentType)
    int(Int64(priority))
    // A relative delay is part of the request as sent; the absolute time it resolves to is not
    // (a retried submit with the same delay is the same request).
    if requestedDelayMs > 0 {
      scratch.append(2)
      int(requestedDelayMs)
    } else {
      scratch.append(1)
      int(runAtMs)
    }
    int(Int64(maxAttempts))
    int(Int64(retryPolicy.kind.rawValue))
    int(retryPolicy.initialMs)
    int(Int64(bitPattern: retryPolicy.multiplier.bitPattern))
    int(retryPolicy.maxMs)
    int(Int64(bitPattern: retryPolicy.jitter.bitPattern))
    int(leaseDurationMs)
    int(executionTimeoutMs)
    string(parentID)
    scratch.append(cleanOnSuccess ? 1 : 0)
    let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    int(Int64(keys.count))
    for key in keys {
      string(key)
      string(metadata[key] ?? "")
    }
    int(Int64(payload.count))
    hasher.update(scratch)
    payload.withUnsafeBytes { hasher.update($0) }
    return hasher.finalize()
  }
}
