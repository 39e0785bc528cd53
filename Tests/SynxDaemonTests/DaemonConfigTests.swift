import SynxControl
import SynxModbus
import SynxReports
import SynxTOML
import XCTest

@testable import SynxDaemon

final class DaemonConfigTests: XCTestCase {
    func testValidTOML_withBracketsAndDotsInValuesAndStrings_isNotTakenForAHeader() throws {
        let text = """
            [daemon]
            profile_directories = [
              "[.not-a-header",
              '''
            [.also not one
            ''',
            ]
            # [.a comment]
            [[bus]]
            name = "b"
            type = "tcp"
            host = "h"
            [[meter]]
            name = "m"
            bus = "b"
            unit = 1
            profile = "synx-sim"

            """
        let config = try DaemonConfig.parse(text: text, file: "t.toml")
        XCTAssertEqual(config.profileDirectories, ["[.not-a-header", "[.also not one\n"])
    }

    static let valid = """
        [daemon]
        state_directory = "/tmp/x"
        socket = "/tmp/x/s.sock"
        profile_directories = []

        [[bus]]
        name = "lan"
        type = "tcp"
        host = "10.0.0.5"

        [[bus]]
        name = "rs485"
        type = "rtu"
        device = "/dev/ttyUSB0"
        baud = 19200
        parity = "E"
        frame_gap_ms = 100

        [[meter]]
        name = "incomer"
        bus = "lan"
        unit = 1
        profile = "eastron-sdm630"

        [[meter]]
        name = "pv"
        bus = "rs485"
        unit = 2
        profile = "sunspec"
        poll_interval_ms = 5000
        """

    private func error(_ text: String) -> ConfigError? {
        do {
            _ = try DaemonConfig.parse(text: text, file: "synxd.toml")
            return nil
        } catch { return error as? ConfigError }
    }

    func testValidConfig_parsesWithDefaults() throws {
        let c = try DaemonConfig.parse(text: Self.valid, file: "synxd.toml")
        XCTAssertEqual(c.buses.map(\.name), ["lan", "rs485"])
        XCTAssertEqual(c.buses[0].link, .tcp(host: "10.0.0.5", port: 502))
        XCTAssertEqual(
            c.buses[1].link,
            .rtu(SerialSettings(device: "/dev/ttyUSB0", baud: 19200, parity: "E", dataBits: 8, stopBits: 1)))
        XCTAssertEqual(c.buses[1].timing, BusTiming(timeoutMilliseconds: 1000, retries: 1, frameGapMilliseconds: 100))
        XCTAssertEqual(c.meters[1].slowPollIntervalMs, 50_000)
        XCTAssertEqual(c.databasePath, "/tmp/x/synx.sqlite")
    }

    func testMaxInFlight_onlyOnATCPGateway_within1to16() throws {
        let meter = "\n[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 1\nprofile = \"synx-sim\"\n"
        let tcp = "[daemon]\nprofile_directories = []\n[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"10.0.0.1\"\n"
        XCTAssertEqual(try DaemonConfig.parse(text: tcp + meter, file: "c.toml").buses[0].maxInFlight, 1)
        XCTAssertEqual(
            try DaemonConfig.parse(text: tcp + "max_in_flight = 4\n" + meter, file: "c.toml").buses[0].maxInFlight, 4)
        XCTAssertThrowsError(try DaemonConfig.parse(text: tcp + "max_in_flight = 17\n" + meter, file: "c.toml")) {
            XCTAssertTrue("\($0)".contains("c.toml:7: bus[1].max_in_flight: 17 is out of range 1…16"), "\($0)")
        }
        let overTCP = tcp.replacingOccurrences(of: "\"tcp\"", with: "\"rtu-over-tcp\"")
        XCTAssertThrowsError(try DaemonConfig.parse(text: overTCP + "max_in_flight = 2\n" + meter, file: "c.toml")) {
            XCTAssertTrue("\($0)".contains("only a Modbus/TCP gateway"), "\($0)")
        }
    }

    /// `flicker_lamp` picks a waveform meter's flickermeter lamp; a register meter has none.
    func testFlickerLamp_onAWaveformMeterOnly_andOneOfTheLamps() throws {
        let bus = "[daemon]\nprofile_directories = []\n[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"10.0.0.1\"\n"
        func meter(_ profile: String, _ extra: String) -> String {
            bus + "[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 1\nprofile = \"\(profile)\"\n" + extra
        }
        XCTAssertEqual(try DaemonConfig.parse(text: meter("waveform", ""), file: "c.toml").meters[0].flickerLamp, .automatic)
        XCTAssertEqual(
            try DaemonConfig.parse(text: meter("waveform", "flicker_lamp = \"120v\"\n"), file: "c.toml").meters[0]
                .flickerLamp, .lamp120V)
        XCTAssertThrowsError(try DaemonConfig.parse(text: meter("waveform", "flicker_lamp = \"100w\"\n"), file: "c.toml")) {
            XCTAssertTrue("\($0)".contains("c.toml:12: meter[1].flicker_lamp"), "\($0)")
            XCTAssertTrue("\($0)".contains("120v"), "the choices are listed: \($0)")
        }
        XCTAssertThrowsError(try DaemonConfig.parse(text: meter("synx-sim", "flicker_lamp = \"off\"\n"), file: "c.toml")) {
            XCTAssertTrue("\($0)".contains("only a waveform meter has a flickermeter"), "\($0)")
        }
    }

    /// The protocol's report names (synxctl, `report`) are the reports' own: the daemon maps one to the other.
    func testReportKinds_areTheReportStandards() {
        XCTAssertEqual(ReportKind.allCases.map(\.rawValue), ReportStandard.allCases.map(\.rawValue))
    }

    /// A meter's supply for its reports, and the site's time zone.
    func testReportSettings_andTimeZone() throws {
        let head = "[daemon]\nprofile_directories = []\ntime_zone = \"Europe/Berlin\"\n[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"h\"\n"
        let meter = "[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 1\nprofile = \"synx-sim\"\n"
        let config = try DaemonConfig.parse(
            text: head + meter
                + "en50160_voltage_level = \"mv\"\nen50160_connection = \"island\"\nisc_a = 20000\nil_a = 400\nmotor_bus = true\n",
            file: "c.toml")
        XCTAssertEqual(config.timeZone.identifier, "Europe/Berlin")
        XCTAssertEqual(config.meters[0].report.voltageLevel, .mv)
        XCTAssertEqual(config.meters[0].report.connection, .island)
        XCTAssertEqual(config.meters[0].report.shortCircuitCurrent, 20000)
        XCTAssertEqual(config.meters[0].report.maximumDemandCurrent, 400)
        XCTAssertTrue(config.meters[0].report.motorBus)
        XCTAssertFalse(try DaemonConfig.parse(text: head + meter, file: "c.toml").meters[0].report.motorBus)
        XCTAssertThrowsError(try DaemonConfig.parse(text: head + meter + "isc_a = 20000\n", file: "c.toml")) {
            XCTAssertTrue("\($0)".contains("give both isc_a and il_a"), "\($0)")
        }
        XCTAssertThrowsError(
            try DaemonConfig.parse(text: head.replacingOccurrences(of: "Europe/Berlin", with: "Mars/Olympus") + meter, file: "c.toml")
        ) {
            XCTAssertTrue("\($0)".contains("c.toml:3: daemon.time_zone"), "\($0)")
        }
    }

    func testMissingBus_namesTheMeterLine() {
        let e = error(Self.valid.replacingOccurrences(of: "bus = \"rs485\"", with: "bus = \"rs232\""))
        XCTAssertEqual(e?.line, 27)
        XCTAssertEqual(e?.key, "meter[2].bus")
        XCTAssertTrue(e?.message.contains("no bus named \"rs232\"") ?? false, "\(String(describing: e))")
    }

    func testDuplicateMeterName_pointsAtTheSecond() {
        let e = error(Self.valid.replacingOccurrences(of: "name = \"pv\"", with: "name = \"incomer\""))
        XCTAssertEqual(e?.line, 26)
        XCTAssertTrue(
            e?.message.contains("duplicate meter name \"incomer\" (first defined at line 20)") ?? false,
            "\(String(describing: e))")
    }

    func testBadBaudRate() {
        let e = error(Self.valid.replacingOccurrences(of: "baud = 19200", with: "baud = 12345"))
        XCTAssertEqual(e?.line, 15)
        XCTAssertTrue(e?.message.contains("not a standard baud rate") ?? false)
    }

    func testUnknownProfile_listsTheAvailableOnes() {
        let e = error(Self.valid.replacingOccurrences(of: "profile = \"sunspec\"", with: "profile = \"abb-b23\""))
        XCTAssertEqual(e?.line, 29)
        XCTAssertTrue(
            e?.message.contains("unknown profile \"abb-b23\" (available: eastron-sdm630, janitza-umg512pro, sunspec, synx-sim, synx-sim-pq)") ?? false,
            "\(String(describing: e))")
    }

    func testMalformedTOML_givesTheLine() {
        let e = error(Self.valid.replacingOccurrences(of: "unit = 2", with: "unit = = 2"))
        XCTAssertEqual(e?.line, 28)
        XCTAssertTrue(e?.message.hasPrefix("malformed TOML") ?? false)
    }

    func testTableHeadersStartingWithADot_areFileLineErrors_notAborts() {
        // toml++ (under TOMLKit, which synx used before its own parser) asserted on these and aborted synxd.
        for tail in ["\n[.", "\n[.a]\n", "\n[[.", "\n[[.a]]\n"] {
            XCTAssertThrowsError(try DaemonConfig.parse(text: Self.valid + tail, file: "t.toml"), tail) { error in
                let e = error as? ConfigError
                XCTAssertEqual(e?.file, "t.toml")
                XCTAssertEqual(
                    e?.line, Self.valid.split(separator: "\n", omittingEmptySubsequences: false).count + 1, tail)
                XCTAssertEqual(
                    e?.message, "malformed TOML: expected a key, found '.' (column \(tail.hasPrefix("\n[[") ? 3 : 2))")
            }
        }
    }

    func testTypoedKey_isRejected() {
        let e = error(Self.valid.replacingOccurrences(of: "frame_gap_ms", with: "frame_gap"))
        XCTAssertEqual(e?.line, 17)
        XCTAssertTrue(e?.message.hasPrefix("unknown key") ?? false)
    }

    func testSameUnitTwiceOnOneBus_isRejected() {
        let e = error(
            Self.valid.replacingOccurrences(of: "bus = \"rs485\"", with: "bus = \"lan\"").replacingOccurrences(
                of: "unit = 2", with: "unit = 1"))
        XCTAssertTrue(e?.message.contains("already meter \"incomer\"") ?? false, "\(String(describing: e))")
    }

    func testSchedule_alignsToTheWallClock() {
        XCTAssertEqual(alignedAfter(12_345, interval: 1000), 13_000)
        XCTAssertEqual(alignedAfter(13_000, interval: 1000), 14_000)
        XCTAssertEqual(alignedAfter(61_000, interval: 60_000), 120_000)
    }

    func testSchedule_withAPhase_fallsThatFarIntoEachInterval() {
        XCTAssertEqual(alignedAfter(12_345, interval: 1000, phase: 476), 12_476)
        XCTAssertEqual(alignedAfter(12_476, interval: 1000, phase: 476), 13_476)  // strictly after
        XCTAssertEqual(alignedAfter(12_500, interval: 1000, phase: 476), 13_476)
        XCTAssertEqual(alignedAfter(100, interval: 1000, phase: 476), 476)
        XCTAssertEqual(alignedAfter(-600, interval: 1000, phase: 476), -524)
        XCTAssertEqual(alignedAfter(61_000, interval: 60_000, phase: 59_999), 119_999)
    }

    func testPollSpread_givesEachMeterAFixedPhase_fromItsName() throws {
        // Without the key every slot is on the whole interval.
        XCTAssertEqual(try DaemonConfig.parse(text: Self.valid, file: "t").meters.map(\.pollPhaseMs), [0, 0])
        let spread = Self.valid.replacingOccurrences(
            of: "profile_directories = []", with: "profile_directories = []\npoll_spread_ms = 250")
        let config = try DaemonConfig.parse(text: spread, file: "t")
        // The 64-bit FNV-1a hash of each name modulo 250, computed independently (a few lines of Python).
        XCTAssertEqual(config.meters.map(\.pollPhaseMs), [138, 53])
        XCTAssertEqual(
            try DaemonConfig.parse(text: spread, file: "t").meters.map(\.pollPhaseMs), [138, 53],
            "the same on every load")
        // A phase is always inside the meter's own interval.
        XCTAssertEqual(DaemonConfig.pollPhase(meter: "incomer", spread: 250, interval: 100), 88)
        XCTAssertEqual(DaemonConfig.pollPhase(meter: "incomer", spread: 0, interval: 1000), 0)
        XCTAssertEqual(error(spread.replacingOccurrences(of: "= 250", with: "= 60001"))?.key, "daemon.poll_spread_ms")
        XCTAssertEqual(error(spread.replacingOccurrences(of: "= 250", with: "= -1"))?.key, "daemon.poll_spread_ms")
    }

    func testPercentile_nearestRank() {
        XCTAssertEqual(percentile((1...100).map(Double.init), 0.99), 99)
        XCTAssertEqual(percentile([], 0.99), 0)
    }
}
