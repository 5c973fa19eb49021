/// Carries a NIO error (not always `Sendable`) as a ``TaskwireError/cause`` by its description.
struct SendableCause: Error, Sendable, CustomStringConvertible {
  var description: String

  init(_ error: any Error) {
    self.description = String(describing: error)
  }
}
