// One fuzz input against the report period's parsers. Compiled into the test target (which replays every kept
// input in Tests/Fuzz/report-period) and into the libFuzzer binary that scripts/fuzz builds.
import Foundation

@testable import SynxReports

/// Reads `input` as up to three lines — from, to, week; an empty line is absent — for the command line's
/// resolver, and its first 17 bytes as a control request's from and to (little-endian Int64, the 17th byte's
/// bits saying which are present) for the daemon's. Whatever they hold, each resolver answers a period of at
/// most `ReportPeriod.maximumMs` that ends after it starts, or `Invalid`; never a trap.
func fuzzReportPeriod(_ input: [UInt8]) {
    let zone = TimeZone(identifier: input.count % 2 == 0 ? "Europe/Berlin" : "America/New_York")!
    let now = Date(timeIntervalSince1970: 1_795_000_000)
    func holds(_ period: () throws -> (Int64, Int64)) {
        guard let (from, to) = try? period() else { return }
        precondition(to > from && to - from <= ReportPeriod.maximumMs, "period \(from)…\(to)")
    }
    let lines = String(decoding: input, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        .prefix(3).map { $0.isEmpty ? nil : String($0) }
    let field = { (i: Int) in i < lines.count ? lines[i] : nil }
    holds { try ReportPeriod.resolve(from: field(0), to: field(1), week: field(2), timeZone: zone, now: now) }
    guard input.count >= 17 else { return }
    let number = { (at: Int) in input[at..<at + 8].enumerated().reduce(Int64(0)) { $0 | Int64($1.element) << (8 * $1.offset) } }
    let which = input[16]
    holds {
        try ReportPeriod.resolve(
            fromMs: which & 1 == 0 ? nil : number(0), toMs: which & 2 == 0 ? nil : number(8),
            week: which & 4 == 0 ? nil : field(2), timeZone: zone, now: now)
    }
}
