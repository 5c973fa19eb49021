import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One run of `/bin/sh -c COMMAND`: the payload on stdin, stdout collected as the result, stderr
/// read line by line (progress lines reported, the rest passed through).
///
/// The child runs in its own process group, with SIGINT, SIGTERM and SIGPIPE back at their
/// defaults, so a cancel can signal the whole group: SIGTERM, then SIGKILL after a grace
/// period. All blocking I/O (`poll`, `read`, `write`, `waitpid`) runs on one dedicated thread
/// per run, never on the Swift concurrency pool.
struct ShellCommand: Sendable {
  /// How a run ended.
  struct Outcome: Sendable, Equatable {
    /// The exit status, or `nil` when a signal ended it.
    var exitCode: Int32?
    /// The signal that ended it, if any.
    var signal: Int32?
    /// Everything it wrote to stdout (up to ``ShellCommand/maxOutputBytes``).
    var stdout: Data
    /// Whether stdout went past ``ShellCommand/maxOutputBytes`` (the rest was dropped).
    var stdoutTruncated: Bool
    /// Its last stderr lines that were not progress reports, for a failure message.
    var stderrTail: [String]
    /// Whether the run was ended by ``run(...)``'s cancellation.
    var cancelled: Bool
  }

  /// The shell command line.
  var command: String
  /// Extra environment variables on top of this process's environment.
  var environment: [String: String]
  /// How long a cancelled command gets between SIGTERM and SIGKILL.
  var gracePeriod: Duration = .seconds(5)
  /// Stdout kept at most.
  var maxOutputBytes = 1024 * 1024
  /// Stderr lines kept for the failure message.
  var stderrTailLines = 10

  /// Runs the command to its end. Cancelling the calling task terminates it (SIGTERM to its
  /// process group, then SIGKILL after ``gracePeriod``) and still waits for it to exit.
  ///
  /// - Parameters:
  ///   - stdin: written to the command's stdin, which is then closed.
  ///   - onStderrLine: called on the I/O thread for every stderr line (without the newline).
  func run(
    stdin: Data,
    onStderrLine: @escaping @Sendable (String) -> Void
  ) async throws -> Outcome {
    let control = Control()
    let spawned = try self.spawn()
    control.setProcess(spawned.pid)
    return await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
        let thread = Thread {
          let outcome = self.drive(
            spawned,
            stdin: stdin,
            control: control,
            onStderrLine: onStderrLine
          )
          continuation.resume(returning: outcome)
        }
        thread.name = "taskwire-exec-\(spawned.pid)"
        thread.start()
      }
    } onCancel: {
      control.cancel()
    }
  }

  // MARK: - Spawning

  struct Spawned: Sendable {
    var pid: pid_t
    var stdin: Int32
    var stdout: Int32
    var stderr: Int32
    var wake: Int32
    var wakeWrite: Int32
  }

  /// Held from creating a run's pipes to closing the child's ends, so no other run's child
  /// inherits them before they are close-on-exec (which would hide their end of file).
  private static let spawnLock = Mutex(())

  private func spawn() throws -> Spawned {
    try Self.spawnLock.withLock { _ in try self.spawnLocked() }
  }

  private func spawnLocked() throws -> Spawned {
    func pipePair() throws -> (Int32, Int32) {
      var fds: [Int32] = [0, 0]
      guard pipe(&fds) == 0 else {
        throw WorkFailure("cannot create a pipe: \(String(cString: strerror(errno)))")
      }
      for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
      return (fds[0], fds[1])
    }
    let input = try pipePair()
    let output = try pipePair()
    let errors = try pipePair()
    let wake = try pipePair()

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, input.0, 0)
    posix_spawn_file_actions_adddup2(&actions, output.1, 1)
    posix_spawn_file_actions_adddup2(&actions, errors.1, 2)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Own process group (so a cancel reaches the command's children too), default signal
    // dispositions (this process ignores SIGPIPE and handles SIGINT/SIGTERM), empty mask.
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
      &attributes,
      Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
    )

    var environment = ProcessInfo.processInfo.environment
    for (key, value) in self.environment { environment[key] = value }
    var argv: [UnsafeMutablePointer<CChar>?] = []
    for argument in ["/bin/sh", "-c", self.command] { argv.append(strdup(argument)) }
    argv.append(nil)
    var envp: [UnsafeMutablePointer<CChar>?] = []
    for (key, value) in environment { envp.append(strdup("\(key)=\(value)")) }
    envp.append(nil)
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
    // The child's ends belong to the child now.
    close(input.0)
    close(output.1)
    close(errors.1)
    guard status == 0 else {
      for fd in [input.1, output.0, errors.0, wake.0, wake.1] { close(fd) }
      throw WorkFailure("cannot start /bin/sh: \(String(cString: strerror(status)))")
    }
    for fd in [input.1, output.0, errors.0, wake.0] {
      _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }
    return Spawned(
      pid: pid,
      stdin: input.1,
      stdout: output.0,
      stderr: errors.0,
      wake: wake.0,
      wakeWrite: wake.1
    )
  }

  // MARK: - The I/O thread

  /// Feeds stdin, drains stdout and stderr, escalates a cancel, and reaps the child.
  private func drive(
    _ spawned: Spawned,
    stdin: Data,
    control: Control,
    onStderrLine: @Sendable (String) -> Void
  ) -> Outcome {
    control.setWakeDescriptor(spawned.wakeWrite)
    // A command that exits without reading its stdin makes our write fail with EPIPE; with
    // SIGPIPE blocked on this (dedicated) thread it cannot kill the process, whatever the
    // process's own SIGPIPE disposition. The pending signal is consumed after the EPIPE.
    var pipeSignal = sigset_t()
    sigemptyset(&pipeSignal)
    sigaddset(&pipeSignal, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
    var stdinFD: Int32? = spawned.stdin
    var stdoutFD: Int32? = spawned.stdout
    var stderrFD: Int32? = spawned.stderr
    var written = 0
    var output = Data()
    var truncated = false
    var pendingErr = Data()
    var tail: [String] = []
    var killDeadline: ContinuousClock.Instant?
    var killed = false
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
    defer { chunk.deallocate() }

    func line(_ bytes: Data) {
      var text = String(decoding: bytes, as: UTF8.self)
      if text.hasSuffix("\r") { text.removeLast() }
      if ProgressLine(text) == nil {
        tail.append(text)
        if tail.count > self.stderrTailLines { tail.removeFirst() }
      }
      onStderrLine(text)
    }

    func closeStdin() {
      if let fd = stdinFD { close(fd) }
      stdinFD = nil
    }
    if stdin.isEmpty { closeStdin() }

    /// Sends SIGTERM once cancelled, SIGKILL when the grace period has run out.
    func escalate() {
      guard control.isCancelled, !killed else { return }
      let now = ContinuousClock.now
      if killDeadline == nil {
        killDeadline = now.advanced(by: self.gracePeriod)
        kill(-spawned.pid, SIGTERM)
      } else if let deadline = killDeadline, now >= deadline {
        kill(-spawned.pid, SIGKILL)
        killed = true
      }
    }

    while stdoutFD != nil || stderrFD != nil {
      escalate()
      var fds: [pollfd] = [pollfd(fd: spawned.wake, events: Int16(POLLIN), revents: 0)]
      if let fd = stdoutFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
      if let fd = stderrFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
      if let fd = stdinFD { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
      var timeout: Int32 = -1
      if let deadline = killDeadline, !killed {
        let left = ContinuousClock.now.duration(to: deadline)
        timeout = Int32(max(0, min(Int64(Int32.max), left.milliseconds + 1)))
      }
      let ready = poll(&fds, nfds_t(fds.count), timeout)
      if ready < 0 {
        if errno == EINTR { continue }
        break
      }
      for entry in fds where entry.revents != 0 {
        if entry.fd == spawned.wake {
          _ = read(spawned.wake, chunk.baseAddress, chunk.count)
        } else if entry.fd == stdinFD {
          let sent = stdin.withUnsafeBytes { bytes in
            write(entry.fd, bytes.baseAddress! + written, bytes.count - written)
          }
          if sent > 0 {
            written += sent
            if written == stdin.count { closeStdin() }
          } else if sent < 0, errno != EAGAIN, errno != EINTR {
            if errno == EPIPE {
              // Consume the SIGPIPE left pending on this thread (sigwait returns at once).
              var pending = sigset_t()
              sigpending(&pending)
              if sigismember(&pending, SIGPIPE) == 1 {
                var received: Int32 = 0
                sigwait(&pipeSignal, &received)
              }
            }
            closeStdin()  // The command does not read its stdin: fine.
          }
        } else {
          let count = read(entry.fd, chunk.baseAddress, chunk.count)
          if count < 0, errno == EAGAIN || errno == EINTR { continue }
          if count <= 0 {
            close(entry.fd)
            if entry.fd == stdoutFD { stdoutFD = nil } else { stderrFD = nil }
            continue
          }
          let bytes = Data(bytes: chunk.baseAddress!, count: count)
          if entry.fd == stdoutFD {
            let room = self.maxOutputBytes - output.count
            if room >= count {
              output.append(bytes)
            } else {
              output.append(bytes.prefix(max(0, room)))
              truncated = true
            }
          } else {
            pendingErr.append(bytes)
            while let newline = pendingErr.firstIndex(of: UInt8(ascii: "\n")) {
              line(pendingErr[pendingErr.startIndex..<newline])
              pendingErr = Data(pendingErr[pendingErr.index(after: newline)...])
            }
            if pendingErr.count > 65536 {  // A very long line: report what we have.
              line(pendingErr)
              pendingErr = Data()
            }
          }
        }
      }
    }
    if !pendingErr.isEmpty { line(pendingErr) }
    closeStdin()

    // Reap. A child that closed its pipes may still run: check every 100 ms (or at once when a
    // cancel wakes us) so a cancel still reaches it, with SIGKILL after the grace period.
    var status: Int32 = 0
    while true {
      let result = waitpid(spawned.pid, &status, killed ? 0 : WNOHANG)
      if result == spawned.pid { break }
      if result < 0, errno != EINTR { break }
      if result == 0 {
        escalate()
        if killed { continue }
        var wakeFD = [pollfd(fd: spawned.wake, events: Int16(POLLIN), revents: 0)]
        var timeout: Int64 = 100
        if let deadline = killDeadline {
          timeout = min(timeout, ContinuousClock.now.duration(to: deadline).milliseconds + 1)
        }
        if poll(&wakeFD, 1, Int32(max(1, timeout))) > 0 {
          _ = read(spawned.wake, chunk.baseAddress, chunk.count)
        }
      }
    }
    control.setWakeDescriptor(nil)
    close(spawned.wake)
    close(spawned.wakeWrite)

    let exited = (status & 0x7f) == 0
    return Outcome(
      exitCode: exited ? (status >> 8) & 0xff : nil,
      signal: exited ? nil : status & 0x7f,
      stdout: output,
      stdoutTruncated: truncated,
      stderrTail: tail,
      cancelled: control.isCancelled
    )
  }

  /// State shared between the async caller (cancel) and the I/O thread.
  final class Control: Sendable {
    private struct State {
      var pid: pid_t = 0
      var cancelled = false
      var wakeWrite: Int32?
    }
    private let state = Mutex(State())

    var isCancelled: Bool { self.state.withLock { $0.cancelled } }

    func setProcess(_ pid: pid_t) { self.state.withLock { $0.pid = pid } }

    func setWakeDescriptor(_ fd: Int32?) {
      let cancelledAlready = self.state.withLock { state in
        state.wakeWrite = fd
        return state.cancelled
      }
      if cancelledAlready, let fd { self.poke(fd) }
    }

    /// Marks the run cancelled and wakes the I/O thread, which sends the signals.
    func cancel() {
      let fd = self.state.withLock { state -> Int32? in
        state.cancelled = true
        return state.wakeWrite
      }
      if let fd { self.poke(fd) }
    }

    private func poke(_ fd: Int32) {
      var byte: UInt8 = 1
      _ = write(fd, &byte, 1)
    }
  }
}
