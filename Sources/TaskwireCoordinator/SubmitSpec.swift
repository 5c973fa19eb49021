public import Foundation
public import TaskwireCore

/// A task as a caller submits it; zero values mean "the default for the queue and type".
public struct SubmitSpec: Sendable {
  public var queue: String = ""
  public var type: String = ""
  public var payload: Data = Data()
  public var contentType: String = ""
  public var priority: Int32 = 0
  /// Unix ms; 0 = now (or after `delayMs`).
  public var runAtMs: Int64 = 0
  public var delayMs: Int64 = 0
  public var idempotencyKey: String = ""
  /// 0 = default.
  public var maxAttempts: Int32 = 0
  /// `nil` = default.
  public var retryPolicy: RetryPolicy? = nil
  /// 0 = default.
  public var leaseDurationMs: Int64 = 0
  /// 0 = default (none unless configured).
  public var executionTimeoutMs: Int64 = 0
  public var metadata: [String: String] = [:]
  public var parentID: String = ""
  public var cleanOnSuccess: Bool = false

  public init() {}
}

/// What a worker says about itself, for the worker registry.
public struct WorkerIdentity: Sendable, Hashable {
  public var id: String
  public var name: String
  public var address: String

  public init(id: String, name: String, address: String) {
    self.id = id
    self.name = name
    self.address = address
  }
}

/// The authenticated peer: which token, under what name, with which role.
public struct Principal: Sendable, Hashable {
  public enum Role: Sendable, Hashable { case client, worker, admin }
  public var tokenID: String
  public var tokenName: String
  public var role: Role

  public init(tokenID: String, tokenName: String, role: Role) {
    self.tokenID = tokenID
    self.tokenName = tokenName
    self.role = role
  }
}
