import Foundation
import SynxControl
import SynxMeters
import SynxModbus

/// Commissioning (`synxctl read`, `scan`, `profile check`; `docs/integration.md`): reads a user asks for, done
/// through the bus's own scheduler between its polls (`PollingPlant.commission`). Each request is bounded in
/// registers (`maxRegistersPerReadRequest`, `maxUnitsPerScan`, `maxRegistersPerProfileCheck`) and in time
/// (`PollingPlant.commissioningSeconds`); only root or synxd's user may send one (they touch a bus).
extension ControlHandler {
    /// `read`: `count` registers (or bits) of `unit` from `address`, raw and optionally decoded.
    func read(_ request: Request) -> Response {
        guard let bus = request.bus, let unit = request.unit, let table = request.table, let address = request.address
        else {
            return .failure(.invalidRequest, "read needs \"bus\", \"unit\", \"table\" and \"address\"")
        }
        var decoding: (type: RegisterType, order: WordOrder)?
        if let name = request.decode {
            guard let type = RegisterType(rawValue: name) else {
                return .failure(
                    .invalidRequest,
                    "\"decode\" must be one of: \(RegisterType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let order = WordOrder(rawValue: request.wordOrder ?? "high-first") else {
                return .failure(.invalidRequest, "\"wordOrder\" must be high-first or low-first")
            }
            decoding = (type, order)
        }
        if decoding != nil, table.holdsBits {
            return .failure(.invalidRequest, "\"decode\" applies to registers, not to \(table.rawValue)")
        }
        // Without a count, one register, or the registers of one value of the type to decode.
        let count = request.count ?? decoding?.type.wordCount ?? 1
        if let problem = ControlHandler.unitProblem(unit) ?? ControlHandler.rangeProblem(address, count, maxRegistersPerReadRequest) {
            return .failure(.invalidRequest, problem)
        }
        if let type = decoding?.type, count < type.wordCount {
            return .failure(.invalidRequest, "\(type.rawValue) needs \(type.wordCount) registers; \"count\" is \(count)")
        }
        let read = CommissioningRead(
            table: ControlHandler.modbusTable(table), unit: UInt8(unit), address: address, count: count)
        guard let commission else { return .failure(.internal, "commissioning is not available") }
        switch commission(bus, [read]) {
        case .failure(let f): return .failure(f.status, f.message)
        case .success(let ending):
            let outcome = ending.outcomes[0]
            var result = RegisterRead(
                bus: bus, unit: unit, table: table, address: address, words: [], error: nil, decoded: nil,
                elapsedMs: outcome.elapsedMs)
            switch outcome.result {
            case .success(let words):
                result.words = words
                if let (type, order) = decoding {
                    result.decode = type.rawValue
                    result.decoded = stride(from: 0, through: words.count - type.wordCount, by: type.wordCount).map {
                        let v = RegisterCodec.decode(words[$0..<($0 + type.wordCount)], as: type, order: order)
                        return v.isFinite ? v : nil
                    }
                }
            case .failure(let error): result.error = error.reason
            }
            var response = Response(status: .ok)
            response.registers = result
            return response
        }
    }

    /// The SunSpec marker "SunS" in holding registers 40000–40001 (SunSpec Information Model Specification §4.1).
    static let sunSpecMarker: [UInt16] = [0x5375, 0x6E53]

    /// `scan`: each unit id from `unit` to `lastUnit` (at most `maxUnitsPerScan`) read once at holding register
    /// 40000 (2 registers): registers or an exception mean a unit is there; the marker means SunSpec.
    func scan(_ request: Request) -> Response {
        guard let bus = request.bus, let first = request.unit else {
            return .failure(.invalidRequest, "scan needs \"bus\" and \"unit\" (and \"lastUnit\" for a range)")
        }
        let last = request.lastUnit ?? first
        // Every id of the range a unit id: 1–247, or 255 alone (248–254 are reserved).
        guard (1...247).contains(first) && (first...247).contains(last) || (first == 255 && last == 255) else {
            return .failure(.invalidRequest, "a scan covers unit ids 1–247 (or 255 alone), not \(first)–\(last)")
        }
        guard last - first < maxUnitsPerScan else {
            return .failure(.invalidRequest, "a scan covers 1 to \(maxUnitsPerScan) unit ids (\(first)–\(last) given)")
        }
        let units = Array(first...last)
        let reads = units.map { CommissioningRead(table: .holding, unit: UInt8($0), address: 40000, count: 2) }
        guard let commission else { return .failure(.internal, "commissioning is not available") }
        switch commission(bus, reads) {
        case .failure(let f): return .failure(f.status, f.message)
        case .success(let ending):
            var response = Response(status: .ok)
            // Out of time before the last id: the ones done, and where to go on (synxctl asks again from there).
            if !ending.complete { response.nextOffset = units[ending.outcomes.count] }
            response.scan = zip(units, ending.outcomes).map { unit, outcome in
                switch outcome.result {
                case .success(let words):
                    return UnitProbe(unit: unit, answer: .registers, detail: nil, sunspec: words == ControlHandler.sunSpecMarker)
                case .failure(let error):
                    switch error.kind {
                    case .exception(10), .exception(11):
                        // A gateway's "path unavailable" / "target device failed to respond": nobody at that id.
                        return UnitProbe(unit: unit, answer: .none, detail: error.reason, sunspec: false)
                    case .exception, .invalidException:
                        return UnitProbe(unit: unit, answer: .exception, detail: error.reason, sunspec: false)
                    default:
                        return UnitProbe(unit: unit, answer: .none, detail: error.reason, sunspec: false)
                    }
                }
            }
            return response
        }
    }

    /// `profileCheck`: every register of the candidate profile `profile` (TOML text) read once from meter
    /// `meter`'s bus and unit, each point decoded as a poll would.
    func profileCheck(_ request: Request) -> Response {
        guard let meter = request.meter, let text = request.profile else {
            return .failure(.invalidRequest, "profile check needs \"meter\" and \"profile\" (the profile's TOML text)")
        }
        guard let config = registry.config(of: meter) else { return .failure(.noSuchMeter, "no meter named \"\(meter)\"") }
        guard config.source == .registers else {
            return .failure(.invalidRequest, "meter \"\(meter)\" is a waveform stream, not polled registers")
        }
        let profile: MeterProfile
        do {
            profile = try ProfileLoader.parse(text: text, file: "profile")
        } catch {
            return .failure(.invalidRequest, "\(error)")
        }
        guard profile.discovery == .fixed else {
            return .failure(
                .invalidRequest, "a SunSpec profile finds its registers on the device: use synxctl scan to see the marker")
        }
        let blocks = ReadPlan(points: profile.points, mergeGap: profile.mergeGap).blocks
        let registers = blocks.map(\.count).reduce(0, +)
        guard registers <= maxRegistersPerProfileCheck else {
            return .failure(
                .tooLarge, "the profile reads \(registers) registers; a check reads at most \(maxRegistersPerProfileCheck)")
        }
        let reads = blocks.map {
            CommissioningRead(table: $0.table, unit: config.unit, address: $0.address, count: $0.count)
        }
        guard let commission else { return .failure(.internal, "commissioning is not available") }
        switch commission(config.bus, reads) {
        case .failure(let f): return .failure(f.status, f.message)
        case .success(let ending):
            var image = RegisterImage()
            var failures: [String] = []
            if !ending.complete {
                failures.append(
                    "\(blocks.count - ending.outcomes.count) of \(blocks.count) blocks found no room between the bus's polls within \(PollingPlant.commissioningSeconds) s")
            }
            for (block, outcome) in zip(blocks, ending.outcomes) {
                switch outcome.result {
                case .success(let words): image.store(words, table: block.table, address: block.address)
                case .failure(let error):
                    failures.append("\(block.table) \(block.address)–\(block.lastAddress): \(error.reason)")
                }
            }
            let plausibility = Plausibility(nominalVoltage: config.nominalVoltage)
            let points = profile.points.map { p -> CheckedPoint in
                let raw = image.words(p.table, p.address, p.type.wordCount)
                var point = CheckedPoint(
                    measurement: p.measurement.name, unit: p.measurement.unit,
                    table: ControlHandler.tableName(p.table), address: p.address,
                    type: "\(p.type.rawValue)\(p.type.wordCount > 1 ? " \(p.order.rawValue)" : "")",
                    raw: raw.map { $0.map { String(format: "%04X", $0) }.joined(separator: " ") } ?? "", value: nil,
                    note: nil)
                switch image.reading(of: p, plausible: plausibility.range(of: p)) {
                case .value(let v): point.value = v
                case .notImplemented: point.note = "not implemented (SunSpec marker)"
                case .invalid(let why): point.note = "invalid: \(why)"
                case .unread: point.note = "not read"
                }
                return point
            }
            var response = Response(status: .ok)
            response.profileCheck = ProfileCheck(
                profile: profile.name, meter: meter, reads: reads.count, failures: failures, points: points)
            return response
        }
    }

    /// The Modbus table a request names.
    private static func modbusTable(_ name: RegisterTableName) -> RegisterTable {
        switch name {
        case .coils: .coils
        case .discreteInputs: .discreteInputs
        case .holding: .holding
        case .input: .input
        }
    }

    /// The protocol's name of a Modbus table.
    private static func tableName(_ table: RegisterTable) -> RegisterTableName {
        switch table {
        case .coils: .coils
        case .discreteInputs: .discreteInputs
        case .holding: .holding
        case .input: .input
        }
    }

    /// Why `unit` is not a unit id a read may address (1–247, or 255 for a device behind a TCP gateway), or nil.
    private static func unitProblem(_ unit: Int) -> String? {
        (1...247).contains(unit) || unit == 255 ? nil : "\"unit\" must be 1–247 (or 255), not \(unit)"
    }

    /// Why `count` registers from `address` are not a read of at most `limit` inside the register space, or nil.
    private static func rangeProblem(_ address: Int, _ count: Int, _ limit: Int) -> String? {
        guard (1...limit).contains(count) else { return "\"count\" must be 1–\(limit), not \(count)" }
        guard (0...65535).contains(address), address <= 65536 - count else {
            return "registers \(address)… (\(count)) are outside 0–65535"
        }
        return nil
    }
}
