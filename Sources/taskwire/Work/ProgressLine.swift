import Foundation

/// A stderr line `progress PERCENT [MESSAGE]`: the command's progress report.
struct ProgressLine: Equatable, Sendable {
  var percent: Int
  var message: String

  init(percent: Int, message: String) {
    self.percent = percent
    self.message = message
  }

  /// Parses `progress 40 resizing`; `nil` when the line is not a progress report.
  init?(_ line: String) {
    let trimmed = line.trimmingCharacters(in: .whitespaces)
    guard trimmed.hasPrefix("progress ") || trimmed.hasPrefix("progress\t") else { return nil }
    let rest = trimmed.dropFirst("progress".count).drop(while: { $0 == " " || $0 == "\t" })
    let digits = rest.prefix(while: \.isASCII).prefix(while: \.isNumber)
    guard !digits.isEmpty, digits.count <= 3, let value = Int(digits) else { return nil }
    let after = rest.dropFirst(digits.count)
    // Accept `40`, `40%`, then optional whitespace and message.
    let afterPercent = after.hasPrefix("%") ? after.dropFirst() : after
    guard afterPercent.isEmpty || afterPercent.first == " " || afterPercent.first == "\t" else {
      return nil
    }
    self.percent = min(max(value, 0), 100)
    self.message = afterPercent.trimmingCharacters(in: .whitespaces)
  }
}
