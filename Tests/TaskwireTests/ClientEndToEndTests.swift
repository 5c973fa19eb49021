import Foundation
import Taskwire
import TaskwireRuntime
import TaskwireServer
import TaskwireTesting
import Testing

@Suite("Client end to end (real TLS, in-process server)")
struct ClientEndToEndTests {
  @Test("Raw submit, get, list pages, count, cancel, retry and delete")
  func basicCalls() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        var ids: [TaskID] = []
        for index in 0..<5 {
          let submission = try await client.submit(
            type: "raw.echo",
            payload: Data("payload-\(index)".utf8),
            contentType: "text/plain",
            options: TaskOptions(queue: "e2e-basic")
          )
          #expect(submission.task.state == .pending)
          #expect(!submission.existing)
          ids.append(submission.task.id)
        }
        let snapshot = try await client.get(ids[0])
        #expect(snapshot.payload == Data("payload-0".utf8))
        #expect(snapshot.contentType == "text/plain")
        #expect(snapshot.queue == "e2e-basic")

        var listed: [TaskID] = []
        for try await task in client.list(filter: TaskFilter(queues: ["e2e-basic"]), pageSize: 2) {
          listed.append(task.id)
        }
        #expect(listed == ids)
        #expect(try await client.count(filter: TaskFilter(queues: ["e2e-basic"])) == 5)

        let cancelled = try await client.cancel(ids[1], reason: "test")
        #expect(cancelled.state == .cancelled)
        let retried = try await client.retry(ids[1])
        #expect(retried.state == .pending)
        _ = try await client.cancel(ids[1])
        try await client.delete(ids[1])
        await #expect(throws: TaskwireError.self) { _ = try await client.get(ids[1]) }
        do {
          _ = try await client.get(ids[1])
        } catch let error as TaskwireError {
          #expect(error.code == .notFound)
        }
      }
    }
  }

  @Test("An idempotency key returns the existing task; a different request is a conflict")
  func idempotentSubmit() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        var options = TaskOptions()
        options.idempotencyKey = "order-42"
        let first = try await client.submit(Add.self, input: .init(a: 1, b: 2), options: options)
        let second = try await client.submit(Add.self, input: .init(a: 1, b: 2), options: options)
        #expect(second.existing)
        #expect(second.id == first.id)
        do {
          _ = try await client.submit(Add.self, input: .init(a: 9, b: 9), options: options)
          Issue.record("expected CONFLICT")
        } catch let error as TaskwireError {
          #expect(error.code == .conflict)
        }
      }
    }
  }

  @Test("enqueue and enqueueBatch answer id and acknowledgement; the tasks are whole on the server")
  func enqueue() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        let raw = try await client.enqueue(
          type: "raw.echo",
          payload: Data("brief".utf8),
          contentType: "text/plain",
          options: TaskOptions(queue: "e2e-enqueue")
        )
        #expect(raw.state == .pending)
        #expect(!raw.existing)
        #expect(raw.sequence > 0)
        let snapshot = try await client.get(raw.id)
        #expect(snapshot.payload == Data("brief".utf8))
        #expect(snapshot.queue == "e2e-enqueue")
        #expect(snapshot.sequence == raw.sequence)

        var options = TaskOptions(queue: "e2e-enqueue")
        options.idempotencyKey = "brief-1"
        options.delay = .seconds(3600)
        let first = try await client.enqueue(Add.self, input: .init(a: 1, b: 2), options: options)
        let again = try await client.enqueue(Add.self, input: .init(a: 1, b: 2), options: options)
        #expect(first.state == .scheduled)
        #expect(!first.existing)
        #expect(again.existing)
        #expect(again.id == first.id)

        let items = try (0..<3).map {
          try TaskwireClient.BatchItem(
            Add.self,
            input: .init(a: $0, b: $0),
            options: TaskOptions(queue: "e2e-enqueue")
          )
        }
        let batch = try await client.enqueueBatch(items)
        #expect(batch.count == 3)
        #expect(batch.map(\.id).sorted() == batch.map(\.id))
        for (index, item) in batch.enumerated() {
          let task = try await client.get(item.id)
          #expect(task.payload == items[index].payload)
        }
      }
    }
  }

  @Test("A request larger than the server's max_frame fails alone, unsent: no connection error")
  func frameLimit() async throws {
    try await withTestServer(configure: { $0.limits.maxFrameBytes = 64 * 1024 }) { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        let items = (0..<10).map { _ in
          TaskwireClient.BatchItem(
            type: "big",
            payload: Data(count: 8 * 1024),
            options: TaskOptions(queue: "e2e-frame")
          )
        }
        do {
          _ = try await client.submitBatch(items)
          Issue.record("expected RESOURCE_EXHAUSTED")
        } catch let error as TaskwireError {
          // Sent, the server would answer with a connection error and close: UNAVAILABLE here.
          #expect(error.code == .resourceExhausted)
          #expect(error.limit?.name == "max_frame")
          #expect(error.limit?.value == 64 * 1024)
          #expect((error.limit?.observed ?? 0) > 80 * 1024)
        }
        #expect(try await client.count(filter: TaskFilter(queues: ["e2e-frame"])) == 0)
        let fits = try await client.enqueueBatch(Array(items.prefix(4)))
        #expect(fits.count == 4)
      }
    }
  }

  @Test("A batch is stored atomically and answered in order")
  func batch() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        let items = try (0..<3).map {
          try TaskwireClient.BatchItem(Add.self, input: .init(a: $0, b: $0))
        }
        let results = try await client.submitBatch(items)
        #expect(results.count == 3)
        #expect(Set(results.map(\.task.id)).count == 3)
        #expect(results.map(\.task.type) == Array(repeating: Add.name, count: 3))
      }
    }
  }

  @Test("A wrong token fails the call with UNAUTHENTICATED; a role without the call is denied")
  func authErrors() async throws {
    try await withTestServer { server in
      var configuration = try await server.clientConfiguration(role: .client)
      configuration.token = "tw_not_a_token"
      try await withTaskwireClient(configuration: configuration) { client in
        do {
          _ = try await client.count()
          Issue.record("expected UNAUTHENTICATED")
        } catch let error as TaskwireError {
          #expect(error.code == .unauthenticated)
          #expect(!error.description.contains("tw_not_a_token"))
        }
      }
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      try await withTaskwireClient(configuration: workerConfiguration) { client in
        do {
          _ = try await client.count()
          Issue.record("expected PERMISSION_DENIED")
        } catch let error as TaskwireError {
          #expect(error.code == .permissionDenied)
        }
      }
    }
  }

  @Test("The server's certificate is verified: trusted as PEM it works, untrusted it is refused")
  func certificateVerification() async throws {
    try await withTestServer { server in
      var configuration = try await server.clientConfiguration(role: .client)
      configuration.tls.trust = .caPEM(try String(contentsOfFile: server.caPath, encoding: .utf8))
      try await withTaskwireClient(configuration: configuration) { client in
        let count = try await client.count()
        #expect(count == 0)
      }
      configuration.tls.trust = .systemRoots
      configuration.idempotentCallAttempts = 1
      try await withTaskwireClient(configuration: configuration) { client in
        do {
          _ = try await client.count()
          Issue.record("expected the TLS handshake to fail")
        } catch let error as TaskwireError {
          #expect(error.code == .unavailable)
          #expect(error.cause != nil)
        }
      }
    }
  }

  @Test("Admin calls: stats, tokens, pause and resume a queue")
  func adminCalls() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .admin)
      try await withTaskwireClient(configuration: configuration) { client in
        _ = try await client.submit(type: "x", payload: Data(), options: TaskOptions(queue: "q1"))
        try await client.pauseQueue("q1")
        let stats = try await client.stats(queues: ["q1"])
        #expect(stats.first?.paused == true)
        #expect(stats.first?.pending == 1)
        try await client.resumeQueue("q1")
        let (info, secret) = try await client.createToken(name: "ci", role: .worker)
        #expect(info.role == .worker)
        #expect(!secret.isEmpty)
        #expect(try await client.tokens().contains { $0.name == "ci" })
        try await client.revokeToken("ci")
        #expect(try await client.tokens().first { $0.name == "ci" }?.revoked != nil)
        #expect(try await client.workers().isEmpty)
      }
    }
  }

  @Test("A dropped connection fails nothing idempotent: the client reconnects and retries")
  func reconnectAfterDrop() async throws {
    try await withTestServer { server in
      let configuration = try await server.clientConfiguration(role: .client)
      try await withTaskwireClient(configuration: configuration) { client in
        let task = try await client.submit(Add.self, input: .init(a: 1, b: 1))
        client.dropConnectionForTesting()
        let snapshot = try await client.get(task.id)
        #expect(snapshot.id == task.id)
      }
    }
  }
}
