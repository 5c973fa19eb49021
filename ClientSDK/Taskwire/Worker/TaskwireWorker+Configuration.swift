extension TaskwireWorker {
  /// Where a worker connects, what it leases and how it stops.
  public struct Configuration: Sendable {
    /// Endpoints, TLS, token (a `worker` or `admin` token), timeouts and reconnect backoff.
    public var connection: TaskwireClient.Configuration
    /// The queues to lease from. Default `["default"]`.
    public var queues: [String]
    /// Handlers running at once; the worker leases as many tasks as it has free slots.
    /// Default 10.
    public var maxConcurrentTasks = 10
    /// How long one lease long poll waits for work (at most 60 s). Default 30 s.
    public var pollWait: Duration = .seconds(30)
    /// On graceful shutdown, how long running handlers may take to finish before they are
    /// cancelled and their leases released (no attempt used). Default 30 s.
    public var shutdownTimeout: Duration = .seconds(30)

    /// A worker configuration leasing from `queues`.
    public init(connection: TaskwireClient.Configuration, queues: [String] = ["default"]) {
      self.connection = connection
      self.queues = queues
    }
  }
}
