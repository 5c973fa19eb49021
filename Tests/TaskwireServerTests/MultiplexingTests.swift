import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import TaskwireProto
import Testing

@Suite("Multiplexed calls on one connection")
struct MultiplexingTests {
  @Test("100 pipelined calls are all answered, out of order, each by its id")
  func pipelined() async throws {
    try await withTestNode { node in
      let worker = try await node.client(token: try await node.token(.worker))
      // Call 1 is a long poll on an empty queue; calls 2...100 are quick. All go in one write.
      var frames: [Taskwire_V1_Frame] = [
        .request(
          1,
          .leaseRequest(
            .with {
              $0.queues = ["pipelined"]
              $0.waitMs = 30_000
            }
          )
        )
      ]
      for id in UInt64(2)...100 {
        frames.append(.request(id, .healthRequest(.init())))
      }
      try await worker.send(frames)
      var answered: [UInt64] = []
      while answered.count < 99, let frame = await worker.next() {
        guard case .healthResponse? = frame.body else {
          Issue.record("unexpected frame \(frame)")
          break
        }
        answered.append(frame.callID)
      }
      #expect(Set(answered) == Set(2...100))
      // The long poll is still waiting; a submit from another connection wakes it at once.
      let submitter = try await node.client()
      let submitted = try await submitter.call(
        7,
        .submitRequest(
          .with {
            $0.task.queue = "pipelined"
            $0.task.type = "wake"
          }
        )
      )
      guard case .submitResponse(let created)? = submitted else {
        Issue.record("submit failed: \(String(describing: submitted))")
        return
      }
      let leased = await worker.next(timeout: .seconds(5))
      #expect(leased?.callID == 1, "the long poll answers after the 99 calls sent behind it")
      guard case .leaseResponse(let lease)? = leased?.body else {
        Issue.record("expected lease_response, got \(String(describing: leased))")
        return
      }
      #expect(lease.tasks.map(\.id) == [created.task.id])
    }
  }

  @Test("A cancelled watch ends with CANCELLED; a cancelled long poll answers CANCELLED")
  func cancelCalls() async throws {
    try await withTestNode { node in
      let client = try await node.client()
      try await client.send(.request(5, .watchRequest(.with { $0.filter.queues = ["nothing"] })))
      try await client.send(
        .request(
          6,
          .leaseRequest(
            .with {
              $0.queues = ["nothing"]
              $0.waitMs = 60_000
            }
          )
        )
      )
      try await client.send(.request(5, .cancelCall(.init())), .request(6, .cancelCall(.init())))
      var ends: [UInt64: Taskwire_V1_Frame] = [:]
      while ends.count < 2, let frame = await client.next(timeout: .seconds(5)) {
        ends[frame.callID] = frame
      }
      guard case .streamEnd(let end)? = ends[5]?.body else {
        Issue.record("watch did not end: \(String(describing: ends[5]))")
        return
      }
      #expect(end.status.code == .cancelled)
      #expect(ends[6]?.body?.errorCode == .cancelled)
      // The connection is still usable, and the ids can be reused.
      guard case .healthResponse? = try await client.call(5, .healthRequest(.init())) else {
        Issue.record("connection unusable after cancels")
        return
      }
    }
  }

  @Test("A cancel that races a grant never strands the task: it is answered leased or left pending")
  func cancelRacingGrant() async throws {
    try await withTestNode { node in
      let worker = try await node.client(token: try await node.token(.worker))
      let submitter = try await node.client()
      var outcomes: [String: Int] = [:]
      for round in UInt64(1)...300 {
        let queue = "race-\(round)"
        try await worker.send(
          .request(
            round,
            .leaseRequest(
              .with {
                $0.queues = [queue]
                $0.waitMs = 60_000
              }
            )
          )
        )
        // The submit that wakes the poll and the poll's cancel: cancel first, both at once, or the
        // cancel as the submit is acknowledged (the grant is then on its way to the worker).
        let submit = Taskwire_V1_Frame.request(
          round,
          .submitRequest(
            .with {
              $0.task.queue = queue
              $0.task.type = "race"
            }
          )
        )
        let cancel = Taskwire_V1_Frame.request(round, .cancelCall(.init()))
        switch round % 3 {
        case 0:
          try await worker.send(cancel)
          try await submitter.send(submit)
        case 1:
          try await submitter.send(submit)
          try await worker.send(cancel)
        default:
          try await submitter.send(submit)
        }
        let submitted = await submitter.next(timeout: .seconds(10))
        if round % 3 == 2 { try await worker.send(cancel) }
        guard case .submitResponse(let created)? = submitted?.body else {
          Issue.record("round \(round): submit failed: \(String(describing: submitted))")
          return
        }
        let answer = await worker.next(timeout: .seconds(10))
        #expect(answer?.callID == round)
        let state = try await submitter.call(
          10_000 + round,
          .getRequest(.with { $0.id = created.task.id })
        )
        guard case .getResponse(let stored) = state else {
          Issue.record("round \(round): get failed: \(String(describing: state))")
          return
        }
        switch answer?.body {
        case .leaseResponse(let lease)?:
          // Granted before the cancel took effect: the worker holds it and must be told.
          #expect(lease.tasks.map(\.id) == [created.task.id])
          #expect(stored.task.state == .running)
          outcomes["leased", default: 0] += 1
        case .error(let status)?:
          // Cancelled while waiting: the task was never handed over, so it is still ready.
          #expect(status.code == .cancelled)
          #expect(stored.task.state == .pending, "round \(round): a cancelled poll stranded it")
          outcomes["cancelled", default: 0] += 1
        default:
          Issue.record("round \(round): unexpected answer \(String(describing: answer))")
        }
      }
      print("cancel racing a grant, 300 rounds: \(outcomes)")
    }
  }

  @Test(
    "A client that keeps 100 calls in flight and sends the next burst as answers arrive is never refused"
  )
  func fullBurstsBackToBack() async throws {
    try await withTestNode { node in
      let client = try await node.client()
      var refused = 0
      for round in UInt64(0)..<40 {
        // 100 submits in one burst end together (one store pass); the next burst goes out the
        // moment the last answer is read, while the server may still be finishing that write.
        let burst = (UInt64(1)...100).map { index in
          Taskwire_V1_Frame.request(
            round * 1_000 + index,
            .submitRequest(
              .with {
                $0.task.queue = "bursts"
                $0.task.type = "b"
              }
            )
          )
        }
        try await client.send(burst)
        for _ in 0..<100 {
          guard let answer = await client.next(timeout: .seconds(10)) else {
            Issue.record("round \(round): an answer is missing")
            return
          }
          switch answer.body {
          case .submitResponse?: break
          case let body? where body.errorCode == .resourceExhausted: refused += 1
          default: Issue.record("round \(round): unexpected answer \(answer)")
          }
        }
      }
      #expect(refused == 0, "calls refused while the client kept to max_concurrent_calls")
    }
  }

  @Test("The 101st concurrent call gets RESOURCE_EXHAUSTED naming the limit; the connection stays")
  func concurrencyLimit() async throws {
    try await withTestNode { node in
      let worker = try await node.client(token: try await node.token(.worker))
      let polls = (UInt64(1)...101).map { id in
        Taskwire_V1_Frame.request(
          id,
          .leaseRequest(
            .with {
              $0.queues = ["limit"]
              $0.waitMs = 60_000
            }
          )
        )
      }
      try await worker.send(polls)
      let refused = await worker.next(timeout: .seconds(5))
      #expect(refused?.callID == 101)
      #expect(refused?.status?.code == .resourceExhausted)
      #expect(refused?.status?.limitName == "max_concurrent_calls")
      #expect(refused?.status?.limitValue == 100)
      #expect(refused?.status?.observedValue == 101)
      try await worker.send(.request(1, .cancelCall(.init())))
      #expect(await worker.next(timeout: .seconds(5))?.body?.errorCode == .cancelled)
    }
  }

  @Test(
    "Reusing a call id before its answer is a connection error, for calls answered at once too",
    arguments: [true, false]
  )
  func reusedCallID(behindLongPoll: Bool) async throws {
    try await withTestNode { node in
      let client = try await node.client(token: try await node.token(.worker))
      // Health is answered inside the connection loop, in the burst's one write: its id is still
      // in flight when the second frame with it arrives in the same burst.
      var frames: [Taskwire_V1_Frame] = []
      if behindLongPoll {
        frames.append(
          .request(
            3000,
            .leaseRequest(
              .with {
                $0.queues = ["reuse"]; $0.waitMs = 30_000
              }
            )
          )
        )
      } else {
        frames.append(.request(3000, .healthRequest(.init())))
      }
      frames.append(.request(3000, .healthRequest(.init())))
      try await client.send(frames)
      var status: Taskwire_V1_Status?
      while let frame = await client.next(timeout: .seconds(5)) {
        if frame.callID == 0, case .error(let error)? = frame.body {
          status = error
          break
        }
      }
      #expect(status?.code == .invalidArgument)
      #expect(status?.message.contains("already in flight") == true)
      #expect(await client.closed(within: .seconds(5)))
    }
  }

  @Test("Ping is answered with a pong carrying the same nonce")
  func ping() async throws {
    try await withTestNode { node in
      let client = try await node.client()
      var ping = Taskwire_V1_Frame()
      ping.ping.nonce = 0xfeed
      try await client.send(ping)
      let pong = await client.next()
      #expect(pong?.callID == 0)
      guard case .pong(let body)? = pong?.body else {
        Issue.record("expected pong, got \(String(describing: pong))")
        return
      }
      #expect(body.nonce == 0xfeed)
    }
  }
}
