import Foundation

/// The period of a report: given times, an ISO week, or by default the last complete week, weeks running from
/// Monday 00:00 to Monday 00:00 in the site's time zone (EN 50160 assesses each week).
public enum ReportPeriod {
    /// A period that cannot be understood.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The longest period a report covers: five weeks (the standards assess weeks; a month fits). It bounds a
    /// report's reads, memory and time.
    public static let maximumMs: Int64 = 35 * 86_400_000

    /// [from, to) in UTC ms from times already in ms (a control request's): `week` instead of either, or the last
    /// complete week; `from` alone runs a week, or to `now` if that is sooner.
    public static func resolve(
        fromMs: Int64?, toMs: Int64?, week: String?, timeZone: TimeZone, now: Date
    ) throws -> (Int64, Int64) {
        guard week == nil || (fromMs == nil && toMs == nil) else {
            throw Invalid(description: "give a week or a period (from, to), not both")
        }
        guard fromMs != nil || toMs != nil else { return try resolve(from: nil, to: nil, week: week, timeZone: timeZone, now: now) }
        // Times from a request are anything an Int64 holds: outside years 1970–9999 they are refused before any
        // arithmetic on them (a week added to Int64.max would trap).
        for t in [fromMs, toMs].compactMap({ $0 }) where !timeRangeMs.contains(t) {
            throw Invalid(description: "time \(t) ms is outside 1970–9999")
        }
        let to = toMs ?? min(fromMs! + 7 * 86_400_000, Int64((now.timeIntervalSince1970 * 1000).rounded()))
        let from = fromMs ?? to - 7 * 86_400_000
        return try checked(from, to)
    }

    /// [from, to) in UTC ms: `from`/`to` as ISO 8601 times (both, or `to` defaulting to a week after `from` or to
    /// `now`, whichever is sooner; a date alone is UTC midnight), or `week` as `YYYY-Www`, or the last complete week before `now`; weeks in
    /// `timeZone`. At most `maximumMs` long.
    public static func resolve(
        from: String?, to: String?, week: String?, timeZone: TimeZone, now: Date
    ) throws -> (Int64, Int64) {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        let start: Date
        var end: Date?
        if let week {
            let parts = week.split(separator: "-W")
            guard parts.count == 2, let year = Int(parts[0]), let number = Int(parts[1]), (1...53).contains(number),
                (1970...9999).contains(year),
                let monday = calendar.date(
                    from: DateComponents(weekday: 2, weekOfYear: number, yearForWeekOfYear: year)),
                calendar.component(.weekOfYear, from: monday) == number
            else { throw Invalid(description: "week \"\(week)\" is not an ISO week such as 2026-W47") }
            start = monday
        } else if let from {
            start = try date(from)
            end = try to.map(date)
        } else if let to {
            end = try date(to)
            start = end!.addingTimeInterval(-7 * 86_400)
        } else {
            // The Monday that begins this week, then the week before it.
            let thisWeek = calendar.dateInterval(of: .weekOfYear, for: now)!.start
            start = calendar.date(byAdding: .weekOfYear, value: -1, to: thisWeek)!
        }
        let stop = end ?? (week == nil && from != nil
            ? min(calendar.date(byAdding: .weekOfYear, value: 1, to: start)!, now)
            : calendar.date(byAdding: .weekOfYear, value: 1, to: start)!)
        return try checked(
            Int64((start.timeIntervalSince1970 * 1000).rounded()), Int64((stop.timeIntervalSince1970 * 1000).rounded()))
    }

    /// The times a period may start or end at, UTC ms: 1970-01-01 up to the end of 9999 (ISO 8601's four-digit
    /// years).
    static let timeRangeMs: ClosedRange<Int64> = 0...253_402_300_799_999

    private static func checked(_ from: Int64, _ to: Int64) throws -> (Int64, Int64) {
        guard to > from else { throw Invalid(description: "the period ends before it starts") }
        guard to - from <= maximumMs else {
            throw Invalid(description: "the period is longer than 35 days: report a week or a month at a time")
        }
        return (from, to)
    }

    private static func date(_ s: String) throws -> Date {
        let f = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate],
        ] {
            f.formatOptions = options
            if let d = f.date(from: s), (0..<Double(timeRangeMs.upperBound + 1) / 1000).contains(d.timeIntervalSince1970) {
                return d
            }
        }
        throw Invalid(description: "time \"\(s)\" is not ISO 8601 (2026-11-16T00:00:00Z, or 2026-11-16)")
    }
}
