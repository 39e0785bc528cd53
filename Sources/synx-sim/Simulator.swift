import CModbus
import Foundation
import Glibc
import SynxMeters
import SynxModbus

/// The simulator: hosts the scenario's units behind real Modbus/TCP listeners and Modbus/RTU serial
/// devices. libmodbus's server side parses requests and builds replies; the simulator chooses the unit's
/// register map for each request and injects the scenario's faults.
final class Simulator: @unchecked Sendable {
    let scenario: Scenario
    private let units: [UInt8: SimulatedUnit]
    let waveforms: [UInt8: WaveformUnit]
    /// Guards the fault dice; each unit's registers have a lock of their own, so connections to different
    /// units never wait for each other.
    private let lock = NSLock()
    private let startTime = Date()
    private var random: SplitMix64
    private let statePath: String?

    init(scenario: Scenario, statePath: String?) throws {
        self.scenario = scenario
        self.statePath = statePath
        random = SplitMix64(seed: scenario.seed)
        let builtins = try ProfileLoader.loadAll(directories: [])
        var units: [UInt8: SimulatedUnit] = [:]
        for u in scenario.units { units[u.id] = SimulatedUnit(config: u, seed: scenario.seed, builtins: builtins) }
        self.units = units
        let epoch = startTime
        waveforms = Dictionary(
            uniqueKeysWithValues: try scenario.waveforms.map {
                ($0.id, try WaveformUnit(config: $0, changes: scenario.changes, epoch: epoch))
            })
        update(dt: 0)
    }

    var elapsed: Double { Date().timeIntervalSince(startTime) }

    // MARK: - Values

    /// Moves every unit's values forward in time, on a thread of its own.
    func startUpdating() {
        if !waveforms.isEmpty {
            // Waveform units produce their sample blocks in real time, every 5 ms.
            let t = Thread { [self] in
                while true {
                    let now = elapsed
                    for w in waveforms.values { w.advance(to: now) }
                    usleep(5000)
                }
            }
            t.name = "waveforms"
            t.start()
        }
        guard scenario.updateIntervalMs > 0 else { return }
        let t = Thread { [self] in
            let interval = Double(scenario.updateIntervalMs) / 1000
            while true {
                Thread.sleep(forTimeInterval: interval)
                update(dt: interval)
            }
        }
        t.start()
    }

    private func update(dt: Double) {
        let t = elapsed
        for u in units.values { u.lock.withLock { u.update(at: t, dt: dt) } }
        writeState()
    }

    /// Writes what every unit serves now as JSON (atomically), for tests to compare against.
    private func writeState() {
        guard let statePath else { return }
        let snapshot = Dictionary(
            uniqueKeysWithValues: units.map { id, u in (String(id), u.lock.withLock { u.served }) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(["units": snapshot]) else { return }
        let tmp = statePath + ".tmp"
        _ = FileManager.default.createFile(atPath: tmp, contents: data)
        rename(tmp, statePath)
    }

    // MARK: - Requests

    /// What to do with one request.
    enum Action {
        case reply, ignore
        case exception(UInt8)
        case badCRC, garbage
    }

    /// What the scenario's faults make of one request: the action, and how long before it is carried out.
    struct Decision {
        let action: Action
        /// The `delay` faults that matched, summed.
        let delayMilliseconds: Int
    }

    /// Rolls the fault dice for a parsed request (`headerLength` 7 for TCP, 1 for RTU). Nothing waits here:
    /// each listener waits out the delay its own way.
    func decide(request: [UInt8], headerLength: Int) -> Decision {
        let address = Int(request[headerLength + 1]) << 8 | Int(request[headerLength + 2])
        let count = Int(request[headerLength + 3]) << 8 | Int(request[headerLength + 4])
        return decide(unit: request[headerLength - 1], address: address, count: count)
    }

    /// Decides the action for a request to `unit` reading `count` registers at `address`: the first matching
    /// fault other than `delay` (a reply if none), after every matching `delay`.
    private func decide(unit: UInt8, address: Int, count: Int) -> Decision {
        guard units[unit] != nil || waveforms[unit] != nil else {
            return Decision(action: .ignore, delayMilliseconds: 0)
        }
        let now = elapsed
        var delay = 0
        for fault in scenario.faults {
            let roll = lock.withLock { random.nextUnit() }
            guard fault.applies(unit: unit, elapsed: now, first: address, count: count, roll: roll) else { continue }
            switch fault.kind {
            case .delay: delay += fault.delayMs
            case .silent: return Decision(action: .ignore, delayMilliseconds: delay)
            case .exception: return Decision(action: .exception(fault.code), delayMilliseconds: delay)
            case .crc: return Decision(action: .badCRC, delayMilliseconds: delay)
            case .garbage: return Decision(action: .garbage, delayMilliseconds: delay)
            }
        }
        return Decision(action: .reply, delayMilliseconds: delay)
    }

    /// Carries out `action` for a parsed request on `ctx`. `headerLength` is 7 for TCP (MBAP) and 1 for RTU.
    func answer(ctx: OpaquePointer, request: [UInt8], length: Int, headerLength: Int, action: Action) {
        let unitID = request[headerLength - 1]
        let function = request[headerLength]
        let count = Int(request[headerLength + 3]) << 8 | Int(request[headerLength + 4])
        switch action {
        case .ignore:
            // A TCP gateway reports a unit that does not answer (Modbus application protocol §7, code 11).
            if headerLength == 7 && units[unitID] == nil && waveforms[unitID] == nil {
                modbus_reply_exception(ctx, request, 11)
            }
        case .exception(let code):
            modbus_reply_exception(ctx, request, UInt32(code))
        case .reply:
            if let unit = units[unitID] {
                unit.lock.withLock { _ = modbus_reply(ctx, request, Int32(length), unit.mapping) }
            } else if let w = waveforms[unitID] {
                w.lock.withLock { _ = modbus_reply(ctx, request, Int32(length), w.mapping) }
            }
        case .badCRC:
            send(ctx, corruptReply(request: request, headerLength: headerLength, function: function, count: count))
        case .garbage:
            // Not a frame at all: a master must time out or reject it, never decode it.
            send(
                ctx,
                headerLength == 1 ? [request[0], 0xFF, 0x00, 0x13, 0x37] : [0x47, 0x41, 0x52, 0x42, 0x41, 0x47, 0x45])
        }
    }

    private func send(_ ctx: OpaquePointer, _ bytes: [UInt8]) {
        let fd = modbus_get_socket(ctx)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// A well-formed reply with a wrong check: a bad CRC on RTU, a bad MBAP protocol id on TCP.
    private func corruptReply(request: [UInt8], headerLength: Int, function: UInt8, count: Int) -> [UInt8] {
        let data = [UInt8](repeating: 0x5A, count: 2 * min(count, 125))
        if headerLength == 1 {
            let frame = ModbusCRC.appending(to: [request[0], function, UInt8(data.count)] + data)
            var bad = frame
            bad[bad.count - 1] ^= 0xFF
            return bad
        }
        let pduLength = 3 + data.count
        return [
            request[0], request[1], 0x12, 0x34, UInt8(pduLength >> 8), UInt8(pduLength & 0xFF), request[6], function,
            UInt8(data.count),
        ] + data
    }
}

/// A small seeded generator (SplitMix64), so fault probabilities repeat run to run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
