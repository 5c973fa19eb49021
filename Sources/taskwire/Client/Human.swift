import Foundation

/// Human formatting shared by the commands.
enum Human {
  static func time(_ date: Date?) -> String {
    guard let date else { return "-" }
    return date.formatted(.iso8601)
  }

  static func bytes(_ data: Data?) -> String {
    guard let data else { return "-" }
    if let text = String(data: data, encoding: .utf8), !text.contains(where: { $0.isNewline }) {
      return text.count > 200 ? String(text.prefix(200)) + "… (\(data.count) bytes)" : text
    }
    return "(\(data.count) bytes)"
  }

  /// Lays out rows under headers, columns padded to their widest cell.
  static func table(_ headers: [String], _ rows: [[String]]) -> String {
    var widths = headers.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() where index < widths.count {
        widths[index] = max(widths[index], cell.count)
      }
    }
    func render(_ cells: [String]) -> String {
      cells.enumerated().map { index, cell in
        index == cells.count - 1
          ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }
    return ([render(headers)] + rows.map(render)).joined(separator: "\n")
  }
}
