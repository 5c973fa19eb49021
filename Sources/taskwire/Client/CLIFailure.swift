import Foundation
import Taskwire

/// The exit codes of every client subcommand (docs/cli.md, "Exit codes").
enum CLIExitCode: Int32, CaseIterable, Sendable {
  /// The command did what it was asked.
  case ok = 0
  /// The awaited task ended FAILED or CANCELLED.
  case taskFailed = 1
  /// The command line (or a file it names) is wrong.
  case usage = 2
  /// The server refused the call with a status other than those below.
  case refused = 3
  /// NOT_FOUND.
  case notFound = 4
  /// UNAUTHENTICATED or PERMISSION_DENIED.
  case denied = 5
  /// UNAVAILABLE: the server cannot be reached.
  case unavailable = 6

  /// The exit code for a call that failed with `error`.
  init(for error: TaskwireError) {
    switch error.code {
    case .notFound: self = .notFound
    case .unauthenticated, .permissionDenied: self = .denied
    case .unavailable: self = .unavailable
    default: self = .refused
    }
  }

  /// The table every command's help and docs/cli.md show.
  static let table = """
    Exit codes: 0 ok; 1 the awaited task ended FAILED or CANCELLED; 2 usage error; 3 the server \
    refused the call (the message names the status code); 4 NOT_FOUND; 5 UNAUTHENTICATED or \
    PERMISSION_DENIED; 6 UNAVAILABLE (cannot reach the server).
    """
}

/// A failure the CLI reports as one line on stderr, with its exit code.
struct CLIFailure: Error, Equatable, CustomStringConvertible {
  var exitCode: CLIExitCode
  var message: String

  /// A usage error (exit 2).
  static func usage(_ message: String) -> CLIFailure {
    CLIFailure(exitCode: .usage, message: message)
  }

  var description: String { self.message }

  /// The one line (without `taskwire: `) and the exit code for any error a command throws.
  /// `nil` for errors the argument parser reports itself (help, parse errors).
  static func report(for error: any Error) -> CLIFailure? {
    switch error {
    case let failure as CLIFailure:
      return failure
    case let error as TaskwireError:
      // `CODE: message`; the cause (a TLS or socket error) helps with UNAVAILABLE.
      var line = "\(error.code): \(error.message)"
      if let cause = error.cause { line += " (\(cause))" }
      return CLIFailure(exitCode: CLIExitCode(for: error), message: line.oneLine)
    case let failure as TaskFailure:
      return CLIFailure(exitCode: .taskFailed, message: failure.description.oneLine)
    default:
      return nil
    }
  }
}

extension String {
  /// The text with line breaks replaced by spaces, so an error stays one line.
  var oneLine: String {
    self.split(whereSeparator: \.isNewline).joined(separator: " ")
  }
}
