import Foundation
import SynxControl
import XCTest

/// Lying, broken and hostile Modbus peers (`Tests/peers/hostile_modbus.py`), each on a bus of its own beside
/// a healthy one: synxd stays up with bounded memory and descriptors, the healthy meter keeps its polls, the
/// hostile meter is offline or its values invalid with a clear reason, and nothing wrong is stored as good.
final class HostileMeterEndToEndTests: XCTestCase {
    var h: Harness!

    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    /// A profile of the peer's register image (float32, high word first, input registers).
    private func writeHostileProfile() throws {
        try FileManager.default.createDirectory(atPath: h.path("profiles"), withIntermediateDirectories: true)
        let registers = [
            ("voltage.l1n", 0), ("frequency", 2), ("current.l1", 4), ("power_factor.total", 6),
            ("power.active.total", 8),
        ]
        _ = try h.write(
            "profiles/hostile.toml",
            "[profile]\nname = \"hostile\"\ndocument = \"Tests/peers/hostile_modbus.py\"\n"
                + registers.map {
                    "[[register]]\nmeasurement = \"\($0.0)\"\nfunction = 4\naddress = \($0.1)\ntype = \"float32\"\n"
                }.joined())
    }

    /// What a hostile meter must end up as: its states and a fragment of its reason (nil: any reason).
    private struct Expectation {
        var mode: String
        var profile = "hostile"
        var states: Set<MeterState>
        var reason: String?
    }

    private static let gatewayModes: [Expectation] = [
        .init(mode: "silent", states: [.offline], reason: "read_input_registers unit 1 @0: timeout"),
        .init(mode: "exception:0", states: [.offline], reason: "invalid exception reply (code 0)"),
        .init(mode: "exception:4", states: [.offline], reason: "exception 4 (server device failure)"),
        .init(mode: "absurd:3.4e38", states: [.degraded], reason: "implausible value: voltage.l1n outside 0…2300 V"),
        .init(mode: "absurd:-3.4e38", states: [.degraded], reason: "implausible value: voltage.l1n outside 0…2300 V"),
        .init(mode: "absurd:1.4e-45", states: [.degraded], reason: "implausible value: frequency outside 10…100 Hz"),
        .init(mode: "absurd:1e30", states: [.degraded], reason: "implausible value"),
        .init(mode: "absurd:6.55e24", states: [.degraded], reason: "implausible value"),
        .init(mode: "absurd:nan", states: [.degraded], reason: "voltage.l1n not a number"),
        .init(mode: "absurd:inf", states: [.degraded], reason: "voltage.l1n infinite"),
        .init(mode: "garbage", states: [.offline], reason: nil),
        .init(mode: "wrong-unit", states: [.offline], reason: "reply from unit 2"),
        .init(mode: "wrong-function", states: [.offline], reason: "function 16 in reply"),
        .init(mode: "bytecount", states: [.offline], reason: "byte count"),
        .init(mode: "overlong", states: [.online, .offline, .degraded], reason: nil),
        .init(mode: "late:1500", states: [.offline], reason: "timeout"),
        .init(mode: "late-as:1500,2", states: [.offline], reason: "timeout"),
        .init(mode: "partial", states: [.offline], reason: "timeout"),
        .init(mode: "dribble:10", states: [.online], reason: nil),
        .init(mode: "split", states: [.online], reason: nil),
        .init(mode: "bad-mbap-length", states: [.offline], reason: "bad MBAP header"),
        .init(mode: "bad-protocol", states: [.offline], reason: "bad MBAP header (protocol 4660"),
        .init(mode: "wrong-tid", states: [.offline], reason: "timeout"),
        .init(mode: "flood-frames", states: [.offline], reason: "nobody asked for"),
        .init(mode: "flood-random", states: [.offline], reason: nil),
        .init(mode: "early-forged", states: [.online], reason: nil),
        .init(mode: "accept-close", states: [.offline], reason: "read_input_registers unit 1 @0: connection:"),
        .init(mode: "accept-rst", states: [.offline], reason: "read_input_registers unit 1 @0: connection:"),
        .init(mode: "sunspec-past-end", profile: "sunspec", states: [.offline], reason: "past register 65535"),
        .init(mode: "sunspec-loop", profile: "sunspec", states: [.offline], reason: "past register 65535"),
        .init(mode: "sunspec-sf:10", profile: "sunspec", states: [.degraded], reason: "implausible value"),
        .init(mode: "sunspec-sf:-10", profile: "sunspec", states: [.degraded], reason: "frequency outside 10…100 Hz"),
    ]

    /// Values no peer may get stored as good: the forged and late markers and anything implausible.
    private func assertNothingWrongStoredAsGood(
        _ meter: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for (measurement, range) in [
            ("voltage.l1n", 0.0...2300), ("frequency", 10.0...100), ("current.l1", -1e6...1e6),
        ] {
            for s in try h.stored(meter, measurement) where s.quality == .good {
                let v = try XCTUnwrap(s.value)
                XCTAssertTrue(
                    range.contains(v) && v != 998 && v != 999, "\(meter) \(measurement) = \(v) stored as good",
                    file: file, line: line)
            }
        }
    }

    /// Good rows of `meter`'s voltage per slot of `intervalMs` over [t1, t2), both half-way between slots. Waits
    /// until a row at or after `t2` is stored (rows are committed in time order, once a second).
    private func coverage(
        _ meter: String, intervalMs: Int64, from t1: Int64, to t2: Int64
    ) throws -> (good: Int, slots: Int, rows: Int) {
        h.waitUntil("\(meter)'s rows up to the end of the window committed") {
            try h.stored(meter, "voltage.l1n").contains { $0.time >= t2 }
        }
        let rows = try h.stored(meter, "voltage.l1n").filter { $0.time >= t1 && $0.time < t2 }
        return (rows.filter { $0.quality == .good }.count, Int((t2 - t1) / intervalMs), rows.count)
    }

    /// Half-way between two slots of `intervalMs`, at or after `t`.
    private func midSlot(after t: Int64, intervalMs: Int64) -> Int64 {
        (t / intervalMs + 1) * intervalMs + intervalMs / 2
    }

    private func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// `max_in_flight`: a gateway that takes several outstanding transactions and answers each 300 ms after it
    /// came (`Tests/peers/pipelining_gateway.py`, in front of synx-sim). Four meters polled every 500 ms keep
    /// every slot with `max_in_flight = 4`; one at a time, the same gateway can serve only about 40 % of them.
    func testMaxInFlight_aSlowGatewayThatTakesSeveralTransactions_servesEveryMetersSlots() throws {
        try FileManager.default.createDirectory(atPath: h.path("profiles"), withIntermediateDirectories: true)
        _ = try h.write(
            "profiles/one.toml",
            "[profile]\nname = \"one\"\n[[register]]\nmeasurement = \"voltage.l1n\"\nfunction = 4\naddress = 0\ntype = \"float32\"\n"
        )
        let simPort = try h.startSimulator(scenario: (1...4).map { "[[unit]]\nid = \($0)\n" }.joined())
        let python = Harness.repository.appendingPathComponent(".venv/bin/python3").path
        var ports: [String: Int] = [:]
        for name in ["pipelined", "one-at-a-time"] {
            try h.start(
                python,
                [
                    Harness.repository.appendingPathComponent("Tests/peers/pipelining_gateway.py").path,
                    "--upstream", "127.0.0.1:\(simPort)", "--delay-ms", "300",
                ], name: name)
            h.waitUntil("\(name) gateway ready") { h.output("\(name).out").contains("ready\n") }
            let line = try XCTUnwrap(h.output("\(name).out").split(separator: "\n").first { $0.hasPrefix("tcp ") })
            ports[name] = try XCTUnwrap(Int(line.split(separator: ":").last!))
        }
        var config =
            h.daemonSection + h.tcpBus("pipelined", port: ports["pipelined"]!, timeoutMs: 1000) + "max_in_flight = 4\n"
            + h.tcpBus("one-at-a-time", port: ports["one-at-a-time"]!, timeoutMs: 1000)
        for unit in 1...4 {
            config +=
                h.meter("p\(unit)", bus: "pipelined", unit: unit, profile: "one", extra: "poll_interval_ms = 500\n")
                + h.meter(
                    "s\(unit)", bus: "one-at-a-time", unit: unit, profile: "one", extra: "poll_interval_ms = 500\n")
        }
        try h.startDaemon(config: config)
        h.waitUntil("every meter polled", timeout: 20) { try h.meters().allSatisfy { $0.polls > 0 } }
        let t1 = midSlot(after: now() + 1000, intervalMs: 500)
        let t2 = t1 + 10_000
        h.waitUntil("10 s of polls", timeout: 20) { now() >= t2 + 500 }
        for unit in 1...4 {
            let (good, slots, rows) = try coverage("p\(unit)", intervalMs: 500, from: t1, to: t2)
            let m = try h.meter("p\(unit)")
            XCTAssertGreaterThanOrEqual(
                Double(good), 0.99 * Double(slots),
                "p\(unit), 4 in flight: \(good) good of \(slots) slots (\(rows) rows); \(m.state) \(m.lastError ?? "-")"
            )
            let (sequentialGood, _, _) = try coverage("s\(unit)", intervalMs: 500, from: t1, to: t2)
            XCTAssertLessThan(
                Double(sequentialGood), 0.6 * Double(slots),
                "s\(unit), one at a time: \(sequentialGood) good of \(slots)")
            XCTAssertGreaterThan(
                Double(sequentialGood), 0.2 * Double(slots),
                "s\(unit), one at a time, still polls: \(sequentialGood) of \(slots)")
        }
        XCTAssertTrue(
            h.output("pipelined.out").contains("outstanding 4"), "the gateway saw 4 transactions outstanding at once")
        XCTAssertFalse(h.output("one-at-a-time.out").contains("outstanding 2"), "one at a time means one at a time")
        // A serial framing cannot take it: no transaction ids to tell replies apart.
        _ = try h.write(
            "rtu.toml",
            h.daemonSection
                + "\n[[bus]]\nname = \"r\"\ntype = \"rtu-over-tcp\"\nhost = \"127.0.0.1\"\nmax_in_flight = 2\n"
                + h.meter("m", bus: "r", unit: 1))
        let (code, _, err) = try h.run("synxd", ["--check-config", "--config", h.path("rtu.toml")])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("max_in_flight: only a Modbus/TCP gateway"), err)
    }

    func testHostileGateways_eachOnItsOwnBus_getNothingWrongStored_andTheHealthyBusKeepsItsPolls() throws {
        try writeHostileProfile()
        let simPort = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        var config =
            h.daemonSection + h.tcpBus("ok", port: simPort)
            + h.meter("ok", bus: "ok", unit: 1, extra: "poll_interval_ms = 250\n")
        for (i, e) in Self.gatewayModes.enumerated() {
            let port = try XCTUnwrap(
                try h.startHostilePeer(
                    ["--tcp", "127.0.0.1:0", "--unit", "1=\(e.mode)", "--seed", "\(i)"], name: "peer\(i)"))
            config += h.tcpBus("b\(i)", port: port) + h.meter("h\(i)", bus: "b\(i)", unit: 1, profile: e.profile)
        }
        // Shared gateways: a healthy unit 1 beside a dead or late unit 2 behind the same connection.
        for (name, mode) in [("gw-silent", "silent"), ("gw-late", "late:1500")] {
            let port = try XCTUnwrap(
                try h.startHostilePeer(
                    ["--tcp", "127.0.0.1:0", "--unit", "1=healthy", "--unit", "2=\(mode)"], name: name))
            config +=
                h.tcpBus(name, port: port, timeoutMs: 1000)
                + h.meter("\(name)-ok", bus: name, unit: 1, profile: "hostile", extra: "poll_interval_ms = 500\n")
                + h.meter("\(name)-bad", bus: name, unit: 2, profile: "hostile", extra: "poll_interval_ms = 500\n")
        }
        let daemon = try h.startDaemon(config: config)
        h.waitUntil("the dead and the late unit behind a gateway offline", timeout: 30) {
            try h.meter("gw-silent-bad").state == .offline && h.meter("gw-late-bad").state == .offline
        }
        for (i, e) in Self.gatewayModes.enumerated() {
            let reached = h.waitUntil("\(e.mode): \(e.states) with «\(e.reason ?? "any reason")»", timeout: 30) {
                let m = try h.meter("h\(i)")
                return e.states.contains(m.state) && (e.reason == nil || m.lastError?.contains(e.reason!) == true)
            }
            if !reached, let m = try? h.meter("h\(i)") { XCTFail("\(e.mode): \(m.state) «\(m.lastError ?? "-")»") }
        }
        // The healthy meter, on its own connection, over 10 s with every hostile peer at work.
        let probesBefore = try h.meter("gw-silent-bad").polls
        let t1 = midSlot(after: now(), intervalMs: 250)
        let t2 = t1 + 10_000
        h.waitUntil("10 s of the healthy meter's polls", timeout: 20) { now() >= t2 + 500 }
        let (good, slots, rows) = try coverage("ok", intervalMs: 250, from: t1, to: t2)
        XCTAssertGreaterThanOrEqual(
            Double(good), 0.99 * Double(slots), "healthy meter: \(good) good polls of \(slots) slots (\(rows) rows)")
        let meters = try h.meters()
        let buses = try h.buses()
        for name in ["gw-silent", "gw-late"] {
            let (good, slots, rows) = try coverage("\(name)-ok", intervalMs: 500, from: t1, to: t2)
            let okStatus = try XCTUnwrap(meters.first { $0.name == "\(name)-ok" })
            let seen = try h.stored("\(name)-ok", "voltage.l1n").filter { $0.time >= t1 && $0.time < t2 }.map {
                "\($0.time % 100_000):\($0.quality)"
            }
            XCTAssertGreaterThanOrEqual(
                Double(good), 0.99 * Double(slots),
                "\(name): the healthy unit kept \(good) of \(slots) slots (\(rows) rows); missed \(okStatus.missedPolls ?? [:]); \(seen)"
            )
            try assertNothingWrongStoredAsGood("\(name)-ok")
            try assertNothingWrongStoredAsGood("\(name)-bad")
        }
        // Behind a gateway (replies matched on transaction ids) the dead unit is still probed, in the room its
        // healthy neighbour leaves, so it would be seen within the 10-s backoff if it came back.
        XCTAssertGreaterThan(
            try XCTUnwrap(meters.first { $0.name == "gw-silent-bad" }).polls, probesBefore,
            "the isolated unit behind the gateway is probed")
        let okBus = try XCTUnwrap(buses.first { $0.name == "ok" })
        XCTAssertLessThanOrEqual(okBus.pollLatenessP99Ms, 50, "p99 poll-start lateness of the healthy bus")
        for (i, e) in Self.gatewayModes.enumerated() {
            let m = try XCTUnwrap(meters.first { $0.name == "h\(i)" })
            XCTAssertTrue(e.states.contains(m.state), "\(e.mode): \(m.state) \(m.lastError ?? "")")
            try assertNothingWrongStoredAsGood("h\(i)")
            if m.state == .degraded {
                XCTAssertFalse((m.invalidValues ?? [:]).isEmpty, "\(e.mode): invalid values counted")
            }
        }
        let forged = try XCTUnwrap(
            buses.first { $0.name == "b\(Self.gatewayModes.firstIndex { $0.mode == "early-forged" }!)" })
        XCTAssertGreaterThan(forged.strayFrames ?? 0, 0, "the forged frames are counted as stray")
        let (rssKiB, descriptors) = h.resources(of: daemon)
        XCTAssertLessThan(rssKiB, 200 * 1024, "synxd's resident memory")
        XCTAssertLessThan(descriptors, 120, "synxd's descriptors (\(Self.gatewayModes.count + 1) buses)")
        // SIGTERM stops the daemon promptly even with a peer flooding it.
        kill(daemon.processIdentifier, SIGTERM)
        h.waitUntil("synxd stopped after SIGTERM", timeout: 10) { !daemon.isRunning }
        XCTAssertEqual(daemon.terminationStatus, 0)
    }

    /// One serial line per behaviour: a healthy unit 1 and a misbehaving unit 2 (`Tests/peers/hostile_modbus.py`).
    private static let lineModes:
        [(mode: String, byteDelay: Bool, states: Set<MeterState>, reason: String?, neighbourKeepsPolls: Bool)] = [
            ("late:1500", false, [.offline], "timeout", true),
            ("late-as:1500,1", false, [.offline], "timeout", true),
            ("late-as:1500,1", true, [.offline], "timeout", true),
            ("silent", false, [.offline], "timeout", true),
            ("exception:0", false, [.offline], "invalid exception reply (code 0)", true),
            ("absurd:3.4e38", false, [.degraded], "implausible value: voltage.l1n outside 0…2300 V", true),
            ("absurd:1e30", false, [.degraded], "implausible value", true),
            ("garbage", false, [.offline], nil, true),
            ("partial", false, [.offline], "timeout", true),
            ("crc", false, [.offline], "CRC error", true),
            ("wrong-unit", false, [.offline], nil, true),
            ("overlong", false, [.offline], "more bytes followed the reply", true),
            ("noise:150", false, [.online, .degraded, .offline], nil, false),
        ]

    func testHostileSlavesOnASerialLine_neverGetAValueStoredForAnotherRequest_andTheHealthyUnitKeepsItsPolls() throws {
        try writeHostileProfile()
        var config = h.daemonSection
        for (i, line) in Self.lineModes.enumerated() {
            let a = h.path("tty\(i)a")
            let b = h.path("tty\(i)b")
            try h.start("/usr/bin/socat", ["pty,raw,echo=0,link=\(a)", "pty,raw,echo=0,link=\(b)"], name: "socat\(i)")
            h.waitUntil("pty pair \(i)") {
                FileManager.default.fileExists(atPath: a) && FileManager.default.fileExists(atPath: b)
            }
            try h.startHostilePeer(
                ["--rtu", b, "--unit", "1=healthy", "--unit", "2=\(line.mode)", "--seed", "\(i)"]
                    + (line.byteDelay ? ["--byte-delay-ms", "1.04"] : []), name: "slave\(i)")
            // The defaults a user gets: 1000 ms timeout, 1 retry.
            config +=
                "\n[[bus]]\nname = \"line\(i)\"\ntype = \"rtu\"\ndevice = \"\(a)\"\nbaud = 9600\n"
                + h.meter("ok\(i)", bus: "line\(i)", unit: 1, profile: "hostile", extra: "poll_interval_ms = 500\n")
                + h.meter("bad\(i)", bus: "line\(i)", unit: 2, profile: "hostile", extra: "poll_interval_ms = 500\n")
        }
        let daemon = try h.startDaemon(config: config)
        for (i, line) in Self.lineModes.enumerated() {
            let reached = h.waitUntil(
                "line \(i) \(line.mode): \(line.states) with «\(line.reason ?? "any reason")»", timeout: 30
            ) {
                let m = try h.meter("bad\(i)")
                return line.states.contains(m.state)
                    && (line.reason == nil || m.lastError?.contains(line.reason!) == true)
            }
            if !reached, let m = try? h.meter("bad\(i)") { XCTFail("\(line.mode): \(m.state) «\(m.lastError ?? "-")»") }
        }
        // Once the failing unit is isolated, its neighbour keeps every slot: over 20 s, 40 polls at 500 ms.
        let t1 = midSlot(after: now() + 3000, intervalMs: 500)
        let t2 = t1 + 20_000
        h.waitUntil("20 s of polls on every line", timeout: 30) { now() >= t2 + 1000 }
        let status = try h.status()
        let meters = try h.meters()
        let buses = try h.buses()
        for (i, line) in Self.lineModes.enumerated() {
            try assertNothingWrongStoredAsGood("ok\(i)")
            try assertNothingWrongStoredAsGood("bad\(i)")
            let bad = try XCTUnwrap(meters.first { $0.name == "bad\(i)" })
            XCTAssertTrue(line.states.contains(bad.state), "\(line.mode): \(bad.state) \(bad.lastError ?? "")")
            if line.mode == "exception:0" {
                XCTAssertFalse(bad.lastError?.contains("connection") ?? true, bad.lastError ?? "")
            }
            guard line.neighbourKeepsPolls else { continue }
            let (good, slots, rows) = try coverage("ok\(i)", intervalMs: 500, from: t1, to: t2)
            XCTAssertGreaterThanOrEqual(
                Double(good), 0.99 * Double(slots),
                "line \(i) (\(line.mode)): \(good) good of \(slots) slots, \(rows) rows")
            // Every slot of the failing unit has a row: a poll's, or a `missing` one for a slot without a poll.
            let (_, badSlots, badRows) = try coverage("bad\(i)", intervalMs: 500, from: t1, to: t2)
            XCTAssertGreaterThanOrEqual(
                badRows, badSlots - 1, "line \(i) (\(line.mode)): rows of the failing unit per slot")
            if bad.state == .offline {
                XCTAssertGreaterThan((bad.missedPolls ?? [:]).values.reduce(0, +), 0, "missed polls counted")
            }
            // What the failing unit cost its neighbour, all told (docs/configuration.md): its first failing poll,
            // 2 × (1 s timeout + 1 s quiet) = 4 s, is at most 8 slots of 500 ms (9 with the slot it began in).
            let ok = try XCTUnwrap(meters.first { $0.name == "ok\(i)" })
            let lost = (ok.missedPolls ?? [:]).values.reduce(0, +)
            print("line \(i) (\(line.mode)): the healthy unit lost \(lost) slots in all: \(ok.missedPolls ?? [:])")
            XCTAssertLessThanOrEqual(
                lost, 9, "line \(i) (\(line.mode)): slots the healthy unit lost in all: \(ok.missedPolls ?? [:])")
        }
        for (i, line) in Self.lineModes.enumerated() where line.mode.hasPrefix("late") {
            let bus = try XCTUnwrap(buses.first { $0.name == "line\(i)" })
            XCTAssertGreaterThan(bus.strayFrames ?? 0, 0, "line \(i): late replies are dropped and counted")
        }
        // The missing rows of slots a late poll passed are stored in time order, at their slots (none counts
        // as a repeated time: the clock never stepped).
        XCTAssertEqual(status.store.overlapRows ?? 0, 0, "rows kept aside without a clock step")
        let (rssKiB, descriptors) = h.resources(of: daemon)
        XCTAssertLessThan(rssKiB, 200 * 1024, "synxd's resident memory")
        XCTAssertLessThan(descriptors, 60, "synxd's descriptors (\(Self.lineModes.count) serial lines)")
        XCTAssertTrue(daemon.isRunning)
    }

    /// Lies of a waveform device, each on its own bus, and the reason synxd gives for each.
    private static let waveformLies: [(mode: String, state: MeterState, reason: String)] = [
        ("rate:0", .offline, "sample rate 0 S/s"),
        ("rate:4294967295", .offline, "sample rate 4294967295 S/s"),
        ("epoch:0xFFFFFFFFFFFFFFFF", .offline, "from the host's clock"),
        ("epoch:2^63", .offline, "from the host's clock"),
        ("epoch:year9999", .offline, "from the host's clock"),
        ("epoch-dip:0xFFFFFFFFFFFFFFFF", .offline, "from the host's clock"),
        ("scale:nan", .offline, "has scale nan"),
        ("scale:inf", .offline, "has scale inf"),
        ("scale:0", .offline, "has scale 0.0"),
        ("duplicate-channels", .offline, "measure the same voltage of phase 1"),
        ("no-phase-voltage", .offline, "no phase voltage channel"),
        ("bad-magic", .offline, "no synx waveform interface here"),
        ("bad-version", .offline, "interface version 2"),
        ("channels:0", .offline, "0 channels"),
        ("channels:9", .offline, "9 channels"),
        ("block:0", .offline, "does not fit one read"),
        ("block:200", .offline, "does not fit one read"),
        ("fifo:1", .offline, "FIFO depth 1"),
        ("fifo:65535", .offline, "FIFO depth 65535"),
        ("phase:5", .offline, "phase 5"),
        ("kind:7", .offline, "kind 7"),
        ("nominal:55", .offline, "nominal frequency 55 Hz"),
        ("seq-mismatch", .degraded, "holds another block"),
        ("stuck", .degraded, "newest block stands still"),
        ("bursty:250", .online, ""),
        ("dip:2,0.5,0.5", .online, ""),
    ]

    func testLyingWaveformDevices_areOfflineOrDegradedWithTheReason_andThePolledMeterKeepsItsCadence() throws {
        let simPort = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        var config =
            h.daemonSection + h.tcpBus("ok", port: simPort)
            + h.meter("ok", bus: "ok", unit: 1, extra: "poll_interval_ms = 250\n")
        for (i, lie) in Self.waveformLies.enumerated() {
            let port = try XCTUnwrap(
                try h.startHostilePeer(["--tcp", "127.0.0.1:0", "--waveform", "1=\(lie.mode)"], name: "device\(i)"))
            config += h.tcpBus("w\(i)", port: port) + h.meter("w\(i)", bus: "w\(i)", unit: 1, profile: "waveform")
        }
        let daemon = try h.startDaemon(config: config)
        for (i, lie) in Self.waveformLies.enumerated() {
            let reached = h.waitUntil("\(lie.mode): \(lie.state) with «\(lie.reason)»", timeout: 30) {
                let m = try h.meter("w\(i)")
                return m.state == lie.state && (lie.reason.isEmpty || m.lastError?.contains(lie.reason) == true)
            }
            if !reached, let m = try? h.meter("w\(i)") { XCTFail("\(lie.mode): \(m.state) «\(m.lastError ?? "-")»") }
        }
        let before = h.resources(of: daemon)
        let t1 = midSlot(after: now(), intervalMs: 250)
        let t2 = t1 + 10_000
        h.waitUntil("10 s of the polled meter's polls", timeout: 20) { now() >= t2 + 500 }
        let (good, slots, rows) = try coverage("ok", intervalMs: 250, from: t1, to: t2)
        XCTAssertGreaterThanOrEqual(
            Double(good), 0.99 * Double(slots), "polled meter: \(good) good of \(slots) slots (\(rows) rows)")
        let after = h.resources(of: daemon)
        XCTAssertLessThan(
            after.rssKiB - before.rssKiB, 32 * 1024,
            "synxd's memory over 10 s of lies: \(before.rssKiB) → \(after.rssKiB) KiB")
        XCTAssertLessThanOrEqual(after.descriptors, before.descriptors + 5)
        // The lies are logged once each (and on changes of state), not for every block.
        let lines = h.output("synxd.err").split(separator: "\n").count
        XCTAssertLessThan(lines, 40 * Self.waveformLies.count, "synxd wrote \(lines) log lines")
        let healthy = try h.meter("w\(Self.waveformLies.count - 1)")
        XCTAssertEqual(healthy.state, .online)
        // A device whose newest block stands still between rounds is not overrun (2³² − 1 blocks lost, half its
        // FIFO analysed again): its 10-s values hold at most the cycles of 10 s at 50 Hz.
        let bursty = try XCTUnwrap(Self.waveformLies.firstIndex { $0.mode.hasPrefix("bursty") })
        let db = h.path("state/synx.sqlite")
        XCTAssertGreaterThan(
            Int(try h.sqlite(db, "SELECT count(*) FROM pq_aggregates WHERE meter = 'w\(bursty)' AND tier = '10-s'"))
                ?? 0, 0)
        let cycles = try h.sqlite(
            db, "SELECT coalesce(max(count), 0) FROM pq_aggregates WHERE meter = 'w\(bursty)' AND tier = '10-s'")
        XCTAssertLessThanOrEqual(Int(cycles) ?? .max, 505, "10-s aggregate of \(cycles) cycles")
        XCTAssertTrue(daemon.isRunning)
    }
}
