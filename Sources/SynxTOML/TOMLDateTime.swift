/// A TOML date-time value (TOML §Offset Date-Time, §Local Date-Time, §Local Date, §Local Time; RFC 3339):
/// a date, a time, or both, and an offset only when both are there.
struct TOMLDateTime: Equatable {
    /// A calendar date, year 0000–9999.
    struct LocalDate: Equatable {
        var year: Int, month: Int, day: Int
    }

    /// A time of day; `second` may be 60 (a leap second); fractions beyond nanoseconds are truncated.
    struct LocalTime: Equatable {
        var hour: Int, minute: Int, second: Int, nanosecond: Int
    }

    var date: LocalDate?
    var time: LocalTime?
    /// Minutes east of UTC (`Z` is 0); nil for a local date-time.
    var offsetMinutes: Int?
}

/// Reading date-times: `1979-05-27T07:32:00Z`, `1979-05-27 07:32:00.999-07:00`, `1979-05-27T07:32:00`,
/// `1979-05-27`, `07:32:00`.
extension TOMLParser {
    /// Whether a date (`dddd-`) or a time (`dd:`) starts at the reading position.
    func startsDateOrTime() -> Bool {
        startsTime(at: 0)
            || (isDigit(at: 0) && isDigit(at: 1) && isDigit(at: 2) && isDigit(at: 3) && peek(4) == UInt8(ascii: "-"))
    }

    func parseDateTime() throws -> TOMLDateTime {
        let start = pos
        if peek(2) == UInt8(ascii: ":") { return TOMLDateTime(time: try parseTime(at: start)) }
        let year = try digits(4, at: start)
        try expect(UInt8(ascii: "-"), at: start)
        let month = try digits(2, at: start)
        try expect(UInt8(ascii: "-"), at: start)
        let day = try digits(2, at: start)
        guard (1...12).contains(month), (1...Self.days(inMonth: month, of: year)).contains(day) else {
            throw failure(
                "\(String(decoding: bytes[start..<pos], as: UTF8.self)) is not a date of the calendar", at: start)
        }
        let date = TOMLDateTime.LocalDate(year: year, month: month, day: day)
        // The time follows a 'T' (or 't'), or a space when a time really comes after it.
        if peek() == UInt8(ascii: "T") || peek() == UInt8(ascii: "t") {
            pos += 1
        } else if peek() == UInt8(ascii: " ") && startsTime(at: 1) {
            pos += 1
        } else {
            return TOMLDateTime(date: date)
        }
        let time = try parseTime(at: start)
        var offset: Int?
        switch peek() {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            pos += 1
            offset = 0
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let east = peek() == UInt8(ascii: "+")
            pos += 1
            let hours = try digits(2, at: start)
            try expect(UInt8(ascii: ":"), at: start)
            let minutes = try digits(2, at: start)
            guard hours <= 23, minutes <= 59 else {
                throw failure(
                    "the offset \(String(decoding: bytes[(pos - 6)..<pos], as: UTF8.self)) is out of range", at: start)
            }
            offset = (hours * 60 + minutes) * (east ? 1 : -1)
        default:
            break
        }
        return TOMLDateTime(date: date, time: time, offsetMinutes: offset)
    }

    /// Whether `hh:` starts `offset` bytes ahead.
    private func startsTime(at offset: Int) -> Bool {
        isDigit(at: offset) && isDigit(at: offset + 1) && peek(offset + 2) == UInt8(ascii: ":")
    }

    private func isDigit(at offset: Int) -> Bool {
        guard let b = peek(offset) else { return false }
        return b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")
    }

    /// `hh:mm:ss` with an optional fraction (TOML 1.0.0 requires the seconds).
    private func parseTime(at start: Int) throws -> TOMLDateTime.LocalTime {
        let timeStart = pos
        let hour = try digits(2, at: start)
        try expect(UInt8(ascii: ":"), at: start)
        let minute = try digits(2, at: start)
        try expect(UInt8(ascii: ":"), at: start)
        let second = try digits(2, at: start)
        guard hour <= 23, minute <= 59, second <= 60 else {
            throw failure("\(String(decoding: bytes[timeStart..<pos], as: UTF8.self)) is not a time of day", at: start)
        }
        var nanosecond = 0
        if peek() == UInt8(ascii: ".") {
            pos += 1
            var count = 0
            while let b = peek(), b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                if count < 9 { nanosecond = nanosecond * 10 + Int(b - UInt8(ascii: "0")) }
                count += 1
                pos += 1
            }
            guard count > 0 else { throw failure("a digit must follow the decimal point of the seconds", at: start) }
            for _ in count..<max(count, 9) { nanosecond *= 10 }
        }
        return TOMLDateTime.LocalTime(hour: hour, minute: minute, second: second, nanosecond: nanosecond)
    }

    /// Exactly `count` decimal digits.
    private func digits(_ count: Int, at start: Int) throws -> Int {
        var value = 0
        for _ in 0..<count {
            guard let b = peek(), b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else {
                throw failure("malformed date or time: expected a digit, found \(found())", at: start)
            }
            value = value * 10 + Int(b - UInt8(ascii: "0"))
            pos += 1
        }
        return value
    }

    private func expect(_ separator: UInt8, at start: Int) throws {
        guard peek() == separator else {
            throw failure(
                "malformed date or time: expected '\(Character(Unicode.Scalar(separator)))', found \(found())",
                at: start)
        }
        pos += 1
    }

    /// Days of a month of the proleptic Gregorian calendar (RFC 3339 §5.7).
    static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
