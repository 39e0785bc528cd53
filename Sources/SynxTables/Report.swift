import Foundation

/// Output formats of every command-line report.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, csv
}

/// A report as rows of columns, rendered as an aligned table or as CSV: the one table renderer of the
/// command-line clients (synxctl, synx-analyze), in a module of its own so they share it without linking
/// anything else (and the protocol module holds only what crosses the socket).
public struct Report {
    /// A line above the table (not in CSV).
    public var title: String?
    /// Column headings (lower-cased in CSV).
    public var columns: [String]
    /// The cells, one array per row, as many as there are columns.
    public var rows: [[String]]

    /// A report of `rows` under `columns`.
    public init(title: String?, columns: [String], rows: [[String]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }

    /// The report as an aligned table (`table`; `json` is rendered by the callers, which encode the payload itself)
    /// or as CSV (RFC 4180 quoting).
    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .csv:
            return ([columns.map { $0.lowercased() }] + rows).map { $0.map(Report.csvField).joined(separator: ",") }
                .joined(separator: "\n") + "\n"
        case .table, .json:
            var widths = columns.map(\.count)
            for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
            func line(_ cells: [String]) -> String {
                var text = cells.enumerated().map { i, c in
                    i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }
                .joined(separator: "  ")
                while text.last == " " { text.removeLast() }  // an empty last cell leaves no trailing blanks
                return text
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
