import SynxModbus

/// SunSpec device discovery and the meter models 201–204 (integer + scale factor) and 211–214 (float32)
/// of the SunSpec Information Model Specification.
///
/// A SunSpec device holds the marker `SunS` (0x5375 0x6E53) in two holding registers at 40000, 0 or 50000,
/// followed by a chain of models, each `ID, L, L registers`, ended by ID 0xFFFF. Discovery walks the chain
/// and builds a profile whose points read each model block — values and their scale factors — in one request.
public enum SunSpec {
    /// The bases at which the marker is searched, in the specification's order.
    public static let baseAddresses = [40000, 0, 50000]
    public static let marker: [UInt16] = [0x5375, 0x6E53]
    public static let endModelID: UInt16 = 0xFFFF

    /// A meter model found on a device.
    public struct FoundModel: Equatable, Sendable {
        public var id: Int
        /// Address of the first data register (after ID and L).
        public var dataAddress: Int
        public var length: Int

        /// A model `id` whose data starts at `dataAddress`, `length` registers long.
        public init(id: Int, dataAddress: Int, length: Int) {
            self.id = id
            self.dataAddress = dataAddress
            self.length = length
        }
    }

    /// Discovery as a sequence of reads, so a synchronous bus thread and the event-driven TCP reactor drive
    /// the same logic: ask `nextRead`, perform it, `feed` the result, until `result` is set.
    public struct Discovery {
        private enum Phase { case marker(Int), header(address: Int, hops: Int), finished }
        private var phase = Phase.marker(0)
        public private(set) var result: Result<FoundModel, Error>?

        /// A discovery at its first step (reading the `SunS` marker at the base addresses in turn).
        public init() {}

        /// The holding registers to read next, or nil when discovery has finished.
        public var nextRead: (address: Int, count: Int)? {
            switch phase {
            case .marker(let i): return (baseAddresses[i], 2)
            case .header(let address, _): return (address, 2)
            case .finished: return nil
            }
        }

        /// Takes the result of the read `nextRead` asked for and moves to the next step (or to `result`).
        public mutating func feed(_ read: Result<[UInt16], Error>) {
            switch (phase, read) {
            case (.marker(let i), .success(let words)) where words == marker:
                phase = .header(address: baseAddresses[i] + 2, hops: 0)
            case (.marker(let i), _):
                // An unreachable device will not answer at the other bases either.
                if case .failure(let e as ModbusError) = read, e.kind == .timeout || e.isConnectionFailure {
                    return finish(.failure(e))
                }
                if i + 1 < baseAddresses.count {
                    phase = .marker(i + 1)
                } else {
                    finish(.failure(DiscoveryError.noMarker))
                }
            case (.header, .failure(let e)):
                finish(.failure(e))
            case (.header(let address, let hops), .success(let header)):
                let id = Int(header[0])
                let length = Int(header[1])
                if header[0] == endModelID || hops >= 64 { return finish(.failure(DiscoveryError.noMeterModel)) }
                // Every address below comes from the device: each must stay inside the 16-bit register space.
                if meterModels[id] != nil {
                    guard length == expectedLength(id) else {
                        return finish(
                            .failure(
                                DiscoveryError.badModel(
                                    "model \(id) at \(address) has length \(length), expected \(expectedLength(id))")))
                    }
                    guard address + 2 + length - 1 <= 0xFFFF else {
                        return finish(
                            .failure(DiscoveryError.badModel("model \(id) at \(address) runs past register 65535")))
                    }
                    return finish(.success(FoundModel(id: id, dataAddress: address + 2, length: length)))
                }
                let next = address + 2 + length
                if next + 1 > 0xFFFF {
                    return finish(
                        .failure(
                            DiscoveryError.badModel(
                                "model \(id) at \(address) of length \(length) puts the next header past register 65535"
                            )))
                }
                phase = .header(address: next, hops: hops + 1)
            case (.finished, _):
                break
            }
        }

        private mutating func finish(_ r: Result<FoundModel, Error>) {
            phase = .finished
            result = r
        }
    }

    /// Why discovery failed.
    public enum DiscoveryError: Error, CustomStringConvertible, Equatable {
        case noMarker, noMeterModel, badModel(String)
        public var description: String {
            switch self {
            case .noMarker: return "no SunSpec marker 'SunS' at 40000, 0 or 50000"
            case .noMeterModel: return "SunSpec model chain has no meter model (201-204, 211-214)"
            case .badModel(let s): return "malformed SunSpec model: \(s)"
            }
        }
    }

    /// The profile that reads `model`.
    public static func profile(for model: FoundModel) -> MeterProfile {
        let points = (meterModels[model.id] ?? []).map { p -> RegisterPoint in
            var point = p
            point.address += model.dataAddress
            point.scaleFactorAddress = p.scaleFactorAddress.map { $0 + model.dataAddress }
            return point
        }
        return MeterProfile(
            name: "sunspec", manufacturer: "SunSpec", model: "model \(model.id)",
            document: "SunSpec model \(model.id)", discovery: .sunspec, points: points,
            mergeGap: maxRegistersPerRead)
    }

    /// The data length (L) of meter model `id`: 105 for 201–204, 124 for 211–214.
    public static func expectedLength(_ id: Int) -> Int { id < 210 ? 105 : 124 }

    /// Data-block offsets of the common points of models 201–204 (int16 + sunssf; acc32 energy).
    static let integerLayout: [(String, Int, RegisterType, Int, Double)] = {
        // (measurement, offset, type, scale-factor offset, extra multiplier)
        var l: [(String, Int, RegisterType, Int, Double)] = [
            ("current.total", 0, .int16, 4, 1), ("current.l1", 1, .int16, 4, 1), ("current.l2", 2, .int16, 4, 1),
            ("current.l3", 3, .int16, 4, 1),
            ("voltage.ln_avg", 5, .int16, 13, 1), ("voltage.l1n", 6, .int16, 13, 1), ("voltage.l2n", 7, .int16, 13, 1),
            ("voltage.l3n", 8, .int16, 13, 1), ("voltage.ll_avg", 9, .int16, 13, 1), ("voltage.l12", 10, .int16, 13, 1),
            ("voltage.l23", 11, .int16, 13, 1), ("voltage.l31", 12, .int16, 13, 1),
            ("frequency", 14, .int16, 15, 1),
        ]
        for (i, q) in ["active", "apparent", "reactive"].enumerated() {
            let base = 16 + 5 * i
            l += [("power.\(q).total", base, .int16, base + 4, 1)]
            l += (1...3).map { ("power.\(q).l\($0)", base + $0, .int16, base + 4, 1) }
        }
        // Power factor is in percent (units "Pct").
        l +=
            [("power_factor.total", 31, .int16, 35, 0.01)]
            + (1...3).map { ("power_factor.l\($0)", 31 + $0, .int16, 35, 0.01) }
        // Energy in Wh, stored in kWh.
        l += [("energy.active.export", 36, .acc32, 52, 0.001), ("energy.active.import", 44, .acc32, 52, 0.001)]
        l += (1...3).map { ("energy.active.export.l\($0)", 36 + 2 * $0, .acc32, 52, 0.001) }
        l += (1...3).map { ("energy.active.import.l\($0)", 44 + 2 * $0, .acc32, 52, 0.001) }
        return l
    }()

    /// Data-block offsets of the same points in models 211–214 (float32, no scale factors).
    static let floatLayout: [(String, Int, Double)] = {
        var l: [(String, Int, Double)] = [
            ("current.total", 0, 1), ("current.l1", 2, 1), ("current.l2", 4, 1), ("current.l3", 6, 1),
            ("voltage.ln_avg", 8, 1), ("voltage.l1n", 10, 1), ("voltage.l2n", 12, 1), ("voltage.l3n", 14, 1),
            ("voltage.ll_avg", 16, 1), ("voltage.l12", 18, 1), ("voltage.l23", 20, 1), ("voltage.l31", 22, 1),
            ("frequency", 24, 1),
        ]
        for (i, q) in ["active", "apparent", "reactive"].enumerated() {
            let base = 26 + 8 * i
            l += [("power.\(q).total", base, 1)] + (1...3).map { ("power.\(q).l\($0)", base + 2 * $0, 1) }
        }
        l += [("power_factor.total", 50, 0.01)] + (1...3).map { ("power_factor.l\($0)", 50 + 2 * $0, 0.01) }
        l += [("energy.active.export", 58, 0.001), ("energy.active.import", 66, 0.001)]
        l += (1...3).map { ("energy.active.export.l\($0)", 58 + 2 * $0, 0.001) }
        l += (1...3).map { ("energy.active.import.l\($0)", 66 + 2 * $0, 0.001) }
        return l
    }()

    /// Points of each meter model, addresses relative to the data block. Single- and split-phase models
    /// carry the same layout with unused phases marked "not implemented" by the device.
    static let meterModels: [Int: [RegisterPoint]] = {
        let ints = integerLayout.map { name, offset, type, sf, scale in
            RegisterPoint(
                measurement: Measurement.named(name)!, table: .holding, address: offset, type: type,
                scale: scale, scaleFactorAddress: sf, rate: name.hasPrefix("energy") ? .slow : .fast,
                honoursNotImplemented: true)
        }
        let floats = floatLayout.map { name, offset, scale in
            RegisterPoint(
                measurement: Measurement.named(name)!, table: .holding, address: offset, type: .float32,
                scale: scale, rate: name.hasPrefix("energy") ? .slow : .fast, honoursNotImplemented: true)
        }
        var models: [Int: [RegisterPoint]] = [:]
        for id in 201...204 { models[id] = ints }
        for id in 211...214 { models[id] = floats }
        return models
    }()
}
