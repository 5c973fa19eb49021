import Foundation
import Taskwire
import TaskwireTesting
import Testing

@Suite("Worker end to end (real TLS, in-process server)")
struct WorkerEndToEndTests {
  @Test("Typed submit → worker → typed result")
  func typedRoundTrip() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Add.self) { input, context in
            #expect(context.attempt == 1)
            return .init(sum: input.a + input.b)
          }
        } _: { _ in
          let tasks = try await (0..<10).asyncMap {
            try await client.submit(Add.self, input: .init(a: $0, b: 100))
          }
          for (index, task) in tasks.enumerated() {
            #expect(try await client.result(of: task) == .init(sum: index + 100))
          }
          let snapshot = try await client.get(tasks[0].id)
          #expect(snapshot.state == .succeeded)
          #expect(snapshot.resultContentType == "application/json")
        }
      }
    }
  }

  @Test("Tasks whose payloads together pass a frame are leased over several answers, none lost")
  func largePayloads() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        // 12 × 600 KiB ready before the worker asks: one answer with all of them would be
        // 7 MB, over the 4 MiB frame (the worker would drop the connection and the tasks would
        // wait out their leases, then run again as attempt 2).
        let payload = Data((0..<600 * 1024).map { UInt8(truncatingIfNeeded: $0) })
        let ids = try await (0..<12).asyncMap { _ in
          try await client.enqueue(type: "large", payload: payload).id
        }
        var configuration = TaskwireWorker.Configuration(connection: workerConfiguration)
        configuration.maxConcurrentTasks = 64
        try await withWorker(configuration) { worker in
          worker.register(type: "large") { task, context in
            #expect(task.payload == payload)
            #expect(context.attempt == 1)
            return TaskResult()
          }
        } _: { _ in
          for id in ids {
            let finished = try await client.waitForCompletion(of: id)
            #expect(finished.state == .succeeded)
            #expect(finished.attempt == 1)
          }
        }
      }
    }
  }

  @Test("Handlers that finish together: their completions share frames, each result on its task")
  func completionsFinishingTogether() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        let count = 48
        let ids = try await (0..<count).asyncMap { index in
          try await client.enqueue(type: "together", payload: Data("in-\(index)".utf8)).id
        }
        // Every handler waits until all have started, then all return at once: the first
        // completion goes out alone, the rest finish while it is on the wire and batch up.
        let started = Counter()
        var configuration = TaskwireWorker.Configuration(connection: workerConfiguration)
        configuration.maxConcurrentTasks = count
        try await withWorker(configuration) { worker in
          worker.register(type: "together") { task, _ in
            started.increment()
            await started.wait(for: count)
            let input = String(decoding: task.payload, as: UTF8.self)
            return TaskResult(Data("out-\(input)".utf8), contentType: "text/plain")
          }
        } _: { _ in
          for (index, id) in ids.enumerated() {
            let finished = try await client.waitForCompletion(of: id)
            #expect(finished.state == .succeeded)
            #expect(finished.attempt == 1)
            #expect(finished.result == Data("out-in-\(index)".utf8))
            #expect(finished.resultContentType == "text/plain")
          }
        }
      }
    }
  }

  @Test("A watcher sees the handler's progress")
  func progressIsWatched() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      let proceed = Latch()
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Sleepy.self) { input, context in
            try await context.progress(40, "resizing")
            await proceed.wait()
            return .init(label: input.label)
          }
        } _: { _ in
          let task = try await client.submit(Sleepy.self, input: .init(label: "p"))
          var kinds: [TaskEvent.Kind] = []
          for try await event in client.watch(task.id) {
            kinds.append(event.kind)
            // The progress arrives as its own event, or inside the first snapshot when the
            // handler reported it before the watch subscribed.
            if event.progress == 40 {
              #expect(event.kind == .progress || event.kind == .snapshot)
              #expect(event.progressMessage == "resizing")
              proceed.open()
            }
            if event.kind == .finished {
              #expect(event.state == .succeeded)
              break
            }
          }
          #expect(kinds.first == .snapshot)
          #expect(proceed.isOpen)
          #expect(try await client.result(of: task) == .init(label: "p"))
        }
      }
    }
  }

  @Test("Cancel of a running task cancels its handler; the task ends CANCELLED")
  func cancelRunningHandler() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      let started = Latch()
      let sawCancellation = Latch()
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Sleepy.self) { _, _ in
            started.open()
            do {
              try await Task.sleep(for: .seconds(3600))
            } catch is CancellationError {
              sawCancellation.open()
              throw CancellationError()
            }
            return .init(label: "never")
          }
        } _: { _ in
          var options = TaskOptions()
          options.leaseDuration = .seconds(60)  // no heartbeat before the cancel: the push does it
          let task = try await client.submit(
            Sleepy.self,
            input: .init(label: "c"),
            options: options
          )
          await started.wait()
          try await client.cancel(task.id, reason: "test")
          do {
            _ = try await client.result(of: task)
            Issue.record("expected a TaskFailure")
          } catch let failure as TaskFailure {
            #expect(failure.state == .cancelled)
          }
          #expect(sawCancellation.isOpen)
        }
      }
    }
  }

  @Test("After a cancel stops a handler, the worker's next task runs in a task not cancelled")
  func nextTaskAfterCancel() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      let started = Latch()
      var configuration = TaskwireWorker.Configuration(connection: workerConfiguration)
      // One slot: the task after the cancelled one cannot run beside it, only after it.
      configuration.maxConcurrentTasks = 1
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(configuration) { worker in
          worker.register(Sleepy.self) { input, _ in
            if input.label == "next" {
              return .init(label: Task.isCancelled ? "ran cancelled" : "ran")
            }
            started.open()
            try await Task.sleep(for: .seconds(3600))
            return .init(label: "never")
          }
        } _: { _ in
          var options = TaskOptions()
          options.leaseDuration = .seconds(60)
          let first = try await client.submit(
            Sleepy.self,
            input: .init(label: "c"),
            options: options
          )
          await started.wait()
          try await client.cancel(first.id, reason: "test")
          do {
            _ = try await client.result(of: first)
            Issue.record("expected a TaskFailure")
          } catch let failure as TaskFailure {
            #expect(failure.state == .cancelled)
          }
          for _ in 0..<3 {
            let next = try await client.submit(Sleepy.self, input: .init(label: "next"))
            #expect(try await client.result(of: next).label == "ran")
          }
        }
      }
    }
  }

  @Test("Handler errors: thrown fails and retries; NonRetryableError fails for good")
  func handlerErrors() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      struct Flaky: Error {}
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Add.self) { input, context in
            if input.a < 0 { throw NonRetryableError("negative input") }
            if context.attempt < 2 { throw Flaky() }
            return .init(sum: input.a + input.b)
          }
        } _: { _ in
          var options = TaskOptions()
          options.retryPolicy = .fixed(.milliseconds(10))
          let flaky = try await client.submit(Add.self, input: .init(a: 1, b: 1), options: options)
          #expect(try await client.result(of: flaky) == .init(sum: 2))
          #expect(try await client.get(flaky.id).attempt == 2)

          let bad = try await client.submit(Add.self, input: .init(a: -1, b: 0), options: options)
          do {
            _ = try await client.result(of: bad)
            Issue.record("expected a TaskFailure")
          } catch let failure as TaskFailure {
            #expect(failure.state == .failed)
            #expect(failure.attempts == 1)
            #expect(failure.message.contains("negative input"))
          }
        }
      }
    }
  }

  @Test("The execution timeout cancels the handler and fails the attempt")
  func executionTimeout() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Sleepy.self) { _, _ in
            try await Task.sleep(for: .seconds(3600))
            return .init(label: "never")
          }
        } _: { _ in
          var options = TaskOptions()
          options.executionTimeout = .milliseconds(200)
          options.maxAttempts = 1
          let task = try await client.submit(
            Sleepy.self,
            input: .init(label: "t"),
            options: options
          )
          do {
            _ = try await client.result(of: task)
            Issue.record("expected a TaskFailure")
          } catch let failure as TaskFailure {
            #expect(failure.state == .failed)
            #expect(failure.message.contains("timeout"))
          }
        }
      }
    }
  }

  @Test("Heartbeats keep a lease alive while a handler runs past its lease duration")
  func heartbeatsKeepTheLease() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Sleepy.self) { input, context in
            // The first attempt outlives its 1 s lease 3.5 times over (the sweeper runs every
            // second); without heartbeats the lease expires and attempt 2 answers instead.
            if context.attempt == 1 { try await Task.sleep(for: .milliseconds(3_500)) }
            return .init(label: "\(input.label)-attempt-\(context.attempt)")
          }
        } _: { _ in
          var options = TaskOptions()
          options.leaseDuration = .seconds(1)
          options.retryPolicy = .fixed(.milliseconds(10))
          // Two tasks, so the timer loop keeps two entries with their own heartbeats.
          let tasks = try await ["a", "b"].asyncMap {
            try await client.submit(Sleepy.self, input: .init(label: $0), options: options)
          }
          for (task, label) in zip(tasks, ["a", "b"]) {
            #expect(try await client.result(of: task) == .init(label: "\(label)-attempt-1"))
            let snapshot = try await client.get(task.id)
            #expect(snapshot.attempt == 1)
            #expect(snapshot.attempts.map(\.outcome) == ["succeeded"])
          }
        }
      }
    }
  }

  @Test("A worker that dies mid-task: after the lease expires another worker runs it")
  func workerDiesMidTask() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      let started = Latch()
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        var options = TaskOptions()
        options.leaseDuration = .seconds(1)
        options.retryPolicy = .fixed(.milliseconds(10))
        let task = try await client.submit(Sleepy.self, input: .init(label: "d"), options: options)

        // The first worker takes the task and dies: its run is cancelled (no release, no
        // fail, its connection closes), like a killed process.
        let doomed = try TaskwireWorker(configuration: .init(connection: workerConfiguration))
        doomed.register(Sleepy.self) { _, _ in
          started.open()
          try await Task.sleep(for: .seconds(3600))
          return .init(label: "doomed")
        }
        await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask { try await doomed.run() }
          await started.wait()
          group.cancelAll()
          try? await group.waitForAll()
        }

        try await withWorker(.init(connection: workerConfiguration)) { worker in
          worker.register(Sleepy.self) { input, context in
            .init(label: "\(input.label)-attempt-\(context.attempt)")
          }
        } _: { _ in
          #expect(try await client.result(of: task) == .init(label: "d-attempt-2"))
          let snapshot = try await client.get(task.id)
          #expect(snapshot.attempt == 2)
          #expect(snapshot.attempts.first?.outcome == "lease_expired")
        }
      }
    }
  }

  @Test("Graceful shutdown stops leasing and lets running handlers finish")
  func gracefulShutdownDrains() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      let running = Counter()
      let proceed = Latch()
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        let first = try await client.submit(Sleepy.self, input: .init(label: "a"))
        let second = try await client.submit(Sleepy.self, input: .init(label: "b"))
        let worker = try TaskwireWorker(configuration: .init(connection: workerConfiguration))
        worker.register(Sleepy.self) { input, _ in
          running.increment()
          await proceed.wait()
          return .init(label: input.label)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask { try await worker.run() }
          await running.wait(for: 2)
          worker.beginGracefulShutdown()
          // Submitted after the stop: must stay pending.
          let late = try await client.submit(Sleepy.self, input: .init(label: "late"))
          proceed.open()
          try await group.waitForAll()
          #expect(try await client.get(first.id).state == .succeeded)
          #expect(try await client.get(second.id).state == .succeeded)
          #expect(try await client.get(late.id).state == .pending)
        }
      }
    }
  }

  @Test("Graceful shutdown past its timeout cancels handlers and releases their leases")
  func gracefulShutdownReleases() async throws {
    try await withTestServer { server in
      let clientConfiguration = try await server.clientConfiguration(role: .client)
      let workerConfiguration = try await server.clientConfiguration(role: .worker)
      let started = Latch()
      try await withTaskwireClient(configuration: clientConfiguration) { client in
        let task = try await client.submit(Sleepy.self, input: .init(label: "r"))
        var configuration = TaskwireWorker.Configuration(connection: workerConfiguration)
        configuration.shutdownTimeout = .milliseconds(100)
        let worker = try TaskwireWorker(configuration: configuration)
        worker.register(Sleepy.self) { _, _ in
          started.open()
          try await Task.sleep(for: .seconds(3600))
          return .init(label: "never")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask { try await worker.run() }
          await started.wait()
          worker.beginGracefulShutdown()
          try await group.waitForAll()
        }
        let snapshot = try await client.get(task.id)
        #expect(snapshot.state == .pending)
        #expect(snapshot.attempts.last?.outcome == "released")
      }
    }
  }
}

extension Sequence where Element: Sendable {
  func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
    var results: [T] = []
    for element in self { results.append(try await transform(element)) }
    return results
  }
}
