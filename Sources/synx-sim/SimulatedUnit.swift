import CModbus
import Foundation
import SynxMeters
import SynxModbus

/// One simulated meter: its register image (a libmodbus mapping, so libmodbus answers for it) and the
/// power model whose values it encodes into registers with the same profile format synxd reads.
final class SimulatedUnit {
    let config: Scenario.Unit
    /// Held while the registers are written or served.
    let lock = NSLock()
    private var model: PowerModel
    let mapping: UnsafeMutablePointer<modbus_mapping_t>
    private let points: [RegisterPoint]
    private let table: RegisterTable
    private let start: Int
    /// The values as a correct Modbus master decodes them from the registers now served.
    private(set) var served: [String: Double] = [:]

    /// Where the SunSpec layout starts and how its common model (ID 1) is laid out.
    static let sunspecBase = 40000
    static let commonModelLength = 66

    init(config: Scenario.Unit, seed: UInt64, builtins: [String: MeterProfile]) {
        self.config = config
        model = PowerModel(unit: config, seed: seed)
        if config.profile.hasPrefix("sunspec-") {
            let id = Int(config.profile.dropFirst("sunspec-".count))!
            let dataAddress = SimulatedUnit.sunspecBase + 2 + 2 + SimulatedUnit.commonModelLength + 2
            let length = SunSpec.expectedLength(id)
            points = SunSpec.profile(for: .init(id: id, dataAddress: dataAddress, length: length)).points
            table = .holding
            start = SimulatedUnit.sunspecBase
            mapping = modbus_mapping_new_start_address(
                0, 0, 0, 0, UInt32(start), UInt32(dataAddress + length + 2 - start), 0, 0)
            writeSunSpecFrame(modelID: id, dataAddress: dataAddress, length: length)
        } else {
            points = builtins[config.profile]!.points
            table = .input
            start = points.map(\.address).min()!
            let end = points.map(\.lastAddress).max()!
            // Also a few bits, fixed, for commissioning's function 1 and 2 reads (docs/simulator.md).
            let bits = SimulatedUnit.bitCount
            mapping = modbus_mapping_new_start_address(
                0, UInt32(bits), 0, UInt32(bits), 0, 0, UInt32(start), UInt32(end - start + 1))
            for i in 0..<bits {
                mapping.pointee.tab_bits[i] = SimulatedUnit.coil(i) ? 1 : 0
                mapping.pointee.tab_input_bits[i] = SimulatedUnit.discreteInput(i) ? 1 : 0
            }
        }
    }

    /// Coils and discrete inputs 0–15 of a unit with a native (non-SunSpec) map: coil i is set when i is a
    /// multiple of 3, discrete input i when i is odd.
    static let bitCount = 16
    static func coil(_ i: Int) -> Bool { i % 3 == 0 }
    static func discreteInput(_ i: Int) -> Bool { i % 2 == 1 }

    deinit { modbus_mapping_free(mapping) }

    /// Recomputes the values at `t` seconds and writes them into the registers.
    func update(at t: Double, dt: Double) {
        let values = model.values(at: t, dt: dt)
        var image = RegisterImage()
        for p in points {
            guard let v = values[p.measurement.name] else { continue }
            var raw = v / p.scale
            if let sf = p.scaleFactorAddress {
                let exponent = SimulatedUnit.sunspecExponent(p.measurement.name)
                write([UInt16(bitPattern: exponent)], at: sf)
                image.store([UInt16(bitPattern: exponent)], table: table, address: sf)
                raw /= pow(10, Double(exponent))
            }
            let words = RegisterCodec.encode(raw, as: p.type, order: p.order)
            write(words, at: p.address)
            image.store(words, table: table, address: p.address)
        }
        served = [:]
        let limits = Plausibility(nominalVoltage: config.nominalVoltage)
        for p in points {
            if case .value(let v) = image.reading(of: p, plausible: limits.range(of: p)) {
                served[p.measurement.name] = v
            }
        }
    }

    /// Scale factors the simulated SunSpec integer models use, chosen to fit int16 at nominal values.
    static func sunspecExponent(_ measurement: String) -> Int16 {
        if measurement.hasPrefix("current") { return -2 }
        if measurement.hasPrefix("voltage") { return -1 }
        if measurement == "frequency" { return -2 }
        if measurement.hasPrefix("power_factor") { return -2 }
        if measurement.hasPrefix("power") { return 1 }
        return 0
    }

    private func write(_ words: [UInt16], at address: Int) {
        let base = table == .holding ? mapping.pointee.tab_registers! : mapping.pointee.tab_input_registers!
        for (i, w) in words.enumerated() { base[address - start + i] = w }
    }

    private func writeSunSpecFrame(modelID: Int, dataAddress: Int, length: Int) {
        let base = SimulatedUnit.sunspecBase
        write(SunSpec.marker, at: base)
        write([1, UInt16(SimulatedUnit.commonModelLength)], at: base + 2)
        var common = [UInt16](repeating: 0, count: SimulatedUnit.commonModelLength)
        for (offset, text) in [(0, "synx"), (16, "synx-sim \(config.profile)"), (40, "1.0"), (48, "SIM\(config.id)")] {
            let bytes = Array(text.utf8.prefix(32))
            for i in stride(from: 0, to: bytes.count, by: 2) {
                common[offset + i / 2] = UInt16(bytes[i]) << 8 | UInt16(i + 1 < bytes.count ? bytes[i + 1] : 0)
            }
        }
        common[64] = UInt16(config.id)
        write(common, at: base + 4)
        write([UInt16(modelID), UInt16(length)], at: dataAddress - 2)
        // Points the model has but the simulator does not fill stay "not implemented".
        let notImplemented: [UInt16] = modelID < 210 ? [0x8000] : [0x7FC0, 0]
        for offset in stride(from: 0, to: length, by: notImplemented.count) {
            write(notImplemented, at: dataAddress + offset)
        }
        write([SunSpec.endModelID, 0], at: dataAddress + length)
    }
}
