// One fuzz input against the store's blob decoders. Compiled into the test target (which replays every kept input
// in Tests/Fuzz/store-blob) and into the libFuzzer binary that scripts/fuzz builds.
@testable import SynxStore

/// Decodes `input` (after its first byte) as a series block when the first byte is even, as a head batch when it
/// is odd; a damaged blob must be an error, never a trap, and what decodes must encode back to the same points.
func fuzzStoreBlob(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let blob = Array(input.dropFirst())
    if selector & 1 == 0 {
        guard let points = try? SeriesBlockDecoder.decode(blob) else { return }
        var again = SeriesBlockEncoder(hasCounts: blob[1] == 1)
        points.forEach { again.append($0) }
        guard let back = try? SeriesBlockDecoder.decode(again.encoded) else {
            preconditionFailure("a re-encoded block does not decode")
        }
        precondition(back.count == points.count)
        for (a, b) in zip(points, back) {
            precondition(
                a.time == b.time && a.value?.bitPattern == b.value?.bitPattern && a.flags == b.flags
                    && a.count == b.count && a.expected == b.expected, "a re-encoded block differs")
        }
    } else {
        guard let rows = try? HeadBatch.decode(blob) else { return }
        guard let back = try? HeadBatch.decode(HeadBatch.encode(rows)) else {
            preconditionFailure("a re-encoded head batch does not decode")
        }
        precondition(back.count == rows.count)
        for (a, b) in zip(rows, back) {
            precondition(
                a.series == b.series && a.hasCounts == b.hasCounts && a.point.time == b.point.time
                    && a.point.value?.bitPattern == b.point.value?.bitPattern && a.point.flags == b.point.flags
                    && a.point.count == b.point.count && a.point.expected == b.point.expected,
                "a re-encoded head batch differs")
        }
    }
}
