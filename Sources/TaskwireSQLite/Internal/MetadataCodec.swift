import Foundation

/// A compact encoding of the metadata map: for each entry, key length, key, value length, value
/// (lengths as LEB128 varints), keys sorted. Empty map: empty blob.
enum MetadataCodec {
  /// Runs on the writer thread for every submit: it sizes the blob first and writes it in
  /// place (one allocation), and a one-entry map (the common `created_by`) skips the sort.
  static func encode(_ metadata: [String: String]) -> Data {
    if metadata.isEmpty { return Data() }
    var size = 0
    for (key, value) in metadata {
      size += varintSize(key.utf8.count) + key.utf8.count
      size += varintSize(value.utf8.count) + value.utf8.count
    }
    var out = Data(count: size)
    out.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
      var i = 0
      func varint(_ n: Int) {
        var n = UInt64(n)
        while n >= 0x80 {
          raw[i] = UInt8(n & 0x7F) | 0x80
          i += 1
          n >>= 7
        }
        raw[i] = UInt8(n)
        i += 1
      }
      func string(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
          varint(utf8.count)
          if utf8.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: raw[i..<i + utf8.count])
              .copyMemory(from: UnsafeRawBufferPointer(utf8))
          }
          i += utf8.count
        }
      }
      if metadata.count == 1, let (key, value) = metadata.first {
        string(key)
        string(value)
      } else {
        for key in metadata.keys.sorted() {
          string(key)
          string(metadata[key] ?? "")
        }
      }
    }
    return out
  }

  private static func varintSize(_ n: Int) -> Int {
    var n = UInt64(n)
    var size = 1
    while n >= 0x80 {
      n >>= 7
      size += 1
    }
    return size
  }

  static func decode(_ data: Data) -> [String: String] {
    if data.isEmpty { return [:] }
    var result: [String: String] = [:]
    data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
      var i = 0
      func varint() -> Int? {
        var n: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count {
          let b = bytes[i]
          i += 1
          n |= UInt64(b & 0x7F) << shift
          if b < 0x80 { return Int(n) }
          shift += 7
          if shift > 63 { return nil }
        }
        return nil
      }
      func string() -> String? {
        guard let n = varint(), n <= bytes.count - i else { return nil }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[i..<i + n]), as: UTF8.self)
        i += n
        return s
      }
      while i < bytes.count {
        guard let key = string(), let value = string() else { return }
        result[key] = value
      }
    }
    return result
  }
}
