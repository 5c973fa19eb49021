public import Foundation
import TaskwireProto

extension TaskwireClient {
  /// A batch item: a task type, its payload and options.
  public struct BatchItem: Sendable {
    /// The task type.
    public var type: String
    /// The payload bytes.
    public var payload: Data
    /// The payload's content type (opaque to the server).
    public var contentType: String
    /// How it runs.
    public var options: TaskOptions

    /// An item with raw bytes.
    public init(
      type: String,
      payload: Data,
      contentType: String = "",
      options: TaskOptions = TaskOptions()
    ) {
      self.type = type
      self.payload = payload
      self.contentType = contentType
      self.options = options
    }

    /// An item encoding `input` as JSON for `definition`.
    public init<Definition: TaskDefinition>(
      _ definition: Definition.Type,
      input: Definition.Input,
      options: TaskOptions? = nil
    ) throws {
      self.init(
        type: Definition.name,
        payload: try TaskCoding.encode(input, what: "input of \(Definition.name)"),
        contentType: TaskCoding.contentType,
        options: options ?? Definition.defaultOptions
      )
    }
  }

  /// The outcome of one submit.
  public struct Submission: Sendable, Hashable {
    /// The task (without payload).
    public var task: TaskSnapshot
    /// Whether the idempotency key matched an existing task.
    public var existing: Bool
  }

  /// Submits a task with a raw payload.
  ///
  /// With an ``TaskOptions/idempotencyKey`` the submit is idempotent and retried automatically
  /// on UNAVAILABLE; without one a dropped connection leaves it unknown whether it was stored.
  ///
  /// - Throws: ``TaskwireError``: `invalidArgument` (bad options), `resourceExhausted`
  ///   (`max_payload`, `max_pending`), `conflict` (the key was used with a different request).
  public func submit(
    type: String,
    payload: Data,
    contentType: String = "",
    options: TaskOptions = TaskOptions()
  ) async throws -> Submission {
    let response = try await self.submitCall(
      type: type,
      payload: payload,
      contentType: contentType,
      options: options,
      brief: false
    )
    return Submission(task: TaskSnapshot(response.task), existing: response.existing)
  }

  /// One submit call (``submit(type:payload:contentType:options:)``, ``enqueue(type:payload:contentType:options:)``).
  func submitCall(
    type: String,
    payload: Data,
    contentType: String,
    options: TaskOptions,
    brief: Bool
  ) async throws -> Taskwire_V1_SubmitResponse {
    var request = Taskwire_V1_SubmitRequest()
    request.task = options.spec(type: type, payload: payload, contentType: contentType)
    request.brief = brief
    let answer = try await self.call(
      .submitRequest(request),
      idempotent: options.idempotencyKey != nil
    )
    guard case .submitResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "submit_response")
    }
    return response
  }

  /// Submits a typed task: `input` travels as JSON (`application/json`).
  ///
  /// `options` replaces `Definition.defaultOptions` when given.
  public func submit<Definition: TaskDefinition>(
    _ definition: Definition.Type,
    input: Definition.Input,
    options: TaskOptions? = nil
  ) async throws -> SubmittedTask<Definition> {
    let submission = try await self.submit(
      type: Definition.name,
      payload: try TaskCoding.encode(input, what: "input of \(Definition.name)"),
      contentType: TaskCoding.contentType,
      options: options ?? Definition.defaultOptions
    )
    return SubmittedTask(
      id: submission.task.id,
      snapshot: submission.task,
      existing: submission.existing
    )
  }

  /// Submits many tasks atomically: all are stored or none is. The answers are in item order.
  ///
  /// Retried automatically on UNAVAILABLE only when every item has an idempotency key.
  public func submitBatch(_ items: [BatchItem]) async throws -> [Submission] {
    try await self.submitBatchCall(items, brief: false).map { result in
      Submission(task: TaskSnapshot(result.task), existing: result.existing)
    }
  }

  /// One batch call (``submitBatch(_:)``, ``enqueueBatch(_:)``): its results, in item order;
  /// throws the first item's error if any was refused.
  func submitBatchCall(_ items: [BatchItem], brief: Bool) async throws
    -> [Taskwire_V1_SubmitResult]
  {
    var request = Taskwire_V1_SubmitBatchRequest()
    request.tasks = items.map {
      $0.options.spec(type: $0.type, payload: $0.payload, contentType: $0.contentType)
    }
    request.brief = brief
    let idempotent = !items.isEmpty && items.allSatisfy { $0.options.idempotencyKey != nil }
    let answer = try await self.call(.submitBatchRequest(request), idempotent: idempotent)
    guard case .submitBatchResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "submit_batch_response")
    }
    for result in response.results where result.hasStatus && result.status.code != .ok {
      throw TaskwireError(result.status)
    }
    return response.results
  }

  /// The complete task, with payload, result and history. Idempotent: retried on UNAVAILABLE.
  ///
  /// - Throws: ``TaskwireError`` `notFound`.
  public func get(_ id: TaskID) async throws -> TaskSnapshot {
    var request = Taskwire_V1_GetRequest()
    request.id = id.rawValue
    let answer = try await self.call(.getRequest(request), idempotent: true)
    guard case .getResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "get_response")
    }
    return TaskSnapshot(response.task)
  }

  /// One page of tasks matching `filter`, oldest first, and the cursor of the next page
  /// (`nil` = no more). Idempotent: retried on UNAVAILABLE.
  public func listPage(
    filter: TaskFilter = TaskFilter(),
    pageSize: Int = 100,
    cursor: String? = nil
  ) async throws -> (tasks: [TaskSnapshot], nextCursor: String?) {
    var request = Taskwire_V1_ListRequest()
    request.filter = filter.proto
    request.pageSize = UInt32(clamping: pageSize)
    request.cursor = cursor ?? ""
    let answer = try await self.call(.listRequest(request), idempotent: true)
    guard case .listResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "list_response")
    }
    return (
      response.tasks.map(TaskSnapshot.init),
      response.nextCursor.isEmpty ? nil : response.nextCursor
    )
  }

  /// Every task matching `filter`, oldest first, fetched a page at a time as you iterate.
  public func list(filter: TaskFilter = TaskFilter(), pageSize: Int = 100) -> TaskList {
    TaskList(client: self, filter: filter, pageSize: pageSize)
  }

  /// How many tasks match `filter`. Idempotent: retried on UNAVAILABLE.
  public func count(filter: TaskFilter = TaskFilter()) async throws -> UInt64 {
    var request = Taskwire_V1_CountRequest()
    request.filter = filter.proto
    let answer = try await self.call(.countRequest(request), idempotent: true)
    guard case .countResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "count_response")
    }
    return response.count
  }

  /// Cancels a task: a pending one ends `CANCELLED` at once; a running one gets *cancel
  /// requested*, its worker is told at once, and it ends `CANCELLED` when the worker stops.
  ///
  /// - Throws: ``TaskwireError`` `notFound`, or `failedPrecondition` for a finished task.
  @discardableResult
  public func cancel(_ id: TaskID, reason: String = "") async throws -> TaskSnapshot {
    var request = Taskwire_V1_CancelRequest()
    request.id = id.rawValue
    request.reason = reason
    let answer = try await self.call(.cancelRequest(request), idempotent: false)
    guard case .cancelResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "cancel_response")
    }
    return TaskSnapshot(response.task)
  }

  /// Requeues a `FAILED` or `CANCELLED` task, optionally with its attempt count reset.
  ///
  /// - Throws: ``TaskwireError`` `failedPrecondition` for a task in another state.
  @discardableResult
  public func retry(_ id: TaskID, resetAttempts: Bool = false) async throws -> TaskSnapshot {
    var request = Taskwire_V1_RetryRequest()
    request.id = id.rawValue
    request.resetAttempts = resetAttempts
    let answer = try await self.call(.retryRequest(request), idempotent: false)
    guard case .retryResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "retry_response")
    }
    return TaskSnapshot(response.task)
  }

  /// Deletes a finished task.
  ///
  /// - Throws: ``TaskwireError`` `failedPrecondition` for a task that has not finished.
  public func delete(_ id: TaskID) async throws {
    var request = Taskwire_V1_DeleteRequest()
    request.id = id.rawValue
    let answer = try await self.call(.deleteRequest(request), idempotent: false)
    guard case .deleteResponse = answer else {
      throw unexpectedAnswer(answer, expected: "delete_response")
    }
  }

  /// Whether the server is ready: store reachable and accepting work.
  public func health() async throws -> Bool {
    let answer = try await self.call(.healthRequest(Taskwire_V1_HealthRequest()), idempotent: true)
    guard case .healthResponse(let response) = answer else {
      throw unexpectedAnswer(answer, expected: "health_response")
    }
    return response.ready
  }
}

/// Every task matching a filter, oldest first; pages are fetched as the iteration reaches them.
public struct TaskList: AsyncSequence, Sendable {
  /// One task.
  public typealias Element = TaskSnapshot

  let client: TaskwireClient
  let filter: TaskFilter
  let pageSize: Int

  /// Starts at the first page.
  public func makeAsyncIterator() -> AsyncIterator {
    AsyncIterator(client: self.client, filter: self.filter, pageSize: self.pageSize)
  }

  /// Fetches pages as needed.
  public struct AsyncIterator: AsyncIteratorProtocol {
    let client: TaskwireClient
    let filter: TaskFilter
    let pageSize: Int
    var page: [TaskSnapshot] = []
    var index = 0
    var cursor: String?
    var done = false

    init(client: TaskwireClient, filter: TaskFilter, pageSize: Int) {
      self.client = client
      self.filter = filter
      self.pageSize = pageSize
    }

    /// The next task, fetching the next page when the current one is used up.
    public mutating func next() async throws -> TaskSnapshot? {
      while self.index >= self.page.count {
        if self.done { return nil }
        let (tasks, next) = try await self.client.listPage(
          filter: self.filter,
          pageSize: self.pageSize,
          cursor: self.cursor
        )
        self.page = tasks
        self.index = 0
        self.cursor = next
        self.done = next == nil
      }
      defer { self.index += 1 }
      return self.page[self.index]
    }
  }
}
