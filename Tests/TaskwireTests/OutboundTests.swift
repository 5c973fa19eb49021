import Foundation
import NIOCore
import TaskwireTesting
import Testing

@testable import Taskwire

@Suite("Outbound frames: small ones gathered, large ones queued uncopied, all in order")
struct OutboundTests {
  @Test("take() returns the frames in the order they were appended")
  func order() throws {
    var outbound = Outbound(allocator: ByteBufferAllocator())
    #expect(outbound.isEmpty)
    func frame(_ byte: UInt8, _ count: Int) -> ByteBuffer {
      ByteBuffer(bytes: [UInt8](repeating: byte, count: count))
    }
    let large = Outbound.largeFrameBytes
    outbound.append(frame(1, 10))
    outbound.append(frame(2, 20))
    outbound.append(frame(3, large))
    outbound.append(frame(4, 30))
    outbound.append(frame(5, large + 1))
    outbound.append(frame(6, large * 2))
    #expect(!outbound.isEmpty)
    let taken = outbound.take()
    #expect(outbound.isEmpty)
    #expect(outbound.take().isEmpty)
    // Small frames share a buffer; large ones are their own, with nothing reordered.
    #expect(taken.map(\.readableBytes) == [30, large, 30, large + 1, large * 2])
    let bytes = taken.flatMap { Array($0.readableBytesView) }
    let expected =
      [UInt8](repeating: 1, count: 10) + [UInt8](repeating: 2, count: 20)
      + [UInt8](repeating: 3, count: large) + [UInt8](repeating: 4, count: 30)
      + [UInt8](repeating: 5, count: large + 1) + [UInt8](repeating: 6, count: large * 2)
    #expect(bytes == expected)
  }

  @Test("Mixed small and large submits in flight together on one connection all arrive intact")
  func mixedSizesOverTLS() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        // Every third payload is larger than Outbound.largeFrameBytes; all go out concurrently,
        // so small and large frames interleave in the connection's writes.
        let payloads = (0..<120).map { index in
          let count = index % 3 == 0 ? Outbound.largeFrameBytes * 3 + index : 40 + index
          return Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
        }
        let ids = try await withThrowingTaskGroup(of: (Int, TaskID).self) { group in
          for (index, payload) in payloads.enumerated() {
            group.addTask {
              let id = try await client.enqueue(
                type: "mixed",
                payload: payload,
                options: TaskOptions(queue: "outbound")
              ).id
              return (index, id)
            }
          }
          var ids: [Int: TaskID] = [:]
          for try await (index, id) in group { ids[index] = id }
          return ids
        }
        #expect(ids.count == payloads.count)
        for (index, id) in ids {
          let task = try await client.get(id)
          #expect(task.payload == payloads[index], "payload \(index) differs")
        }
      }
    }
  }
}
