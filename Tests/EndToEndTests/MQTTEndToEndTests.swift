import Foundation
import SynxControl
import XCTest

/// MQTT checked against the real programs: Debian's `mosquitto` broker on a free loopback port, synxd publishing to
/// it, and an independent subscriber (Eclipse Paho, `Tests/peers/mqtt_subscriber.py`) reading what arrives: the
/// simulator's values, availability, Home Assistant's discovery, alerts, the will, and everything again after the
/// broker restarts with nothing retained.
final class MQTTEndToEndTests: XCTestCase {
    private var h: Harness!
    override func setUpWithError() throws { h = try Harness("mqtt") }
    override func tearDown() { h?.tearDown() }

    /// One message as the subscriber wrote it.
    struct Received {
        var topic: String
        var payload: String
        var retain: Bool
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any]
        }
        /// A state payload's numbers, decoded exactly (JSONSerialization on Linux rounds some doubles in the last
        /// digit); nil values are the payload's nulls.
        var numbers: [String: Double?]? { try? JSONDecoder().decode([String: Double?].self, from: Data(payload.utf8)) }
    }

    /// mosquitto started as root changes to its own user, which cannot read the test's private directory: it stays
    /// root then (as another user it never changes).
    static let stayAsTheTestsUser = getuid() == 0 ? "user root\n" : ""

    /// Starts mosquitto on `port`, with nothing kept across restarts, and waits until it accepts connections.
    @discardableResult
    private func startBroker(port: Int, name: String = "mosquitto") throws -> Process {
        let conf = try h.write(
            "\(name).conf", "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
                + MQTTEndToEndTests.stayAsTheTestsUser)
        let broker = try h.start("/usr/sbin/mosquitto", ["-c", conf], name: name)
        h.waitUntil("\(name) listening on \(port)") { self.accepts(port) }
        return broker
    }

    private func accepts(_ port: Int) -> Bool {
        guard let fd = h.connectLoopback(port) else { return false }
        close(fd)
        return true
    }

    /// Starts the Paho subscriber on `filters`; its messages are read with `messages(name)`.
    private func startSubscriber(
        port: Int, name: String, filters: [String] = ["synx/#", "homeassistant/#"], ca: String? = nil
    ) throws {
        let python = Harness.repository.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw HarnessError("no Python at \(python): run scripts/test (it creates .venv with paho-mqtt)")
        }
        try h.start(
            python,
            [Harness.repository.appendingPathComponent("Tests/peers/mqtt_subscriber.py").path]
                + (ca.map { ["--ca", $0] } ?? []) + ["127.0.0.1", "\(port)"] + filters, name: name)
        h.waitUntil("\(name) connected") { self.h.output("\(name).out").contains("\"connected\"") }
    }

    private func messages(_ name: String) -> [Received] {
        h.output("\(name).out").split(separator: "\n").compactMap { line in
            guard let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                let topic = o["topic"] as? String, let payload = o["payload"] as? String
            else { return nil }
            return Received(topic: topic, payload: payload, retain: o["retain"] as? Bool ?? false)
        }
    }

    /// The last message on `topic`.
    private func last(_ name: String, _ topic: String) -> Received? { messages(name).last { $0.topic == topic } }

    private func startDaemon(brokerPort: Int, extra: String = "") throws -> (Process, simPort: Int) {
        let simPort = try h.startSimulator(scenario: PollingEndToEndTests.frozenScenario)
        let daemon = try h.startDaemon(
            config: h.daemonSection
                + "[mqtt]\nhost = \"127.0.0.1\"\nport = \(brokerPort)\nclient_id = \"synxd-e2e\"\ndiscovery = true\nkeepalive_s = 5\n\(extra)"
                + h.tcpBus("lan", port: simPort)
                + h.meter("incomer", bus: "lan", unit: 1, extra: "slow_poll_interval_ms = 1000\n")
                + h.meter("feeder", bus: "lan", unit: 2, profile: "eastron-sdm630"))
        h.waitUntil("both meters online") { try h.meters().allSatisfy { $0.state == .online } }
        return (daemon, simPort)
    }

    /// Whether `name` has a state of both meters with the incomer's energy (a slow register) in it.
    private func hasBothStates(_ name: String) -> Bool {
        guard let incomer = last(name, "synx/incomer/state")?.json, let feeder = last(name, "synx/feeder/state")?.json
        else { return false }
        return incomer["energy.active.import"] is Double && feeder["voltage.l1n"] is Double
    }

    func testValuesAvailabilityAndDiscovery_reachAnIndependentSubscriber() throws {
        let brokerPort = try h.freePort()
        try startBroker(port: brokerPort)
        let (daemon, _) = try startDaemon(brokerPort: brokerPort)
        try startSubscriber(port: brokerPort, name: "sub")
        h.waitUntil("both meters' state, the incomer's energy in it", timeout: 20) { self.hasBothStates("sub") }
        let served = try h.simulatorValues()

        // Values: the simulator's float32 values, as served, in their canonical units.
        let incomer = try XCTUnwrap(last("sub", "synx/incomer/state")?.numbers)
        let feeder = try XCTUnwrap(last("sub", "synx/feeder/state")?.numbers)
        var compared = 0
        for (name, value) in try XCTUnwrap(served["1"]) where incomer[name] != nil {
            XCTAssertEqual(incomer[name] ?? nil, value, "incomer \(name)")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertEqual(incomer["voltage.l1n"] ?? nil, served["1"]?["voltage.l1n"])
        XCTAssertEqual(feeder["current.l2"] ?? nil, served["2"]?["current.l2"])
        XCTAssertEqual(incomer["energy.active.import"] ?? nil, served["1"]?["energy.active.import"])
        let time = try XCTUnwrap(incomer["time"] ?? nil)
        XCTAssertLessThan(abs(time / 1000 - Date().timeIntervalSince1970), 30, "time is UTC ms of the poll")

        // Status and availability: retained, online.
        XCTAssertEqual(last("sub", "synx/status")?.payload, "online")
        XCTAssertEqual(last("sub", "synx/status")?.retain, true)
        XCTAssertEqual(last("sub", "synx/incomer/availability")?.payload, "online")
        XCTAssertEqual(last("sub", "synx/feeder/availability")?.payload, "online")

        // Discovery: every sensor's template names a key of its meter's state; the energy dashboard's counter.
        let configs = messages("sub").filter { $0.topic.hasPrefix("homeassistant/sensor/") && $0.topic.hasSuffix("/config") }
        XCTAssertTrue(configs.allSatisfy(\.retain))
        var byMeter: [String: Int] = [:]
        for c in configs {
            let json = try XCTUnwrap(c.json, c.payload)
            let stateTopic = try XCTUnwrap(json["state_topic"] as? String)
            let meter = stateTopic.split(separator: "/")[1]
            byMeter[String(meter), default: 0] += 1
            let template = try XCTUnwrap(json["value_template"] as? String)
            let key = try XCTUnwrap(template.split(separator: "'").dropFirst().first.map(String.init), template)
            let state = try XCTUnwrap(last("sub", stateTopic)?.json)
            XCTAssertNotNil(state[key], "\(c.topic): \(key) is in \(stateTopic)")
            let device = try XCTUnwrap(json["device"] as? [String: Any])
            XCTAssertEqual(device["identifiers"] as? [String], ["synx_\(meter)"])
            XCTAssertEqual(device["via_device"] as? String, "synx_synxd")
            let availability = try XCTUnwrap(json["availability"] as? [[String: String]])
            XCTAssertEqual(availability.map { $0["topic"] }, ["synx/status", "synx/\(meter)/availability"])
        }
        let energy = try XCTUnwrap(
            configs.last { $0.topic == "homeassistant/sensor/synx_incomer/energy_active_import/config" }?.json)
        XCTAssertEqual(energy["device_class"] as? String, "energy")
        XCTAssertEqual(energy["state_class"] as? String, "total_increasing")
        XCTAssertEqual(energy["unit_of_measurement"] as? String, "kWh")
        let voltage = try XCTUnwrap(configs.last { $0.topic == "homeassistant/sensor/synx_feeder/voltage_l1n/config" }?.json)
        XCTAssertEqual(voltage["device_class"] as? String, "voltage")
        XCTAssertEqual(voltage["unit_of_measurement"] as? String, "V")
        // One sensor per measurement the meter's state carries (no harmonics in these profiles).
        XCTAssertEqual(byMeter["incomer"], incomer.keys.filter { $0 != "time" }.count)
        XCTAssertEqual(byMeter["feeder"], feeder.keys.filter { $0 != "time" }.count)
        let bridge = try XCTUnwrap(last("sub", "homeassistant/binary_sensor/synx_synxd/status/config")?.json)
        XCTAssertEqual(bridge["state_topic"] as? String, "synx/status")

        // A clean stop says offline itself (not through the will).
        kill(daemon.processIdentifier, SIGTERM)
        h.waitUntil("synxd stopped") { !daemon.isRunning }
        XCTAssertEqual(daemon.terminationStatus, 0)
        h.waitUntil("status offline") { self.last("sub", "synx/status")?.payload == "offline" }
        XCTAssertTrue(h.output("mosquitto.err").contains("synxd-e2e"), "the broker saw synxd's client id")
    }

    func testBrokerRestart_losesNoCurrentState_thenAlertsAvailabilityAndTheWill() throws {
        let brokerPort = try h.freePort()
        let broker = try startBroker(port: brokerPort)
        let (daemon, _) = try startDaemon(brokerPort: brokerPort)
        try startSubscriber(port: brokerPort, name: "before")
        h.waitUntil("state before the restart", timeout: 20) { self.hasBothStates("before") }

        // The broker goes away: synxd keeps polling and storing.
        kill(broker.processIdentifier, SIGTERM)
        h.waitUntil("broker gone") { !broker.isRunning }
        let polls = try h.meter("feeder").polls
        h.waitUntil("polling goes on without the broker", timeout: 20) { try self.h.meter("feeder").polls >= polls + 3 }
        XCTAssertEqual(try h.meter("feeder").state, .online)

        // It comes back with nothing retained (no persistence): synxd publishes everything again.
        try startBroker(port: brokerPort, name: "mosquitto-again")
        try startSubscriber(port: brokerPort, name: "after")
        h.waitUntil("state, status, availability and discovery again after the restart", timeout: 45) {
            self.hasBothStates("after") && self.last("after", "synx/status")?.payload == "online"
                && self.last("after", "synx/incomer/availability")?.payload == "online"
                && self.last("after", "homeassistant/sensor/synx_incomer/energy_active_import/config") != nil
        }
        let served = try h.simulatorValues()
        XCTAssertEqual(last("after", "synx/feeder/state")?.numbers?["voltage.l1n"] ?? nil, served["2"]?["voltage.l1n"])

        // A meter that stops answering: offline availability and its alert.
        let simulator = try XCTUnwrap(h.process("sim"))
        kill(simulator.processIdentifier, SIGKILL)
        h.waitUntil("incomer offline on MQTT", timeout: 30) {
            self.last("after", "synx/incomer/availability")?.payload == "offline"
        }
        h.waitUntil("the meter_offline alert on synx/alerts", timeout: 30) {
            self.messages("after").contains {
                $0.topic == "synx/alerts" && $0.json?["kind"] as? String == "meter_offline"
                    && $0.json?["state"] as? String == "raised"
            }
        }
        let alert = try XCTUnwrap(messages("after").last { $0.topic == "synx/alerts" })
        XCTAssertFalse(alert.retain)
        XCTAssertNotNil((alert.json?["fields"] as? [String: String])?["message_id"])

        // synxd killed: the broker publishes its will.
        kill(daemon.processIdentifier, SIGKILL)
        h.waitUntil("the will: status offline", timeout: 20) { self.last("after", "synx/status")?.payload == "offline" }
    }

    /// A test CA and a certificate for 127.0.0.1 signed by it (`openssl`); returns the paths (ca, cert, key).
    private func certificates(_ name: String) throws -> (ca: String, cert: String, key: String) {
        let ca = h.path("\(name)-ca.pem"), caKey = h.path("\(name)-ca.key")
        let cert = h.path("\(name)-server.pem"), key = h.path("\(name)-server.key"), csr = h.path("\(name)-server.csr")
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=synx test CA \(name)",
             "-keyout", caKey, "-out", ca],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr],
            ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-out", cert,
             "-extfile", try h.write("\(name)-san.cnf", "subjectAltName = IP:127.0.0.1\n")],
        ]
        for step in steps {
            let (status, out, err) = try h.run("/usr/bin/openssl", step)
            XCTAssertEqual(status, 0, out + err)
        }
        return (ca, cert, key)
    }

    func testTLS_verifiesTheBrokerAgainstTheConfiguredCA() throws {
        let good = try certificates("good")
        let other = try certificates("other")
        let brokerPort = try h.freePort()
        let conf = try h.write(
            "mosquitto-tls.conf",
            "listener \(brokerPort) 127.0.0.1\ncafile \(good.ca)\ncertfile \(good.cert)\nkeyfile \(good.key)\n"
                + "allow_anonymous true\npersistence false\nlog_dest stderr\n" + MQTTEndToEndTests.stayAsTheTestsUser)
        try h.start("/usr/sbin/mosquitto", ["-c", conf], name: "mosquitto")
        h.waitUntil("TLS broker listening") { self.accepts(brokerPort) }
        // Signed by another CA: refused, and polling goes on.
        let (daemon, _) = try startDaemon(brokerPort: brokerPort, extra: "ca_file = \"\(other.ca)\"\n")
        h.waitUntil("the handshake refused, in synxd's log", timeout: 20) {
            self.h.output("synxd.err").contains("mqtt: broker unreachable")
        }
        kill(daemon.processIdentifier, SIGTERM)
        h.waitUntil("synxd stopped") { !daemon.isRunning }
        // Its own CA: connected, and the subscriber (over TLS too) reads the values.
        let config = h.output("synxd.toml").replacingOccurrences(of: other.ca, with: good.ca)
        try h.startDaemon(config: config)
        try startSubscriber(port: brokerPort, name: "tls-sub", filters: ["synx/#"], ca: good.ca)
        h.waitUntil("values over TLS", timeout: 30) { self.last("tls-sub", "synx/feeder/state")?.numbers?["voltage.l1n"] != nil }
        XCTAssertEqual(last("tls-sub", "synx/status")?.payload, "online")
    }

    func testWaveformMeter_itsDipOnTheEventTopic_andItsClassAValuesInTheState() throws {
        let brokerPort = try h.freePort()
        try startBroker(port: brokerPort)
        let simPort = try h.startSimulator(scenario: WaveformEndToEndTests.dipScenario)
        try startSubscriber(port: brokerPort, name: "sub")
        try h.startDaemon(
            config: h.daemonSection
                + "[mqtt]\nhost = \"127.0.0.1\"\nport = \(brokerPort)\ndiscovery = true\n"
                + h.tcpBus("pq", port: simPort) + h.meter("pqm", bus: "pq", unit: 5, profile: "waveform"))
        h.waitUntil("the dip on synx/pqm/event", timeout: 40) {
            self.messages("sub").contains { $0.topic == "synx/pqm/event" }
        }
        let event = try XCTUnwrap(messages("sub").first { $0.topic == "synx/pqm/event" }?.json)
        XCTAssertEqual(event["kind"] as? String, "voltage_event")
        XCTAssertEqual(event["state"] as? String, "event")
        let fields = try XCTUnwrap(event["fields"] as? [String: String])
        XCTAssertEqual(fields["event"], "dip")
        XCTAssertEqual(fields["phase"], "l2")
        XCTAssertEqual(try XCTUnwrap(fields["duration_s"].flatMap(Double.init)), 0.1, accuracy: 0.02, "Class A: ±1 cycle")
        XCTAssertEqual(try XCTUnwrap(fields["value"].flatMap(Double.init)), 0.6 * 230, accuracy: 0.002 * 230)
        // The state carries the engine's values (THD of the 4 % 5th harmonic), and discovery announces them.
        let state = try XCTUnwrap(last("sub", "synx/pqm/state")?.numbers)
        XCTAssertEqual(try XCTUnwrap(state["thd.voltage.l1"] ?? nil, "\(state.keys.sorted())"), 4, accuracy: 0.1)
        let announced = Set(messages("sub").filter { $0.topic.hasPrefix("homeassistant/sensor/synx_pqm/") }.map(\.topic))
        for name in state.keys where name != "time" {
            XCTAssertTrue(
                announced.contains("homeassistant/sensor/synx_pqm/\(name.replacingOccurrences(of: ".", with: "_"))/config"),
                "\(name) announced")
        }
    }

    /// A "broker" that takes the TCP connection and never answers CONNACK: while synxd waits for it (up to 15 s)
    /// its MQTT thread sleeps, it does not spin (the first version spun a core for the whole wait).
    func testSilentBroker_theConnectionWaitTakesNoCPU() throws {
        let (listener, port) = try h.silentListener()
        defer { close(listener) }
        let (daemon, _) = try startDaemon(brokerPort: port)
        func cpuSeconds() throws -> Double {
            let stat = try String(contentsOfFile: "/proc/\(daemon.processIdentifier)/stat", encoding: .utf8)
            let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
            return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        let before = try cpuSeconds()
        let started = Date()
        h.waitUntil("3 s of the connection attempt", timeout: 10) { Date().timeIntervalSince(started) >= 3 }
        let used = try cpuSeconds() - before
        XCTAssertLessThan(used, 0.6, "synxd used \(used) s of CPU in 3 s while waiting for CONNACK (two meters polled)")
        XCTAssertEqual(try h.meter("feeder").state, .online)
    }

    func testUnreachableBroker_pollingGoesOn_andConnectsWhenItComes() throws {
        let brokerPort = try h.freePort()
        _ = try startDaemon(brokerPort: brokerPort)
        let polls = try h.meter("feeder").polls
        h.waitUntil("polling without a broker", timeout: 20) { try self.h.meter("feeder").polls >= polls + 3 }
        XCTAssertTrue(h.output("synxd.err").contains("mqtt: broker unreachable"), h.output("synxd.err"))
        try startBroker(port: brokerPort)
        try startSubscriber(port: brokerPort, name: "late")
        h.waitUntil("connected within the back-off (at most 30 s)", timeout: 45) { self.hasBothStates("late") }
    }
}
