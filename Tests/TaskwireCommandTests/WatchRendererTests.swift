import Foundation
import Taskwire
import Testing

@testable import taskwire

@Suite("watch on a terminal: progress bars drawn by WatchRenderer")
struct WatchRendererTests {
  private func event(
    _ id: String,
    _ kind: TaskEvent.Kind,
    _ state: TaskState,
    progress: Int32 = 0,
    message: String = "",
    error: String = "",
    sequence: UInt64 = 1
  ) -> WatchRenderer.Update {
    _ = sequence
    return WatchRenderer.Update(
      taskID: id,
      type: "resize",
      kind: kind,
      state: state,
      attempt: 1,
      progress: Int(progress),
      message: message,
      error: error
    )
  }

  @Test("A progress event fills the bar and shows the message, within the width")
  func progressBar() {
    var renderer = WatchRenderer(colour: false)
    renderer.apply(self.event("T1", .created, .pending))
    renderer.apply(self.event("T1", .stateChanged, .running))
    renderer.apply(self.event("T1", .progress, .running, progress: 40, message: "resizing"))
    let lines = renderer.lines(width: 100)
    #expect(lines.count == 1)
    let line = lines[0]
    #expect(line.hasPrefix("T1 "))
    #expect(line.contains("resize"))
    #expect(line.contains(" 40% RUNNING"))
    #expect(line.hasSuffix("resizing"))
    #expect(line.count <= 100)
    // 40 % of the bar is filled.
    let bar = line[line.firstIndex(of: "[")!...line.firstIndex(of: "]")!].dropFirst().dropLast()
    #expect(bar.filter { $0 == "#" }.count == bar.count * 40 / 100)
  }

  @Test("Narrow terminals cut the line; it never wraps", arguments: [20, 40, 60, 80])
  func narrow(width: Int) {
    var renderer = WatchRenderer(colour: false)
    renderer.apply(
      self.event("01M86DBXP43M3Q9VETTNPS6VAA", .progress, .running, progress: 99, message: "x")
    )
    #expect(renderer.lines(width: width).allSatisfy { $0.count <= max(width, 20) })
  }

  @Test("Finished tasks show their end; a failure shows its error; colour wraps the state")
  func finished() {
    var renderer = WatchRenderer(colour: true)
    renderer.apply(self.event("T1", .progress, .running, progress: 60, message: "half"))
    renderer.apply(self.event("T1", .finished, .succeeded))
    renderer.apply(self.event("T2", .finished, .failed, error: "exit code 3: boom"))
    let lines = renderer.lines(width: 120)
    #expect(lines[0].contains("100% \u{1B}[32mSUCCEEDED\u{1B}[0m"))
    #expect(lines[1].contains("\u{1B}[31mFAILED\u{1B}[0m"))
    #expect(lines[1].hasSuffix("exit code 3: boom"))
    #expect(renderer.allFinished)
  }

  @Test("Each frame moves back over the previous one and clears what it leaves")
  func frames() {
    var renderer = WatchRenderer(colour: false)
    renderer.apply(self.event("T1", .progress, .running, progress: 10))
    let first = renderer.frame(width: 80)
    #expect(!first.contains("\u{1B}[1F"))
    #expect(first.hasSuffix("\u{1B}[K\n"))
    renderer.apply(self.event("T2", .created, .pending))
    let second = renderer.frame(width: 80)
    #expect(second.hasPrefix("\u{1B}[1F"))
    #expect(second.components(separatedBy: "\n").count == 3)
    renderer.apply(self.event("T2", .progress, .running, progress: 50))
    #expect(renderer.frame(width: 80).hasPrefix("\u{1B}[2F"))
  }

  @Test("Past maxRows the newest rows show and running ones are kept")
  func maxRows() {
    var renderer = WatchRenderer(maxRows: 2, colour: false)
    renderer.apply(self.event("A", .progress, .running, progress: 1))
    renderer.apply(self.event("B", .finished, .succeeded))
    renderer.apply(self.event("C", .finished, .succeeded))
    #expect(renderer.visibleRows.map(\.id) == ["A", "C"])
  }
}
