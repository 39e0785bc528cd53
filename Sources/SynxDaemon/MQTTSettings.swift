import Foundation
import SynxHomeAssistant
import SynxMQTT
import SynxTOML

/// `[mqtt]` of synxd.toml (`docs/configuration.md`): the broker synxd publishes its meters' values, events and
/// alerts to, and whether it announces them to Home Assistant.
struct MQTTSettings: Equatable {
    var host: String
    var port = 1883
    var clientID: String
    var username: String?
    var password: String?
    var tls: MQTTClient.Options.TLS?
    var keepaliveSeconds = 60
    var topics = MQTTTopics(prefix: "synx", discoveryPrefix: "homeassistant")
    /// QoS of the state, event and alert messages (status, availability and discovery always go at 1).
    var qos = 0
    /// Whether state messages are retained (status, availability and discovery always are).
    var retain = true
    /// Home Assistant MQTT discovery (off unless asked for).
    var discovery = false

    /// The library's options, with synxd's will: `offline` on the status topic, retained.
    var clientOptions: MQTTClient.Options {
        MQTTClient.Options(
            host: host, port: port, clientID: clientID, username: username, password: password, tls: tls,
            keepaliveSeconds: keepaliveSeconds,
            will: MQTTClient.Message(topic: topics.status, text: "offline", qos: 1, retain: true))
    }

    /// Reads and validates `[mqtt]`.
    static func parse(_ m: TOMLSection) throws -> MQTTSettings {
        try m.rejectUnknownKeys([
            "host", "port", "client_id", "username", "password", "tls", "ca_file", "ca_directory", "cert_file",
            "key_file", "keepalive_s", "topic_prefix", "qos", "retain", "discovery", "discovery_prefix",
        ])
        let host = try m.requiredString("host")
        guard !host.isEmpty, host.utf8.count <= 253, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw m.error("host", "\"\(host)\" is not a host name or address")
        }
        var settings = MQTTSettings(host: host, clientID: try m.string("client_id") ?? "synxd-\(hostName())")
        guard !settings.clientID.isEmpty, settings.clientID.utf8.count <= 128 else {
            throw m.error("client_id", "a client id is 1–128 bytes")
        }
        settings.username = try m.string("username")
        settings.password = try m.string("password")
        if settings.password != nil, settings.username == nil {
            throw m.error("password", "a password needs a username")
        }
        settings.keepaliveSeconds = try m.int("keepalive_s", in: 5...3600) ?? 60
        settings.qos = try m.int("qos", in: 0...2) ?? 0
        settings.retain = try m.bool("retain") ?? true
        settings.discovery = try m.bool("discovery") ?? false
        let prefix = try m.string("topic_prefix") ?? "synx"
        guard MQTTTopics.isValidPrefix(prefix) else {
            throw m.error("topic_prefix", "\"\(prefix)\" is not a topic prefix (no '+', '#', empty level or leading '$')")
        }
        let discoveryPrefix = try m.string("discovery_prefix") ?? "homeassistant"
        guard MQTTTopics.isValidPrefix(discoveryPrefix) else {
            throw m.error("discovery_prefix", "\"\(discoveryPrefix)\" is not a topic prefix")
        }
        settings.topics = MQTTTopics(prefix: prefix, discoveryPrefix: discoveryPrefix)

        func readable(_ key: String) throws -> String? {
            guard let path = try m.string(key) else { return nil }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw m.error(key, "cannot read \(path)")
            }
            return path
        }
        let caFile = try readable("ca_file")
        let caDirectory = try readable("ca_directory")
        let certFile = try readable("cert_file")
        let keyFile = try readable("key_file")
        if (certFile == nil) != (keyFile == nil) {
            throw m.error(certFile == nil ? "key_file" : "cert_file", "a client certificate needs both cert_file and key_file")
        }
        let tls = try m.bool("tls") ?? (caFile != nil || caDirectory != nil || certFile != nil)
        if tls {
            // Without a CA of its own, the broker's certificate is checked against the system's.
            settings.tls = MQTTClient.Options.TLS(
                caFile: caFile, caDirectory: caFile == nil && caDirectory == nil ? "/etc/ssl/certs" : caDirectory,
                certFile: certFile, keyFile: keyFile)
        } else if caFile != nil || caDirectory != nil || certFile != nil {
            throw m.error("tls", "tls = false with certificate files given")
        }
        settings.port = try m.int("port", in: 1...65535) ?? (tls ? 8883 : 1883)
        return settings
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(cString: buffer)
    }
}
