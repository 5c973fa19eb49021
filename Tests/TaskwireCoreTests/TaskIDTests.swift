import TaskwireCore
import Testing

@Suite("Task ids and lease tokens")
struct TaskIDTests {
  @Test("Ids are 26 Crockford base32 characters carrying their time")
  func format() throws {
    let generator = TaskIDGenerator()
    let id = generator.next(nowMs: 1_700_000_000_123)
    #expect(id.rawValue.count == 26)
    #expect(id.timestampMs == 1_700_000_000_123)
    let parsed = try #require(TaskID(rawValue: id.rawValue))
    #expect(parsed == id)
    #expect(parsed.value == id.value)
    #expect(TaskID(rawValue: "short") == nil)
    #expect(TaskID(rawValue: String(repeating: "U", count: 26)) == nil)  // U is not in the alphabet
    #expect(TaskID(rawValue: "8" + String(repeating: "0", count: 25)) == nil)  // over 128 bits
    #expect(TaskID(value: 0).rawValue == String(repeating: "0", count: 26))
    #expect(TaskID(value: .max).rawValue == "7" + String(repeating: "Z", count: 25))
  }

  @Test(
    "Ids from one generator strictly increase, within a millisecond and across clock steps back"
  )
  func monotonic() {
    let generator = TaskIDGenerator()
    var previous = generator.next(nowMs: 1_000)
    var all = Set([previous])
    for i in 0..<10_000 {
      // The same millisecond many times, then a step back, then forward.
      let ms: Int64 = i < 5_000 ? 1_000 : (i < 7_000 ? 900 : 2_000 + Int64(i))
      let id = generator.next(nowMs: ms)
      #expect(id > previous)
      #expect(id.rawValue > previous.rawValue)
      previous = id
      all.insert(id)
    }
    #expect(all.count == 10_001)
  }

  @Test("Ids sort by time across generators")
  func timeOrder() {
    let a = TaskIDGenerator().next(nowMs: 5_000)
    let b = TaskIDGenerator().next(nowMs: 5_001)
    #expect(a < b)
  }

  @Test("Concurrent generation gives unique ids")
  func concurrent() async {
    let generator = TaskIDGenerator()
    let ids = await withTaskGroup(of: [TaskID].self) { group in
      for _ in 0..<8 {
        group.addTask { (0..<2_000).map { _ in generator.next(nowMs: 42) } }
      }
      var all: [TaskID] = []
      for await chunk in group { all += chunk }
      return all
    }
    #expect(Set(ids).count == 16_000)
  }

  @Test("Lease tokens are 32 lower-case hex characters and differ")
  func tokens() {
    let tokens = (0..<1_000).map { _ in LeaseToken.generate() }
    #expect(Set(tokens).count == 1_000)
    for token in tokens {
      #expect(token.count == 32)
      #expect(token.allSatisfy { "0123456789abcdef".contains($0) })
    }
  }
}
