import Logging
import XCTest

@testable import SynxDaemon

/// `[mqtt]`'s validation and the alert payload: the pure parts of the MQTT publisher (its connection to a real
/// broker is MQTTEndToEndTests').
final class MQTTPublisherTests: XCTestCase {
    private let head = "[daemon]\nprofile_directories = []\n"
    private let rest =
        "[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"h\"\n[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 1\nprofile = \"synx-sim\"\n"

    private func settings(_ mqtt: String) throws -> MQTTSettings? {
        try DaemonConfig.parse(text: head + "[mqtt]\n" + mqtt + rest, file: "c.toml").mqtt
    }

    private func rejects(_ mqtt: String, _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try settings(mqtt), line: line) { XCTAssertTrue("\($0)".contains(expected), "\($0)", line: line) }
    }

    func testDefaults_andTheClientOptions() throws {
        XCTAssertNil(try DaemonConfig.parse(text: head + rest, file: "c.toml").mqtt, "off unless configured")
        let s = try XCTUnwrap(try settings("host = \"broker.lan\"\n"))
        XCTAssertEqual(s.port, 1883)
        XCTAssertEqual(s.qos, 0)
        XCTAssertTrue(s.retain)
        XCTAssertFalse(s.discovery, "discovery is opt-in")
        XCTAssertEqual(s.topics.prefix, "synx")
        XCTAssertEqual(s.topics.discoveryPrefix, "homeassistant")
        XCTAssertTrue(s.clientID.hasPrefix("synxd-"))
        XCTAssertNil(s.tls)
        let options = s.clientOptions
        XCTAssertEqual(options.will?.topic, "synx/status")
        XCTAssertEqual(options.will?.payload, Array("offline".utf8))
        XCTAssertEqual(options.will?.retain, true)
    }

    func testTLS_defaultsToPort8883AndTheSystemsCertificates() throws {
        let s = try XCTUnwrap(try settings("host = \"b\"\ntls = true\n"))
        XCTAssertEqual(s.port, 8883)
        XCTAssertEqual(s.tls?.caDirectory, "/etc/ssl/certs")
        let ca = FileManager.default.temporaryDirectory.appendingPathComponent("synx-ca-\(UUID()).pem")
        try "x".write(to: ca, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: ca) }
        let own = try XCTUnwrap(try settings("host = \"b\"\nca_file = \"\(ca.path)\"\nport = 18883\n"))
        XCTAssertEqual(own.tls?.caFile, ca.path)
        XCTAssertNil(own.tls?.caDirectory)
        XCTAssertEqual(own.port, 18883)
    }

    func testErrors_nameTheKeyAndLine() {
        rejects("port = 1883\n", "host")
        rejects("host = \"b\"\nqos = 3\n", "mqtt.qos")
        rejects("host = \"b\"\ntopic_prefix = \"a/#\"\n", "mqtt.topic_prefix")
        rejects("host = \"b\"\ntopic_prefix = \"$SYS\"\n", "mqtt.topic_prefix")
        rejects("host = \"b\"\ndiscovery_prefix = \"\"\n", "mqtt.discovery_prefix")
        rejects("host = \"b\"\npassword = \"p\"\n", "a password needs a username")
        rejects("host = \"b\"\nca_file = \"/nonexistent/ca.pem\"\n", "cannot read /nonexistent/ca.pem")
        rejects("host = \"b\"\ncert_file = \"/etc/hostname\"\n", "needs both cert_file and key_file")
        rejects("host = \"b\"\ntls = false\nca_file = \"/etc/hostname\"\n", "mqtt.tls")
        rejects("host = \"two words\"\n", "mqtt.host")
        rejects("host = \"b\"\nkeepalive_s = 1\n", "mqtt.keepalive_s")
        rejects("host = \"b\"\nclient_id = \"\"\n", "mqtt.client_id")
        rejects("host = \"b\"\nhots = 1\n", "unknown key")
    }

    func testAlertPayload_isJSONWithTheJournalFields() throws {
        let notice = AlertNotice(
            kind: "meter_offline", state: "raised", key: "incomer", message: "incomer: no answer \"at all\"",
            fields: ["message_id": "b983c5c047b048fc8b5063054b7e0578", "meter": "incomer"])
        let json = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(MQTTPublisher.payload(notice).utf8)) as? [String: Any])
        XCTAssertEqual(json["kind"] as? String, "meter_offline")
        XCTAssertEqual(json["state"] as? String, "raised")
        XCTAssertEqual(json["message"] as? String, "incomer: no answer \"at all\"")
        XCTAssertEqual((json["fields"] as? [String: String])?["message_id"], "b983c5c047b048fc8b5063054b7e0578")
        XCTAssertNotNil(json["time"] as? Double)
    }

    func testAlertCenter_tellsItsObserverOfEveryJournalEntry() {
        let alerts = AlertCenter(logger: Logger(label: "test"), holdoffSeconds: 0, rules: [])
        let seen = NSMutableArray()
        alerts.observer = { seen.add("\($0.kind) \($0.state) \($0.key)") }
        alerts.raise(.meterOffline, key: "incomer", message: "offline")
        alerts.raise(.meterOffline, key: "incomer", message: "still offline")
        alerts.clear(.meterOffline, key: "incomer", message: "back")
        alerts.clockStep(stepMs: 3_600_000, detectedMs: 1)
        XCTAssertEqual(
            seen as? [String], ["meter_offline raised incomer", "meter_offline cleared incomer", "clock_step event 1"])
    }
}
