/// An API token, stored hashed.
public struct TokenRecord: Sendable, Hashable {
  /// What the token may do.
  public enum Role: Int, Sendable, Hashable, CaseIterable {
    /// Submit, read, watch, cancel, retry, delete.
    case client = 1
    /// Lease, heartbeat, complete, fail, and submit child tasks.
    case worker = 2
    /// Everything.
    case admin = 3
  }

  /// The store-made id.
  public var id: String
  /// The unique (among active tokens) name.
  public var name: String
  /// The role.
  public var role: Role
  /// Lower-case hex SHA-256 of the secret.
  public var hash: String
  /// When it was created, Unix ms.
  public var createdMs: Int64
  /// When it was revoked, Unix ms; 0 while active.
  public var revokedMs: Int64

  /// Creates a record.
  public init(
    id: String,
    name: String,
    role: Role,
    hash: String,
    createdMs: Int64,
    revokedMs: Int64
  ) {
    self.id = id
    self.name = name
    self.role = role
    self.hash = hash
    self.createdMs = createdMs
    self.revokedMs = revokedMs
  }
}
