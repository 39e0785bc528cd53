import SynxTOML

// One fuzz input against the configuration loader (TOML → validated DaemonConfig). Compiled into the test
// target (which replays every kept input in Tests/Fuzz/config) and into the libFuzzer binary that scripts/fuzz
// builds.
@testable import SynxDaemon

/// Parses `input` as synxd.toml text: it is a configuration whose meters each name a defined bus, or a
/// `ConfigError` (naming this file or a profile file it points to), never a trap.
func fuzzConfiguration(_ input: [UInt8]) {
    do {
        let config = try DaemonConfig.parse(text: String(decoding: input, as: UTF8.self), file: "fuzz.toml")
        for meter in config.meters {
            precondition(meter.pollIntervalMs > 0 && config.buses.contains { $0.name == meter.bus })
        }
    } catch is ConfigError {
    } catch {
        preconditionFailure("not a ConfigError: \(error)")
    }
}
