/// Home Assistant's MQTT discovery for synx's meters (`docs/integration.md`): one device per meter, one sensor per
/// canonical measurement it provides, each with the `device_class`, `state_class` and unit Home Assistant's sensor
/// documentation gives for the quantity, so energy counters land in its energy dashboard without hand
/// configuration. Pure text: the daemon publishes what this returns.
///
/// Reference: Home Assistant's "MQTT Discovery" and "MQTT Sensor" documentation (the discovery topic
/// `<prefix>/sensor/<node_id>/<object_id>/config`, the sensor's keys) and its sensor device classes with their
/// units (voltage V, current A, power W, reactive_power var, apparent_power VA, power_factor without unit,
/// frequency Hz, energy kWh).
public enum HomeAssistantDiscovery {
    /// How one measurement appears as a sensor.
    public struct Sensor: Equatable, Sendable {
        /// The entity's name within its device ("Voltage L1-N").
        public var label: String
        /// Home Assistant's sensor device class, where one fits the quantity and its unit.
        public var deviceClass: String?
        /// `measurement`, or `total_increasing` for counters (Home Assistant handles their resets).
        public var stateClass: String
        /// The unit shown (synx's canonical one; none for a dimensionless quantity), and the decimals shown.
        public var unit: String?
        public var precision: Int
    }

    /// The sensor for measurement `name` (its canonical `unit`; `isCounter` for a register that only grows), or nil
    /// for one left out of discovery: the individual harmonic orders (a PQ meter's profile may read 294, which would
    /// bury the device's page; they are in the state payload for a template sensor of one's own).
    public static func sensor(name: String, unit: String, isCounter: Bool) -> Sensor? {
        let parts = name.split(separator: ".").map(String.init)
        guard let quantity = parts.first, quantity != "harmonic" else { return nil }
        let haUnit = unit.isEmpty ? nil : unit
        let stateClass = isCounter ? "total_increasing" : "measurement"
        func make(_ label: String, _ deviceClass: String?, _ precision: Int) -> Sensor {
            Sensor(label: label, deviceClass: deviceClass, stateClass: stateClass, unit: haUnit, precision: precision)
        }
        let rest = parts.dropFirst().map(phaseLabel)
        switch quantity {
        case "voltage": return make(words("Voltage", rest), "voltage", 1)
        case "current": return make(words("Current", rest), "current", 2)
        case "power" where parts.count == 3:
            switch parts[1] {
            case "active": return make(words("Active power", [rest[1]]), "power", 0)
            case "reactive": return make(words("Reactive power", [rest[1]]), "reactive_power", 0)
            case "apparent": return make(words("Apparent power", [rest[1]]), "apparent_power", 0)
            default: return make(name, nil, 2)
            }
        case "power_factor": return make(words("Power factor", rest), "power_factor", 3)
        case "frequency": return make("Frequency", "frequency", 3)
        case "energy" where parts.count >= 3:
            // Reactive and apparent energy have no device class every Home Assistant in use accepts (reactive_energy
            // came in 2025.6, apparent energy has none): no class rather than a discovery an older one rejects.
            let kind = parts[1].prefix(1).uppercased() + parts[1].dropFirst()
            return make(words("\(kind) energy", Array(rest.dropFirst())), parts[1] == "active" ? "energy" : nil, 3)
        case "thd" where parts.count == 3:
            return make(words(parts[1] == "voltage" ? "Voltage THD" : "Current THD", [rest[1]]), nil, 2)
        case "flicker" where parts.count == 3:
            let statistic = parts[1] == "pinst" ? "Pinst" : parts[1].prefix(1).uppercased() + parts[1].dropFirst()
            return make(words("Flicker \(statistic)", [rest[1]]), nil, 2)
        case "unbalance" where parts.count == 3:
            let component = ["u2": "u2", "u0": "u0", "nema": "LVUR (NEMA)"][parts[2]] ?? parts[2]
            return make("Voltage unbalance \(component)", nil, 2)
        case "events" where parts.count == 3:
            return make("\(parts[1].prefix(1).uppercased() + parts[1].dropFirst())s counted by the meter", nil, 0)
        default:
            return make(name, nil, 2)
        }
    }

    private static func words(_ head: String, _ tail: [String]) -> String { ([head] + tail).joined(separator: " ") }

    private static func phaseLabel(_ part: String) -> String {
        [
            "l1n": "L1-N", "l2n": "L2-N", "l3n": "L3-N", "ln_avg": "L-N average", "l12": "L1-L2", "l23": "L2-L3",
            "l31": "L3-L1", "ll_avg": "L-L average", "ne": "N-PE", "l1": "L1", "l2": "L2", "l3": "L3", "n": "N",
            "avg": "average", "total": "total", "import": "import", "export": "export",
        ][part] ?? part
    }

    /// The discovery `object_id` of a measurement: its name with dots as underscores.
    public static func objectID(measurement: String) -> String {
        String(measurement.map { $0 == "." ? "_" : $0 })
    }

    /// The device a meter appears as: its name and its model as synx knows it (its profile's).
    public struct Device: Equatable, Sendable {
        public var meter: String
        public var model: String

        /// A meter's device.
        public init(meter: String, model: String) {
            self.meter = meter
            self.model = model
        }
    }

    /// The discovery topic of `measurement`'s sensor on `meter`'s device.
    public static func configTopic(meter: String, measurement: String, topics: MQTTTopics) -> String {
        "\(topics.discoveryPrefix)/sensor/\(topics.nodeID(meter: meter))/\(objectID(measurement: measurement))/config"
    }

    /// The discovery topic and retained payload of `measurement`'s sensor on `device`.
    public static func config(
        device: Device, measurement: String, sensor: Sensor, topics: MQTTTopics, synxVersion: String
    ) -> (topic: String, payload: String) {
        let node = topics.nodeID(meter: device.meter)
        let object = objectID(measurement: measurement)
        var fields: [(String, JSONValue)] = [
            ("name", .string(sensor.label)),
            ("unique_id", .string("\(node)_\(object)")),
            ("state_topic", .string(topics.state(meter: device.meter))),
            ("value_template", .string("{{ value_json['\(measurement)'] }}")),
            ("state_class", .string(sensor.stateClass)),
            ("suggested_display_precision", .number(Double(sensor.precision))),
            (
                "availability",
                .array([
                    .object([("topic", .string(topics.status))]),
                    .object([("topic", .string(topics.availability(meter: device.meter)))]),
                ])
            ),
            ("availability_mode", .string("all")),
            (
                "device",
                .object([
                    ("identifiers", .array([.string(node)])), ("name", .string(device.meter)),
                    ("model", .string(device.model)), ("via_device", .string(topics.bridgeNodeID)),
                ])
            ),
            ("origin", .object([("name", .string("synx")), ("sw_version", .string(synxVersion))])),
        ]
        if let deviceClass = sensor.deviceClass { fields.append(("device_class", .string(deviceClass))) }
        if let unit = sensor.unit { fields.append(("unit_of_measurement", .string(unit))) }
        return (configTopic(meter: device.meter, measurement: measurement, topics: topics), JSONValue.object(fields).text)
    }

    /// The discovery topic and retained payload of synxd itself: a connectivity binary sensor on the daemon's status
    /// topic, and the device every meter's device is connected through.
    public static func bridgeConfig(host: String, topics: MQTTTopics, synxVersion: String) -> (topic: String, payload: String) {
        let node = topics.bridgeNodeID
        let payload = JSONValue.object([
            ("name", .string("synxd")),
            ("unique_id", .string("\(node)_status")),
            ("state_topic", .string(topics.status)),
            ("payload_on", .string("online")),
            ("payload_off", .string("offline")),
            ("device_class", .string("connectivity")),
            ("entity_category", .string("diagnostic")),
            (
                "device",
                .object([
                    ("identifiers", .array([.string(node)])), ("name", .string("synxd on \(host)")),
                    ("model", .string("synx power-quality daemon")), ("sw_version", .string(synxVersion)),
                ])
            ),
            ("origin", .object([("name", .string("synx")), ("sw_version", .string(synxVersion))])),
        ]).text
        return ("\(topics.discoveryPrefix)/binary_sensor/\(node)/status/config", payload)
    }
}
