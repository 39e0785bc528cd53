// One fuzz input against the COMTRADE reader. Compiled into the test target (which replays every kept input in
// Tests/Fuzz/comtrade) and into the libFuzzer binary that scripts/fuzz builds.
import Foundation

@testable import SynxComtrade

/// Reads `input` as a `.cfg` text (up to the first NUL byte) and the `.dat` bytes after it; a malformed file
/// must be an error, never a trap, and what is read must be as large as it says.
func fuzzComtrade(_ input: [UInt8]) {
    let split = input.firstIndex(of: 0) ?? input.count
    let text = String(decoding: input[..<split], as: UTF8.self)
    guard let configuration = try? ComtradeReader.parseConfiguration(text, file: "fuzz.cfg") else { return }
    let data = Data(input[min(split + 1, input.count)...])
    guard let recording = try? ComtradeReader.parseData(data, configuration: configuration, file: "fuzz.dat") else {
        return
    }
    precondition(recording.analog.allSatisfy { $0.count == recording.sampleCount })
    _ = recording.sampleTimes()
}
