/// Ends a long poll early without cancelling the task that runs it: a peer's `cancel_call`, or a
/// shutdown. The poll stops waiting and answers with what it holds; tasks it was granted before
/// the interrupt still go to the caller (the worker must learn it holds them).
public protocol LongPollInterrupt: Sendable {
  /// Whether the interrupt has fired.
  var hasFired: Bool { get }

  /// Runs `handler` once when the interrupt fires, at once when it has fired already. Replaces a
  /// handler registered before that has not run.
  func onFire(_ handler: @escaping @Sendable () -> Void)
}
