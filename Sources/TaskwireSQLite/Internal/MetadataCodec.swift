import Foundation

/// A compact encoding of the metadata map: for each entry, key length, key, value length, value
/// (lengths as LEB128 varints), keys sorted. Empty map: empty blob.
enum MetadataCodec {
  static func encode(_ metadata: [String: String]) -> Data {
    if metadata.isEmpty { return Data() }
    var out = Data()
    func varint(_ n: Int) {
      var n = UInt64(n)
      while n >= 0x80 {
        out.append(UInt8(n & 0x7F) | 0x80)
        n >>= 7
      }
      out.append(UInt8(n))
    }
    for key in metadata.keys.sorted() {
      let value = metadata[key] ?? ""
      varint(key.utf8.count)
      out.append(contentsOf: key.utf8)
      varint(value.utf8.count)
      out.append(contentsOf: value.utf8)
    }
    return out
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
