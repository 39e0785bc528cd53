import SynxComtrade
import SynxDSP

/// Which COMTRADE analog channels feed which engine inputs, and the factor that turns each into volts or amperes.
struct ChannelMapping {
    struct Input {
        var recordingIndex: Int
        var spec: ChannelSpec
        var unit: String
        /// File values (primary, or secondary with --secondary) × factor = V or A.
        var factor: Double
    }
    var inputs: [Input]

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// `voltages`/`currents`: channel ids or 1-based indexes in L1, L2, L3[, N] order; nil = chosen from the units
    /// (V/kV, A/kA) and phase fields of the configuration.
    init(configuration c: ComtradeConfiguration, voltages: [String]?, currents: [String]?) throws {
        func index(of key: String) throws -> Int {
            if let n = Int(key), (1...c.analog.count).contains(n) { return n - 1 }
            guard let i = c.analog.firstIndex(where: { $0.id == key }) else {
                throw Failure(
                    description: "no analog channel '\(key)' (channels: \(c.analog.map(\.id).joined(separator: ", ")))")
            }
            return i
        }
        func factor(_ i: Int, _ kind: ChannelKind) throws -> Double {
            let unit = c.analog[i].unit.trimmingCharacters(in: .whitespaces)
            let base = kind == .voltage ? "v" : "a"
            switch unit.lowercased() {
            case base: return 1
            case "k" + base: return 1000
            case "m" + base: return 0.001
            default:
                throw Failure(
                    description:
                        "channel '\(c.analog[i].id)' is in '\(unit)', not \(kind == .voltage ? "V or kV" : "A or kA")")
            }
        }
        func phase(_ i: Int, position: Int) -> Phase {
            switch c.analog[i].phase.uppercased() {
            case "A", "L1", "R", "1", "AN", "L1N", "L1-N": .l1
            case "B", "L2", "S", "2", "BN", "L2N", "L2-N": .l2
            case "C", "L3", "T", "3", "CN", "L3N", "L3-N": .l3
            case "N", "NE", "N-E", "NG": .n
            default: Phase.allCases[min(position, 3)]
            }
        }
        func pick(_ keys: [String]?, _ kind: ChannelKind) throws -> [Input] {
            let chosen: [Int]
            let explicit = keys != nil
            if let keys {
                chosen = try keys.map(index(of:))
            } else {
                chosen = c.analog.indices.filter { (try? factor($0, kind)) != nil }
            }
            guard chosen.count <= 4 else {
                throw Failure(
                    description:
                        "\(chosen.count) \(kind.rawValue) channels found; choose up to 4 with --\(kind.rawValue)")
            }
            return try chosen.enumerated().map { position, i in
                Input(
                    recordingIndex: i,
                    spec: ChannelSpec(
                        name: c.analog[i].id, kind: kind,
                        phase: explicit ? Phase.allCases[position] : phase(i, position: position)),
                    unit: c.analog[i].unit, factor: try factor(i, kind))
            }
        }
        inputs = try pick(voltages, .voltage) + pick(currents, .current)
    }
}
