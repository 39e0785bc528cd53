import SynxHomeAssistant
import SynxMeters
import XCTest

/// Discovery and state payloads against Home Assistant's documentation: the MQTT sensor's keys, the sensor device
/// classes and the units each accepts, and the state classes.
final class HomeAssistantDiscoveryTests: XCTestCase {
    /// The keys of an MQTT sensor's discovery configuration (Home Assistant's "MQTT Sensor" documentation,
    /// source/_integrations/sensor.mqtt.markdown) and of its `device` and `availability` maps.
    static let sensorKeys: Set<String> = [
        "availability", "availability_mode", "availability_template", "availability_topic", "device", "device_class",
        "enabled_by_default", "encoding", "entity_category", "entity_picture", "expire_after", "force_update", "icon",
        "json_attributes_template", "json_attributes_topic", "last_reset_value_template", "name", "object_id",
        "options", "origin", "payload_available", "payload_not_available", "platform", "qos", "state_class",
        "state_topic", "suggested_display_precision", "unique_id", "unit_of_measurement", "value_template",
    ]
    static let deviceKeys: Set<String> = [
        "configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id", "name",
        "serial_number", "suggested_area", "sw_version", "via_device",
    ]
    /// Device classes of the sensor documentation and the units each accepts (the ones synx could use).
    static let deviceClassUnits: [String: Set<String?>] = [
        "voltage": ["V", "mV", "kV"], "current": ["A", "mA"], "power": ["W", "kW"], "reactive_power": ["var"],
        "apparent_power": ["VA"], "power_factor": ["%", nil], "frequency": ["Hz", "kHz"],
        "energy": ["Wh", "kWh", "MWh"],
    ]

    private func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func testEveryCatalogMeasurementIsAValidSensorOrLeftOutOnPurpose() throws {
        let topics = MQTTTopics(prefix: "synx", discoveryPrefix: "homeassistant")
        let device = HomeAssistantDiscovery.Device(meter: "incomer", model: "SDM630")
        var uniqueIDs = Set<String>()
        var announced = 0
        for m in Measurement.catalog.values.sorted() {
            guard let sensor = HomeAssistantDiscovery.sensor(name: m.name, unit: m.unit, isCounter: m.kind == .counter)
            else {
                XCTAssertTrue(m.name.hasPrefix("harmonic."), "\(m.name) left out of discovery")
                continue
            }
            announced += 1
            let c = HomeAssistantDiscovery.config(
                device: device, measurement: m.name, sensor: sensor, topics: topics, synxVersion: "test")
            XCTAssertEqual(c.topic, "homeassistant/sensor/synx_incomer/\(m.name.replacingOccurrences(of: ".", with: "_"))/config")
            let json = try object(c.payload)
            XCTAssertTrue(Set(json.keys).isSubset(of: Self.sensorKeys), "\(m.name): \(Set(json.keys).subtracting(Self.sensorKeys))")
            let deviceMap = try XCTUnwrap(json["device"] as? [String: Any])
            XCTAssertTrue(Set(deviceMap.keys).isSubset(of: Self.deviceKeys))
            XCTAssertEqual(json["value_template"] as? String, "{{ value_json['\(m.name)'] }}")
            XCTAssertEqual(json["state_topic"] as? String, "synx/incomer/state")
            XCTAssertTrue(uniqueIDs.insert(try XCTUnwrap(json["unique_id"] as? String)).inserted)
            let stateClass = try XCTUnwrap(json["state_class"] as? String)
            XCTAssertEqual(stateClass, m.kind == .counter ? "total_increasing" : "measurement", m.name)
            if let deviceClass = json["device_class"] as? String {
                let units = try XCTUnwrap(Self.deviceClassUnits[deviceClass], "\(deviceClass) is not a class synx uses")
                XCTAssertTrue(units.contains(json["unit_of_measurement"] as? String), "\(m.name): \(deviceClass)")
            }
            XCTAssertEqual(json["unit_of_measurement"] as? String, m.unit.isEmpty ? nil : m.unit)
        }
        XCTAssertGreaterThan(announced, 60)
    }

    func testClassesOfTheQuantitiesAnEnergyDashboardNeeds() throws {
        func sensor(_ name: String) throws -> HomeAssistantDiscovery.Sensor {
            let m = try XCTUnwrap(Measurement.named(name))
            return try XCTUnwrap(HomeAssistantDiscovery.sensor(name: m.name, unit: m.unit, isCounter: m.kind == .counter))
        }
        XCTAssertEqual(try sensor("energy.active.import").deviceClass, "energy")
        XCTAssertEqual(try sensor("energy.active.import").stateClass, "total_increasing")
        XCTAssertEqual(try sensor("energy.active.import").unit, "kWh")
        XCTAssertEqual(try sensor("energy.active.export.l2").label, "Active energy export L2")
        XCTAssertNil(try sensor("energy.reactive.import").deviceClass)
        XCTAssertEqual(try sensor("voltage.l1n").label, "Voltage L1-N")
        XCTAssertEqual(try sensor("power.reactive.total").deviceClass, "reactive_power")
        XCTAssertEqual(try sensor("power_factor.l3").unit, nil)
        XCTAssertEqual(try sensor("thd.current.l2").label, "Current THD L2")
        XCTAssertEqual(try sensor("flicker.pst.l1").label, "Flicker Pst L1")
        XCTAssertEqual(try sensor("events.dip.count").stateClass, "total_increasing")
    }

    func testNodeIDsAreWhatHomeAssistantAllowsAndStayDistinct() {
        let topics = MQTTTopics(prefix: "synx", discoveryPrefix: "homeassistant")
        XCTAssertEqual(topics.nodeID(meter: "incomer-1_a"), "synx_incomer-1_a")
        let dotted = topics.nodeID(meter: "a.b")
        let underscored = topics.nodeID(meter: "a_b")
        XCTAssertNotEqual(dotted, underscored)
        for id in [dotted, topics.nodeID(meter: "Zähler"), MQTTTopics(prefix: "site/7", discoveryPrefix: "ha").bridgeNodeID] {
            XCTAssertTrue(id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }, id)
        }
        XCTAssertEqual(topics.nodeID(meter: "Zähler"), topics.nodeID(meter: "Zähler"))
        XCTAssertNotEqual(topics.nodeID(meter: "x"), MQTTTopics(prefix: "other", discoveryPrefix: "homeassistant").nodeID(meter: "x"))
    }

    func testPrefixes() {
        for good in ["synx", "site/7/synx", "a b"] { XCTAssertTrue(MQTTTopics.isValidPrefix(good), good) }
        for bad in ["", "synx/", "/synx", "a//b", "a/+/b", "a/#", "$SYS", "a\u{0}b"] {
            XCTAssertFalse(MQTTTopics.isValidPrefix(bad), bad)
        }
    }

    func testStatePayloadIsJSONWithNullsForValuesNotCurrent() throws {
        let text = StatePayload.json(
            timeMs: 1_764_460_800_123,
            values: [("voltage.l1n", 230.25), ("current.l1", nil), ("energy.active.import", 12345), ("frequency", .nan)])
        XCTAssertEqual(
            text, #"{"time":1764460800123,"voltage.l1n":230.25,"current.l1":null,"energy.active.import":12345,"frequency":null}"#)
        let json = try object(text)
        XCTAssertEqual(json["voltage.l1n"] as? Double, 230.25)
        XCTAssertTrue(json["current.l1"] is NSNull)
    }

    func testNumbersRoundTripAndStringsAreEscaped() throws {
        for v in [0.1, -1e-7, 1e300, 49.999_999_9, 230.0, -0.0, 1.234_567_890_123_456_8e17] {
            var out = ""
            JSONValue.writeNumber(v, to: &out)
            let back = try XCTUnwrap(JSONSerialization.jsonObject(with: Data("[\(out)]".utf8)) as? [Double])
            XCTAssertEqual(back.first, v, out)
        }
        let hostile = "quote\" back\\slash\nline\u{1} tab\t é 🔌"
        let text = JSONValue.object([(hostile, .string(hostile))]).text
        let json = try object(text)
        XCTAssertEqual(json[hostile] as? String, hostile)
    }
}
