// One fuzz input against what /metrics reads from a client and writes back. Compiled into the test target (which
// replays every kept input in Tests/Fuzz/metrics-request) and into the libFuzzer binary that scripts/fuzz builds.
import SynxMetrics

@testable import SynxDaemon

/// Finds the request head's end in `input` as the server does, parses the head, negotiates its `Accept`, and
/// writes the input as a label value and help text in both formats: whatever the bytes, no trap, a parsed path
/// has no query, and an escaped value never breaks a sample over two lines.
func fuzzMetricsRequest(_ input: [UInt8]) {
    let head = input.indexOfBlankLine.map { Array(input[..<$0]) } ?? input
    if let request = HTTPRequestHead(String(decoding: head, as: UTF8.self)) {
        precondition(!request.path.contains("?"), "a path with its query")
        precondition(!request.method.isEmpty)
        _ = ExpositionFormat.negotiate(accept: request.header("accept"))
    }
    let text = String(decoding: input, as: UTF8.self)
    let family = MetricFamily(
        name: "synx_fuzz", kind: .counter, help: text, samples: [.init([.init("reason", text)], 1)])
    for format in [ExpositionFormat.prometheus, .openMetrics] {
        let page = Exposition.render([family], as: format)
        let lines = page.split(separator: "\n", omittingEmptySubsequences: false)
        precondition(lines.count == (format == .prometheus ? 4 : 5), "a value or help text broke a line")
        precondition(!page.contains("\r"), "a carriage return written raw")
    }
}
