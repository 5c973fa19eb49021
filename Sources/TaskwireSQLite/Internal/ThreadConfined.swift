/// A value that only one thread ever touches (a connection and its state, owned by the writer or
/// a reader thread). It is created on the caller's thread before that thread starts and handed
/// over once; from then on only the owning thread's job loop reads or writes it, so no two
/// threads access it concurrently. That is what makes the unchecked conformance sound.
final class ThreadConfined<Value>: @unchecked Sendable {
  var value: Value

  init(_ value: Value) {
    self.value = value
  }
}
