import Foundation

@testable import SynxTOML

/// Compares a parsed value with toml-test's tagged JSON (`{"type": "integer", "value": "42"}` for a value,
/// objects for tables, arrays for arrays) the way toml-test itself does: strings exactly (scalar by scalar),
/// floats as numbers (any NaN equals any NaN), date-times as instants or as their fields.
///
/// The expected date-times are read here with a separate scanner, not with the parser under test.
enum TaggedJSON {
    /// Why `value` differs from `expected`, or nil if it does not.
    static func mismatch(_ value: TOMLValue, _ expected: Any, at path: String) -> String? {
        switch value {
        case .table(let table):
            guard let object = expected as? [String: Any] else {
                return "\(path): a table where \(expected) was expected"
            }
            let keys = Set(table.entries.keys)
            guard keys == Set(object.keys) else {
                return "\(path): keys \(keys.sorted()) where \(object.keys.sorted()) were expected"
            }
            for key in keys.sorted() {
                if let problem = mismatch(table[key]!, object[key]!, at: "\(path).\(key)") { return problem }
            }
            return nil
        case .array(let array):
            guard let items = expected as? [Any], items.count == array.items.count else {
                return "\(path): \(array.items.count) items where \(expected) was expected"
            }
            for (index, item) in array.items.enumerated() {
                if let problem = mismatch(item, items[index], at: "\(path)[\(index)]") { return problem }
            }
            return nil
        default:
            guard let tagged = expected as? [String: Any], let type = tagged["type"] as? String,
                let text = tagged["value"] as? String
            else { return "\(path): \(value) where \(expected) was expected" }
            return scalarMatches(value, type: type, text: text)
                ? nil : "\(path): \(value) where \(type) \(text) was expected"
        }
    }

    private static func scalarMatches(_ value: TOMLValue, type: String, text: String) -> Bool {
        switch value {
        case .string(let s): return type == "string" && Array(s.unicodeScalars) == Array(text.unicodeScalars)
        case .integer(let i): return type == "integer" && Int64(text) == i
        case .boolean(let b): return type == "bool" && text == String(b)
        case .float(let f):
            guard type == "float" else { return false }
            if text.lowercased().hasSuffix("nan") { return f.isNaN }
            return Double(text) == f
        case .dateTime(let d):
            guard let want = ExpectedDateTime(text) else { return false }
            switch (d.date, d.time, d.offsetMinutes) {
            case (let date?, let time?, let offset?):
                return type == "datetime" && want.offsetMinutes != nil
                    && want.instant == ExpectedDateTime(date: date, time: time, offsetMinutes: offset).instant
            case (let date?, let time?, nil):
                return type == "datetime-local" && want == ExpectedDateTime(date: date, time: time, offsetMinutes: nil)
            case (let date?, nil, _):
                return type == "date-local" && want == ExpectedDateTime(date: date, time: nil, offsetMinutes: nil)
            case (nil, let time?, _):
                return type == "time-local" && want == ExpectedDateTime(date: nil, time: time, offsetMinutes: nil)
            case (nil, nil, _):
                return false
            }
        case .array, .table:
            return false
        }
    }
}

/// An RFC 3339 date-time, date or time as toml-test writes them in its JSON.
private struct ExpectedDateTime: Equatable {
    var fields: [Int] = []
    var offsetMinutes: Int?

    init(date: TOMLDateTime.LocalDate?, time: TOMLDateTime.LocalTime?, offsetMinutes: Int?) {
        if let date { fields += [date.year, date.month, date.day] }
        if let time { fields += [time.hour, time.minute, time.second, time.nanosecond] }
        self.offsetMinutes = offsetMinutes
    }

    init?(_ text: String) {
        let scanner = Scanner(string: text)
        scanner.charactersToBeSkipped = nil
        func number(_ digits: Int) -> Int? {
            guard let s = scanner.scanCharacters(from: .decimalDigits), s.count == digits else { return nil }
            return Int(s)
        }
        if text.dropFirst(2).first != ":" {
            guard let y = number(4), scanner.scanString("-") != nil, let m = number(2), scanner.scanString("-") != nil,
                let d = number(2)
            else { return nil }
            fields = [y, m, d]
            if scanner.isAtEnd { return }
            guard scanner.scanCharacter().map({ "Tt ".contains($0) }) == true else { return nil }
        }
        guard let h = number(2), scanner.scanString(":") != nil, let mi = number(2), scanner.scanString(":") != nil,
            let s = number(2)
        else { return nil }
        var nanosecond = 0
        if scanner.scanString(".") != nil {
            guard let f = scanner.scanCharacters(from: .decimalDigits) else { return nil }
            nanosecond = Int((f + String(repeating: "0", count: 9)).prefix(9))!
        }
        fields += [h, mi, s, nanosecond]
        if scanner.isAtEnd { return }
        switch scanner.scanCharacter() {
        case "Z", "z":
            offsetMinutes = 0
        case let sign where sign == "+" || sign == "-":
            guard let oh = number(2), scanner.scanString(":") != nil, let om = number(2) else { return nil }
            offsetMinutes = (sign == "-" ? -1 : 1) * (oh * 60 + om)
        default:
            return nil
        }
        guard scanner.isAtEnd else { return nil }
    }

    /// Seconds and nanoseconds since 1970-01-01T00:00:00Z, for a date-time with an offset.
    var instant: [Int] {
        guard fields.count == 7, let offsetMinutes else { return [] }
        let (y, m, d) = (fields[0] - (fields[1] <= 2 ? 1 : 0), fields[1], fields[2])
        // Days from civil (H. Hinnant's algorithm).
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468
        return [days * 86400 + fields[3] * 3600 + fields[4] * 60 + fields[5] - offsetMinutes * 60, fields[6]]
    }
}
