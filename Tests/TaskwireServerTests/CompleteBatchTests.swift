import Foundation
import SwiftProtobuf
import TaskwireProto
import Testing

/// `CompleteBatchRequest` over real TLS: each item stands alone, and the batch has the limits a
/// submit batch has.
@Suite("Complete batches")
struct CompleteBatchTests {
  @Test("Each item stands alone: a stale token fails its own item, the others succeed")
  func itemsStandAlone() async throws {
    try await withTestNode { node in
      let client = try await node.session(.client)
      let worker = try await node.session(.worker)
      var ids: [String] = []
      for _ in 0..<3 { ids.append(try await client.submit { $0.queue = "cb" }.task.id) }
      let leased = try await worker.lease("cb", max: 3)
      try #require(leased.count == 3)
      let answer = try await worker.call(
        .completeBatchRequest(
          .with { batch in
            batch.items = leased.enumerated().map { index, task in
              .with {
                $0.taskID = task.id
                $0.leaseToken = index == 1 ? "stale-token" : task.leaseToken
                $0.result = Data("result-\(index)".utf8)
                $0.contentType = "text/plain"
              }
            }
          }
        )
      )
      guard case .completeBatchResponse(let response) = answer else {
        throw TestFailure("expected complete_batch_response, got \(answer)")
      }
      #expect(response.results.map(\.code) == [.ok, .leaseLost, .ok])
      for (index, task) in leased.enumerated() {
        let stored = try await client.get(task.id)
        if index == 1 {
          #expect(stored.state == .running)
          #expect(stored.result.isEmpty)
        } else {
          #expect(stored.state == .succeeded)
          #expect(stored.result == Data("result-\(index)".utf8))
          #expect(stored.resultContentType == "text/plain")
        }
      }
      #expect(Set(leased.map(\.id)) == Set(ids))
    }
  }

  @Test("An empty batch is INVALID_ARGUMENT; one over max_batch is RESOURCE_EXHAUSTED")
  func limits() async throws {
    try await withTestNode { node in
      let worker = try await node.session(.worker)
      let empty = try await worker.error(.completeBatchRequest(.init()))
      #expect(empty.code == .invalidArgument)

      let tooMany = try await worker.error(
        .completeBatchRequest(
          .with { batch in
            batch.items = (0..<1_001).map { index in
              .with {
                $0.taskID = "t-\(index)"
                $0.leaseToken = "x"
              }
            }
          }
        )
      )
      #expect(tooMany.code == .resourceExhausted)
      #expect(tooMany.limitName == "max_batch")
      #expect(tooMany.limitValue == 1_000)
      #expect(tooMany.observedValue == 1_001)
    }
  }
}
