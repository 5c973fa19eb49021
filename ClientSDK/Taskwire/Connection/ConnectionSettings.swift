import Logging
import NIOCore
import NIOSSL

/// What a connection needs, resolved from ``TaskwireClient/Configuration`` once.
struct ConnectionSettings: Sendable {
  var endpoints: [TaskwireClient.Endpoint]
  var sslContext: NIOSSLContext
  var serverHostnameOverride: String?
  var token: String
  var clientName: String
  var instanceID: String
  var connectTimeout: Duration
  var pingInterval: Duration
  var backoff: TaskwireClient.Configuration.Backoff
  var streamBufferLimit: Int
  var logger: Logger

  init(_ configuration: TaskwireClient.Configuration, logger: Logger) throws {
    guard !configuration.endpoints.isEmpty else {
      throw TaskwireError(code: .invalidArgument, message: "the configuration has no endpoints")
    }
    self.endpoints = configuration.endpoints
    self.sslContext = try configuration.tls.makeContext()
    self.serverHostnameOverride = configuration.tls.serverHostname
    self.token = configuration.token
    self.clientName = configuration.clientName
    self.instanceID = configuration.instanceID
    self.connectTimeout = configuration.timeouts.connect
    self.pingInterval = configuration.timeouts.pingInterval
    self.backoff = configuration.backoff
    self.streamBufferLimit = configuration.watchBufferLimit
    self.logger = logger
  }
}
