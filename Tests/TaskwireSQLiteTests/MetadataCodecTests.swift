import Foundation
import Testing

@testable import TaskwireSQLite

/// The metadata blob stored in task rows: its bytes must stay what earlier versions wrote
/// (rows outlive builds), and every map must come back as it went in.
@Suite("Metadata codec")
struct MetadataCodecTests {
  @Test(
    "The stored bytes: per entry, varint key length, key, varint value length, value; keys sorted"
  )
  func bytes() {
    #expect(MetadataCodec.encode([:]).isEmpty)
    #expect(
      MetadataCodec.encode(["created_by": "ci"])
        == Data([10] + Array("created_by".utf8) + [2] + Array("ci".utf8))
    )
    #expect(
      MetadataCodec.encode(["b": "2", "a": "", "c": "é"])
        == Data([1, 0x61, 0, 1, 0x62, 1, 0x32, 1, 0x63, 2, 0xC3, 0xA9])
    )
    // A length of 300 takes two varint bytes: 0xAC 0x02.
    let long = String(repeating: "x", count: 300)
    let encoded = MetadataCodec.encode(["k": long])
    #expect(Array(encoded.prefix(4)) == [1, 0x6B, 0xAC, 0x02])
    #expect(encoded.count == 4 + 300)
  }

  @Test("Every map comes back as it went in")
  func roundTrip() {
    let maps: [[String: String]] = [
      [:],
      ["created_by": "token-name"],
      ["": ""],
      ["trace": String(repeating: "a", count: 200), "emoji": "🚀✓", "n": "1"],
      Dictionary(uniqueKeysWithValues: (0..<50).map { ("key-\($0)", "value-\($0 * 7)") }),
    ]
    for map in maps {
      #expect(MetadataCodec.decode(MetadataCodec.encode(map)) == map)
    }
  }
}
