// One fuzz input against the control request path in process: decode → validate → handle against a real
// store → encode, as a connection's session does. Compiled into the test target (which replays every kept
// input in Tests/Fuzz/control-request) and into the libFuzzer binary that scripts/fuzz builds.
import Foundation
import SynxControl
import SynxModbus
import SynxStore

@testable import SynxDaemon

/// A handler over a real SQLite store in a temporary directory holding an hour of 1-s voltage samples and a few
/// events of meter `m1`, built once per process.
private let fuzzedHandler: ControlHandler = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-fuzz-control-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/synx.sqlite"
    let store = try! SampleStore(path: path)
    let start: Int64 = 1_767_225_600_000  // 2026-01-01 UTC
    let samples = (0..<3600).map { (i: Int) -> SampleRow in
        SampleRow(
            meter: "m1", measurement: "voltage.l1n", unit: "V", time: start + Int64(i) * 1000,
            value: 230 + Double(i % 7), quality: i % 100 == 0 ? .invalid : .good)
    }
    let events = (0..<5).map { (i: Int) -> EventRow in
        EventRow(
            meter: "m1", kind: "dip", startMicroseconds: (start + Int64(i) * 600_000) * 1000,
            durationMicroseconds: 60_000,
            magnitude: 150, reference: 230, steadyStateChange: nil, worstPhase: "l1", perPhase: ["l1": 150],
            incomplete: false, resolutionMicroseconds: 10_000)
    }
    try! store.insert(samples, records: StoreRecords(events: events))
    let config = try! DaemonConfig.parse(
        text: """
            [daemon]
            profile_directories = []
            [[bus]]
            name = "b"
            type = "tcp"
            host = "127.0.0.1"
            [[meter]]
            name = "m1"
            bus = "b"
            unit = 1
            profile = "synx-sim"
            """, file: "fuzz.toml")
    let registry = MeterRegistry()
    config.meters.forEach(registry.register(meter:))
    let handler = ControlHandler(registry: registry, writer: StoreWriter(store: store), databasePath: path, startedAt: Date())
    // Commissioning against a stand-in bus (a test double of `PollingPlant.commission`): unit 3 is silent, unit 4
    // refuses, the others answer with words that depend on the address (float32 NaNs and infinities included).
    handler.commission = { bus, reads in
        guard bus == "b" else { return .failure(CommandFailure(status: .invalidRequest, message: "no bus named \"\(bus)\"")) }
        // Unit 5 leaves no room after the first read (a bus that ran out of time).
        let done = reads.count > 1 && reads.contains { $0.unit == 5 } ? 1 : reads.count
        let outcomes = reads.prefix(done).map { r in
            switch r.unit {
            case 3: CommissioningOutcome(result: .failure(ModbusError(.timeout, function: "read")), elapsedMs: 1)
            case 4: CommissioningOutcome(result: .failure(ModbusError(.exception(2), function: "read")), elapsedMs: 1)
            default:
                CommissioningOutcome(
                    result: .success((0..<r.count).map { UInt16(truncatingIfNeeded: (r.address + $0) &* 0x7FC1) }),
                    elapsedMs: 1)
            }
        }
        return .success(CommissioningJob.Ending(outcomes: Array(outcomes), complete: done == reads.count, cancelled: false))
    }
    return handler
}()

/// Byte 0 picks the peer (even: root, odd: an unprivileged uid); the rest is the request line. Every line gets
/// a response that encodes as one JSON line within the per-response bounds, whatever it asks.
func fuzzControlRequest(_ input: [UInt8]) {
    guard let who = input.first else { return }
    let session = fuzzedHandler.session(peer: PeerCredentials(pid: 1, uid: who & 1 == 0 ? 0 : 65534, gid: 65534))
    let response = session.answer(Data(input.dropFirst()))
    precondition((response.query?.samples.count ?? 0) <= maxSamplesPerResponse)
    precondition((response.events?.count ?? 0) <= maxEventsPerResponse)
    precondition((response.registers?.words.count ?? 0) <= maxRegistersPerReadRequest)
    precondition((response.scan?.count ?? 0) <= maxUnitsPerScan)
    let line = try! Framing.encode(response)
    precondition(line.last == 0x0A && !line.dropLast().contains(0x0A), "a response is one line")
}
