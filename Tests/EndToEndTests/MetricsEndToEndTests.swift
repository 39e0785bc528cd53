import Foundation
import SynxControl
import XCTest

/// `/metrics` checked against the real programs: synx-sim's frozen meters polled by synxd, its page linted by
/// `promtool check metrics`, and scraped by a real Prometheus (Debian's package, installed by
/// scripts/install-deps) whose HTTP API then answers with the simulator's values; the server's bounds against
/// clients that say nothing or ask for something else.
final class MetricsEndToEndTests: XCTestCase {
    private var h: Harness!
    override func setUpWithError() throws { h = try Harness("metrics") }
    override func tearDown() { h?.tearDown() }

    /// One HTTP/1.1 request on a fresh connection: the status code, the head and the body (the server closes).
    private func http(
        _ port: Int, _ target: String, method: String = "GET", headers: [String: String] = [:]
    ) throws -> (Int, String, String) {
        let fd = try connect(port)
        defer { close(fd) }
        let head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            + headers.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
        XCTAssertNil(SocketIO.sendAll(fd, Data(head.utf8)))
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = SocketIO.receive(fd, into: &chunk)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n"), let code = Int(text.split(separator: " ").dropFirst().first ?? "")
        else { throw HarnessError("no HTTP response: \(text.prefix(200))") }
        return (code, String(text[..<split.lowerBound]), String(text[split.upperBound...]))
    }

    private func connect(_ port: Int) throws -> Int32 {
        guard let fd = h.connectLoopback(port) else { throw HarnessError("connect 127.0.0.1:\(port): errno \(errno)") }
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// The sample lines of `page` by series (`name{labels}`), values as written.
    private func samples(_ page: String) -> [String: String] {
        Dictionary(
            page.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
                line.lastIndex(of: " ").map { (String(line[..<$0]), String(line[line.index(after: $0)...])) }
            }
        ) { first, _ in first }
    }

    private func startDaemon(metricsPort: Int) throws -> Int {
        let port = try h.startSimulator(scenario: PollingEndToEndTests.frozenScenario)
        try h.startDaemon(
            config: h.daemonSection + "[metrics]\nlisten = \"127.0.0.1:\(metricsPort)\"\n" + h.tcpBus("lan", port: port)
                + h.meter("incomer", bus: "lan", unit: 1, extra: "slow_poll_interval_ms = 1000\n")
                + h.meter("feeder", bus: "lan", unit: 2, profile: "eastron-sdm630"))
        h.waitUntil("both meters online") { try h.meters().allSatisfy { $0.state == .online } }
        return port
    }

    func testMetricsPage_carriesTheSimulatorsValues_andPromtoolAcceptsIt() throws {
        let port = try h.freePort()
        _ = try startDaemon(metricsPort: port)
        let served = try h.simulatorValues()
        var page = ""
        h.waitUntil("the incomer's energy (a slow register) on the page") {
            let (code, _, body) = try http(port, "/metrics")
            page = body
            return code == 200 && body.contains("synx_active_energy_joules_total{meter=\"incomer\"")
        }
        let (_, head, _) = try http(port, "/metrics")
        XCTAssertTrue(head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"), head)
        let values = samples(page)
        XCTAssertEqual(
            values["synx_voltage_volts{meter=\"incomer\",phase=\"l1n\"}"].flatMap(Double.init), served["1"]?["voltage.l1n"])
        XCTAssertEqual(
            values["synx_current_amperes{meter=\"feeder\",phase=\"l2\"}"].flatMap(Double.init), served["2"]?["current.l2"])
        XCTAssertEqual(
            values["synx_active_energy_joules_total{meter=\"incomer\",direction=\"import\",phase=\"total\"}"]
                .flatMap(Double.init),
            served["1"]?["energy.active.import"].map { $0 * 3.6e6 }, "kWh in joules")
        XCTAssertEqual(
            try XCTUnwrap(values["synx_voltage_thd_ratio{meter=\"incomer\",phase=\"l1\"}"].flatMap(Double.init)),
            try XCTUnwrap(served["1"]?["thd.voltage.l1"]) / 100, accuracy: 1e-12, "% as a ratio")
        XCTAssertEqual(values["synx_meter_up{meter=\"feeder\",bus=\"lan\"}"], "1.0")
        XCTAssertEqual(values["synx_bus_up{bus=\"lan\"}"], "1.0")

        // promtool, Prometheus's own linter, on the page as served.
        let file = try h.write("metrics.txt", page)
        let (lint, out, err) = try h.run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < \(file)"])
        XCTAssertEqual(lint, 0, out + err)
        XCTAssertEqual(out + err, "", "no lint")

        // OpenMetrics when asked, ending with # EOF; HEAD, other paths and methods.
        let (omCode, omHead, om) = try http(
            port, "/metrics", headers: ["Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"])
        XCTAssertEqual(omCode, 200)
        XCTAssertTrue(omHead.contains("application/openmetrics-text; version=1.0.0"), omHead)
        XCTAssertTrue(om.hasSuffix("# EOF\n"))
        XCTAssertTrue(om.contains("# UNIT synx_voltage_volts volts\n"))
        let (headCode, headHead, headBody) = try http(port, "/metrics", method: "HEAD")
        XCTAssertEqual(headCode, 200)
        XCTAssertTrue(headHead.contains("Content-Length: "), headHead)
        XCTAssertEqual(headBody, "")
        XCTAssertEqual(try http(port, "/").0, 404)
        XCTAssertEqual(try http(port, "/metrics", method: "POST").0, 405)
    }

    /// A real Prometheus scrapes synxd every second (asking for OpenMetrics first, as it does); its query API then
    /// gives the simulator's values, the target is healthy, and the Grafana dashboard's queries run.
    func testRealPrometheus_scrapesTheSimulatorsValues() throws {
        let port = try h.freePort()
        _ = try startDaemon(metricsPort: port)
        let served = try h.simulatorValues()
        let web = try h.freePort()
        let config = try h.write(
            "prometheus.yml",
            """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: synx
                static_configs:
                  - targets: ["127.0.0.1:\(port)"]

            """)
        try h.start(
            "/usr/bin/prometheus",
            [
                "--config.file=\(config)", "--storage.tsdb.path=\(h.path("tsdb"))",
                "--web.listen-address=127.0.0.1:\(web)",
            ], name: "prometheus")
        func query(_ q: String) throws -> [[String: Any]] {
            let encoded = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let (code, _, body) = try http(web, "/api/v1/query?query=\(encoded)")
            guard code == 200, let doc = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = doc["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
            else { throw HarnessError("query \(q): \(code) \(body.prefix(300))") }
            return result
        }
        func value(_ q: String) throws -> Double? {
            try query(q).first.flatMap { (($0["value"] as? [Any])?.last as? String).flatMap(Double.init) }
        }
        h.waitUntil("Prometheus has scraped the incomer's voltage", timeout: 60, interval: 0.5) {
            try value(#"synx_voltage_volts{meter="incomer",phase="l1n"}"#) != nil
        }
        XCTAssertEqual(try value(#"synx_voltage_volts{meter="incomer",phase="l1n"}"#), served["1"]?["voltage.l1n"])
        XCTAssertEqual(try value(#"synx_frequency_hertz{meter="feeder"}"#), served["2"]?["frequency"])
        XCTAssertEqual(try value(#"up{job="synx"}"#), 1)
        h.waitUntil("the incomer's energy counter scraped", timeout: 30, interval: 0.5) {
            try value(#"synx_active_energy_joules_total{meter="incomer",direction="import"}"#) != nil
        }
        // Every panel of the shipped Grafana dashboard is a query this Prometheus accepts; those of quantities the
        // simulated meters have give series.
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Harness.repository.appendingPathComponent("docs/grafana-synx.json"))) as? [String: Any]
        let panels = try XCTUnwrap(dashboard?["panels"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(panels.count, 10)
        for panel in panels {
            let title = panel["title"] as? String ?? "?"
            let expr = try XCTUnwrap(((panel["targets"] as? [[String: Any]])?.first?["expr"] as? String), title)
            let result = try query(expr.replacingOccurrences(of: "$meter", with: ".*"))
            if ["Voltage (line to neutral)", "Current", "Frequency", "Meters up", "Voltage THD"].contains(title) {
                XCTAssertFalse(result.isEmpty, "panel \(title): \(expr)")
            }
        }
        // The target's last scrape had no error (Prometheus asks for OpenMetrics first, so that is what it parsed).
        let (_, _, targets) = try http(web, "/api/v1/targets")
        XCTAssertTrue(targets.contains(#""health":"up""#), targets)
        XCTAssertTrue(targets.contains(#""lastError":"""#), targets)
    }

    /// Clients that connect and say nothing take the four slots: the next scrape is answered 503 at once; the
    /// silent ones are dropped after the 5-s request deadline and scrapes are served again; a head over 8 KiB is
    /// answered 431; polling goes on.
    func testSilentClients_getBounded_andScrapesRecover() throws {
        let port = try h.freePort()
        _ = try startDaemon(metricsPort: port)
        let silent = try (0..<4).map { _ in try connect(port) }
        defer { silent.forEach { close($0) } }
        h.waitUntil("a fifth connection refused with 503") { try http(port, "/metrics").0 == 503 }
        h.waitUntil("the silent clients dropped and scrapes served again", timeout: 15) {
            try http(port, "/metrics").0 == 200
        }
        // A request head over 8 KiB is answered 431, however its bytes arrive.
        let (bigCode, _, _) = try http(port, "/metrics", headers: ["X-Big": String(repeating: "a", count: 9000)])
        XCTAssertEqual(bigCode, 431)
        XCTAssertEqual(try h.meters().map(\.state), [.online, .online])
        XCTAssertEqual(try http(port, "/metrics").0, 200)
    }
}
