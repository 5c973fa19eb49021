import ArgumentParser
import Foundation

extension TaskwireCommand {
  /// Runs the parsed command; every failure becomes one line on stderr and a documented exit
  /// code (docs/cli.md): usage errors exit 2 (not the parser's 64), call errors 3 to 6.
  static func main() async {
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      let (code, line) = self.outcome(for: error)
      if let line { FileHandle.standardError.write(Data(("taskwire: " + line + "\n").utf8)) }
      Foundation.exit(code)
    }
  }

  /// The exit code and the stderr line (`nil`: print the parser's text) for an error.
  static func outcome(for error: any Error) -> (Int32, String?) {
    if let failure = CLIFailure.report(for: error) {
      return (failure.exitCode.rawValue, failure.message)
    }
    let parserCode = self.exitCode(for: error)
    if parserCode == .success {
      // --help, --version: the parser prints them.
      self.exit(withError: error)
    }
    if let exit = error as? ExitCode {
      // A command that reported its own failure already.
      return (exit.rawValue, nil)
    }
    let message = self.message(for: error).oneLine
    if parserCode == .validationFailure {
      return (CLIExitCode.usage.rawValue, message + " (see taskwire help)")
    }
    return (parserCode.rawValue == 1 ? CLIExitCode.usage.rawValue : parserCode.rawValue, message)
  }
}
