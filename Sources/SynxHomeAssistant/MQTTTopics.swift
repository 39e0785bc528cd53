/// The topics synxd publishes under its prefix (`[mqtt] topic_prefix`, default `synx`; `docs/integration.md`):
///
/// - `<prefix>/status`: `online` while synxd is connected, `offline` when it stops (and, as its will, when it
///   dies or loses the broker); retained.
/// - `<prefix>/<meter>/availability`: `online` while the meter answers with current data, else `offline`; retained.
/// - `<prefix>/<meter>/state`: the meter's current values, one JSON object per poll (`MeterState`).
/// - `<prefix>/<meter>/event`: each voltage event of a waveform meter, once it has ended (JSON).
/// - `<prefix>/alerts`: each alert as the journal logs it, raised and cleared (JSON).
///
/// and, with discovery on, Home Assistant's configuration under `<discovery prefix>` (default `homeassistant`).
public struct MQTTTopics: Equatable, Sendable {
    /// synxd's prefix, and Home Assistant's discovery prefix.
    public let prefix: String
    public let discoveryPrefix: String

    /// The topics under `prefix` (checked with `isValidPrefix`), discovery under `discoveryPrefix`.
    public init(prefix: String, discoveryPrefix: String) {
        self.prefix = prefix
        self.discoveryPrefix = discoveryPrefix
    }

    /// synxd's own `online`/`offline`.
    public var status: String { "\(prefix)/status" }
    /// Alerts, raised and cleared.
    public var alerts: String { "\(prefix)/alerts" }
    /// A meter's `online`/`offline`.
    public func availability(meter: String) -> String { "\(prefix)/\(meter)/availability" }
    /// A meter's values, one JSON object per poll.
    public func state(meter: String) -> String { "\(prefix)/\(meter)/state" }
    /// A waveform meter's voltage events.
    public func event(meter: String) -> String { "\(prefix)/\(meter)/event" }

    /// Whether `text` is usable as the prefix (or a level of it): not empty, no wildcard (`+`, `#`), no NUL, not
    /// starting with `$` (the broker's own topics), no empty level.
    public static func isValidPrefix(_ text: String) -> Bool {
        !text.isEmpty && !text.hasPrefix("$") && !text.contains { "+#\u{0}".contains($0) }
            && !text.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }

    /// Home Assistant's `node_id` of a meter's device: the prefix and the meter's name, where both are letters,
    /// digits, `_` and `-` (what Home Assistant allows); otherwise with other characters as `_` and a hash of the
    /// whole, so `a.b` and `a_b` stay two devices. Two synxd publishing to one broker have two prefixes, so their
    /// meters stay apart even when named alike.
    public func nodeID(meter: String) -> String { MQTTTopics.identifier("\(prefix)_\(meter)") }

    /// The `node_id` of synxd itself (the device its meters are connected through).
    public var bridgeNodeID: String { MQTTTopics.identifier("\(prefix)_synxd") }

    private static func identifier(_ text: String) -> String {
        func allowed(_ s: Unicode.Scalar) -> Bool {
            s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_" || s == "-")
        }
        let mapped = String(String.UnicodeScalarView(text.unicodeScalars.map { allowed($0) ? $0 : "_" }))
        if text.unicodeScalars.allSatisfy(allowed) { return mapped }
        // FNV-1a over the UTF-8 bytes: stable across runs and builds (Swift's Hasher is seeded per process).
        var hash: UInt32 = 0x811C_9DC5
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return "\(mapped)_\(String(hash, radix: 16))"
    }
}
