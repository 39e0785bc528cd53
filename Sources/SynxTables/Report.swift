import Foundation

/// Output formats of every command-line report.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, csv
}

/// A report as rows of columns, rendered as an aligned table or as CSV: the one table renderer of the
/// command-line clients (synxctl, synx-analyze), kept here so they share it without linking anything else.
public struct Report {
    public var title: String?
    public var columns: [String]
    public var rows: [[String]]

    public init(title: String?, columns: [String], rows: [[String]]) {
        self.title = title; self.columns = columns; self.rows = rows
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .csv:
            return ([columns.map { $0.lowercased() }] + rows).map { $0.map(Report.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
        case .table, .json:
            var widths = columns.map(\.count)
            for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ")
            }
            var out = title.map { "\($0)\n" } ?? ""
            out += ([line(columns)] + rows.map(line)).joined(separator: "\n") + "\n"
            return out
        }
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { ",\"\n".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// A duration for people: `3 y 12 d`, `1 h 0 min`, `5 s`, `800 ms`.
public func describeDuration(_ ms: Int64) -> String {
    let s = ms / 1000
    switch s {
    case 0: return "\(ms) ms"
    case ..<60: return "\(s) s"
    case ..<3600: return "\(s / 60) min \(s % 60) s"
    case ..<86_400: return "\(s / 3600) h \(s % 3600 / 60) min"
    case ..<(365 * 86_400): return "\(s / 86_400) d \(s % 86_400 / 3600) h"
    default: return "\(s / (365 * 86_400)) y \(s % (365 * 86_400) / 86_400) d"
    }
}
