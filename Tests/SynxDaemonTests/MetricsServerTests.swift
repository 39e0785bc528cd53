import SynxControl
import SynxMeters
import SynxMetrics
import XCTest

@testable import SynxDaemon

/// The pure parts of `/metrics`: the request head, the listen address and its configuration, the naming of every
/// catalog measurement, and which values the page leaves out as stale.
final class MetricsServerTests: XCTestCase {
    func testRequestHead_parsesCRLFAndLF_stripsTheQuery_findsHeadersCaseInsensitively() throws {
        let head = try XCTUnwrap(HTTPRequestHead("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nACCEPT:  text/plain \r\n"))
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.path, "/metrics")
        XCTAssertEqual(head.header("accept"), "text/plain")
        XCTAssertNil(head.header("x-none"))
        XCTAssertEqual(HTTPRequestHead("HEAD /metrics HTTP/1.0\nAccept: a")?.header("accept"), "a")
        XCTAssertNil(HTTPRequestHead("GET /metrics"))
        XCTAssertNil(HTTPRequestHead("GET /metrics SPDY/3"))
        XCTAssertNil(HTTPRequestHead(""))
    }

    func testBlankLine_endsTheHead_inEveryMixOfLineEnds() {
        XCTAssertEqual(Array("GET / HTTP/1.1\r\nA: b\r\n\r\nbody".utf8).indexOfBlankLine, 20)
        XCTAssertEqual(Array("GET / HTTP/1.1\n\n".utf8).indexOfBlankLine, 14)
        XCTAssertEqual(Array("GET / HTTP/1.1\n\r\n".utf8).indexOfBlankLine, 14)
        XCTAssertEqual(Array("GET / HTTP/1.1\r\n\n".utf8).indexOfBlankLine, 14)
        XCTAssertNil(Array("GET / HTTP/1.1\r\nA: b\r\n".utf8).indexOfBlankLine)
        XCTAssertNil(Array("\n".utf8).indexOfBlankLine)
    }

    func testListenAddress_numericHostAndPort_andTheConfigurationLine() throws {
        XCTAssertEqual(MetricsAddress("127.0.0.1:9488")?.description, "127.0.0.1:9488")
        XCTAssertEqual(MetricsAddress("[::1]:9488")?.description, "[::1]:9488")
        XCTAssertEqual(MetricsAddress("0.0.0.0:1")?.port, 1)
        for bad in ["localhost:9488", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":9488", "[::1]", "1.2.3.4:x"] {
            XCTAssertNil(MetricsAddress(bad), bad)
        }
        let head = "[daemon]\nprofile_directories = []\n"
        let rest = "[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"h\"\n[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 1\nprofile = \"synx-sim\"\n"
        XCTAssertNil(try DaemonConfig.parse(text: head + rest, file: "c.toml").metricsAddress, "off unless configured")
        XCTAssertEqual(
            try DaemonConfig.parse(text: head + "[metrics]\nlisten = \"[::1]:9488\"\n" + rest, file: "c.toml")
                .metricsAddress?.port, 9488)
        XCTAssertThrowsError(
            try DaemonConfig.parse(text: head + "[metrics]\nlisten = \"localhost:9488\"\n" + rest, file: "c.toml")
        ) { XCTAssertTrue("\($0)".contains("c.toml:4: metrics.listen"), "\($0)") }
        XCTAssertThrowsError(try DaemonConfig.parse(text: head + "[metrics]\nport = 9488\n" + rest, file: "c.toml"))
    }

    /// Every canonical measurement has a place on the page, and no two the same series.
    func testEveryCatalogMeasurement_hasItsOwnSeries() throws {
        var seen: [String: String] = [:]
        for name in Measurement.catalog.keys.sorted() {
            let p = try XCTUnwrap(MeasurementMetrics.placement(of: name), name)
            let series = p.family + "{" + p.labels.map { "\($0.name)=\($0.value)" }.joined(separator: ",") + "}"
            XCTAssertNil(seen[series], "\(name) and \(seen[series] ?? "") are both \(series)")
            seen[series] = name
        }
        XCTAssertGreaterThan(seen.count, 300)
    }

    /// An offline meter shows no values; a value its polls stopped refreshing (read invalid since) is left out after
    /// three of its own intervals, a slow-rate one after three slow intervals; data older than three polls, none.
    func testStaleValues_areLeftOut() throws {
        let config = try DaemonConfig.parse(
            text: "[daemon]\nprofile_directories = []\n[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"h\"\n"
                + "[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 1\nprofile = \"eastron-sdm630\"\nslow_poll_interval_ms = 10000\n",
            file: "c.toml")
        let registry = MeterRegistry()
        registry.register(meter: config.meters[0])
        let t: Int64 = 1_800_000_000_000
        let energy = try XCTUnwrap(
            config.meters[0].profile.points.first { $0.rate == .slow }?.measurement.name, "a slow register")
        func poll(_ time: Int64, _ names: [String], state: MeterState = .online, monotonic: Int64) {
            registry.recordPoll(
                meter: "m", state: state, error: nil,
                values: names.map { LiveValue(measurement: $0, value: 1, unit: "", time: time) }, time: time, model: nil,
                received: monotonic)
        }
        poll(t, ["voltage.l1n", "current.l1", energy], monotonic: 1_000)
        poll(t + 3000, ["voltage.l1n"], monotonic: 4_000)  // current.l1 read invalid since t
        let values = { (now: Int64) in Set(registry.metricsSnapshot(monotonicNow: now)[0].values.map(\.measurement)) }
        XCTAssertEqual(values(4_000), ["voltage.l1n", "current.l1", energy], "3 s: still within three polls")
        poll(t + 3001, ["voltage.l1n"], monotonic: 4_001)
        XCTAssertEqual(values(4_001), ["voltage.l1n", energy], "current.l1 not refreshed for over 3 s")
        XCTAssertEqual(registry.metricsSnapshot(monotonicNow: 4_001)[0].ageMs, 0)
        XCTAssertEqual(values(10_000), [], "the meter's data 6 s old (and over 5 s): none")
        poll(t + 31_000, ["voltage.l1n"], monotonic: 32_000)
        XCTAssertEqual(values(32_000), ["voltage.l1n"], "the energy register not refreshed in three slow intervals")
        poll(t + 32_000, [], state: .offline, monotonic: 33_000)
        XCTAssertEqual(values(33_000), [], "offline")
        XCTAssertEqual(registry.metricsSnapshot(monotonicNow: 33_000)[0].status.state, .offline)
    }
}
