import XCTest

@testable import SynxTOML

/// TOML §Offset Date-Time, §Local Date-Time, §Local Date, §Local Time (RFC 3339).
final class DateTimeTests: XCTestCase {
    private func dateTime(_ literal: String, file: StaticString = #filePath, line: UInt = #line) throws -> TOMLDateTime?
    {
        if case .dateTime(let d) = try Parsing.value(literal, file: file, line: line) { return d }
        XCTFail("not a date-time: \(literal)", file: file, line: line)
        return nil
    }

    private let may27 = TOMLDateTime.LocalDate(year: 1979, month: 5, day: 27)

    func testOffsetDateTime_withZOrAnOffset() throws {
        XCTAssertEqual(
            try dateTime("1979-05-27T07:32:00Z"),
            TOMLDateTime(date: may27, time: .init(hour: 7, minute: 32, second: 0, nanosecond: 0), offsetMinutes: 0))
        XCTAssertEqual(try dateTime("1979-05-27T00:32:00.999999-07:30")?.offsetMinutes, -450)
        XCTAssertEqual(try dateTime("1979-05-27T00:32:00+01:00")?.offsetMinutes, 60)
    }

    func testASpaceOrALowerCaseT_mayJoinDateAndTime() throws {
        XCTAssertEqual(try dateTime("1979-05-27 07:32:00"), try dateTime("1979-05-27t07:32:00"))
        XCTAssertEqual(try dateTime("1979-05-27 07:32:00")?.time?.hour, 7)
    }

    func testLocalDate_andLocalTime_standAlone() throws {
        XCTAssertEqual(try dateTime("1979-05-27"), TOMLDateTime(date: may27))
        XCTAssertEqual(
            try dateTime("07:32:00"), TOMLDateTime(time: .init(hour: 7, minute: 32, second: 0, nanosecond: 0)))
    }

    func testFractionalSeconds_areKeptToTheNanosecond_andTruncatedBeyond() throws {
        XCTAssertEqual(try dateTime("00:00:00.5")?.time?.nanosecond, 500_000_000)
        XCTAssertEqual(try dateTime("00:00:00.1234567899")?.time?.nanosecond, 123_456_789)
    }

    func testCalendar_knowsLeapYears() throws {
        XCTAssertNotNil(try dateTime("2000-02-29"))
        XCTAssertNotNil(try dateTime("2024-02-29"))
        XCTAssertNotNil(Parsing.error("v = 1900-02-29"))
        XCTAssertNotNil(Parsing.error("v = 2023-04-31"))
    }

    func testOutOfRangeFields_areErrors() {
        for bad in [
            "2023-13-01", "2023-00-10", "2023-01-00", "24:00:00", "23:60:00", "23:59:61",
            "1979-05-27T07:32:00+24:00", "1979-05-27T07:32:00+01:60",
        ] {
            XCTAssertNotNil(Parsing.error("v = \(bad)"), bad)
        }
    }

    func testMalformedDateTimes_areErrors() {
        for bad in [
            "1979-5-27", "1979-05-27T07:32", "07:32", "1979-05-27T", "1979-05-27T07:32:00.",
            "1979-05-27T07:32:00+01", "10000-01-01", "1979-05-27T07:32:00Zx",
        ] {
            XCTAssertNotNil(Parsing.error("v = \(bad)"), bad)
        }
    }
}
