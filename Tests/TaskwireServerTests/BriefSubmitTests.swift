import Foundation
import SwiftProtobuf
import TaskwireProto
import Testing

/// `SubmitRequest.brief` / `SubmitBatchRequest.brief` over real TLS: the answer's task carries
/// id, state, times and sequence only; without the flag it carries the spec as before.
@Suite("Brief submit answers")
struct BriefSubmitTests {
  static func spec(_ queue: String, key: String = "") -> Taskwire_V1_TaskSpec {
    .with {
      $0.queue = queue
      $0.type = "brief"
      $0.payload = Data("payload".utf8)
      $0.idempotencyKey = key
    }
  }

  static func expectBrief(_ task: Taskwire_V1_Task) {
    #expect(!task.id.isEmpty)
    #expect(task.state == .pending)
    #expect(task.sequence > 0)
    #expect(task.createdMs > 0)
    #expect(!task.hasSpec, "a brief answer carries no spec")
  }

  @Test("Single submits, pipelined in one write: each answer is brief only if its request asked")
  func singles() async throws {
    try await withTestNode { node in
      let client = try await node.client()
      // One write: the server answers the three from one read burst, with one store hand-off.
      try await client.send([
        .request(1, .submitRequest(.with { $0.task = Self.spec("brief-a") })),
        .request(
          2,
          .submitRequest(
            .with {
              $0.task = Self.spec("brief-a")
              $0.brief = true
            }
          )
        ),
        .request(3, .submitRequest(.with { $0.task = Self.spec("brief-a") })),
      ])
      var answers: [UInt64: Taskwire_V1_SubmitResponse] = [:]
      while answers.count < 3, let frame = await client.next() {
        guard case .submitResponse(let response)? = frame.body else {
          Issue.record("unexpected frame \(frame)")
          return
        }
        answers[frame.callID] = response
      }
      try #require(answers.count == 3)
      Self.expectBrief(answers[2]!.task)
      for id: UInt64 in [1, 3] {
        #expect(answers[id]!.task.spec.queue == "brief-a")
        #expect(answers[id]!.task.spec.type == "brief")
      }

      // The brief answer names a real task: a get returns all of it.
      let got = try await client.call(4, .getRequest(.with { $0.id = answers[2]!.task.id }))
      guard case .getResponse(let response)? = got else {
        Issue.record("expected get_response, got \(String(describing: got))")
        return
      }
      #expect(response.task.spec.payload == Data("payload".utf8))
      #expect(response.task.sequence == answers[2]!.task.sequence)
    }
  }

  @Test("An idempotent repeat answered briefly says existing, with the first task's id")
  func idempotentRepeat() async throws {
    try await withTestNode { node in
      let client = try await node.client()
      var ids: [String] = []
      for call in UInt64(1)...2 {
        let answer = try await client.call(
          call,
          .submitRequest(
            .with {
              $0.task = Self.spec("brief-key", key: "k-1")
              $0.brief = true
            }
          )
        )
        guard case .submitResponse(let response)? = answer else {
          Issue.record("expected submit_response, got \(String(describing: answer))")
          return
        }
        Self.expectBrief(response.task)
        #expect(response.existing == (call == 2))
        ids.append(response.task.id)
      }
      #expect(ids[0] == ids[1])
    }
  }

  @Test("A brief batch answers every item briefly, in order; a full batch carries the specs")
  func batch() async throws {
    try await withTestNode { node in
      let client = try await node.client()
      for (call, brief) in [(UInt64(1), true), (2, false)] {
        let answer = try await client.call(
          call,
          .submitBatchRequest(
            .with {
              $0.tasks = (0..<3).map { _ in Self.spec("brief-batch") }
              $0.brief = brief
            }
          )
        )
        guard case .submitBatchResponse(let response)? = answer else {
          Issue.record("expected submit_batch_response, got \(String(describing: answer))")
          return
        }
        try #require(response.results.count == 3)
        #expect(response.results.map(\.task.id).sorted() == response.results.map(\.task.id))
        for result in response.results {
          if brief {
            Self.expectBrief(result.task)
          } else {
            #expect(result.task.spec.queue == "brief-batch")
          }
        }
      }
    }
  }
}
