import SynxTOML

// One fuzz input against the meter profile loader. Compiled into the test target (which replays every kept
// input in Tests/Fuzz/profile) and into the libFuzzer binary that scripts/fuzz builds.
@testable import SynxMeters

/// Parses `input` as a profile file: it is a profile whose every read stays inside the register space and
/// within one request's 125 registers, or a `ConfigError`, never a trap.
func fuzzProfile(_ input: [UInt8]) {
    do {
        let profile = try ProfileLoader.parse(text: String(decoding: input, as: UTF8.self), file: "fuzz.toml")
        for point in profile.points { precondition(point.address >= 0 && point.lastAddress <= 0xFFFF) }
        for block in ReadPlan(points: profile.points, mergeGap: profile.mergeGap).blocks {
            precondition(block.address >= 0 && block.lastAddress <= 0xFFFF && (1...125).contains(block.count))
        }
    } catch let error as ConfigError {
        precondition(error.file == "fuzz.toml")
    } catch {
        preconditionFailure("not a ConfigError: \(error)")
    }
}
