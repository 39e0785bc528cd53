import Foundation
import SynxModbus
import SynxTOML

/// Reads meter profiles from TOML: the built-in ones and the user's in `/etc/synx/profiles/`, with one
/// format and one loader (`docs/profiles.md`).
public enum ProfileLoader {
    /// Parses one profile file. Errors name the file, the line and what is wrong.
    public static func parse(text: String, file: String) throws -> MeterProfile {
        let doc = try TOMLDocument(file: file, text: text)
        let root = doc.rootSection
        try root.rejectUnknownKeys(["profile", "register", "register_array"])
        guard let head = try root.section("profile") else { throw root.error("profile", "missing [profile] table") }
        try head.rejectUnknownKeys([
            "name", "manufacturer", "model", "document", "discovery", "word_order", "merge_gap",
        ])
        let name = try head.requiredString("name")
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw head.error("name", "use letters, digits, '-' and '_' only")
        }
        let discovery =
            try head.choice("discovery", ["fixed": MeterProfile.Discovery.fixed, "sunspec": .sunspec]) ?? .fixed
        let defaultOrder = try head.choice("word_order", wordOrders) ?? .highFirst
        let mergeGap = try head.int("merge_gap", in: 0...124) ?? 0

        var points: [RegisterPoint] = []
        var seen: [String: Int] = [:]
        /// Registers `name` as mapped by `section`, or throws if it already is.
        func claim(_ name: String, _ section: TOMLSection) throws -> Measurement {
            guard let measurement = Measurement.named(name) else {
                throw section.error("measurement", "unknown measurement name \"\(name)\" (see docs/measurements.md)")
            }
            if let line = seen[name] {
                throw section.error("measurement", "\"\(name)\" is already mapped at line \(line)")
            }
            seen[name] = section.line(of: "measurement") ?? 0
            return measurement
        }
        for reg in try root.sections("register") {
            try reg.rejectUnknownKeys([
                "measurement", "function", "address", "type", "word_order", "scale",
                "scale_factor_register", "unit", "rate", "sunspec_not_implemented",
                "plausible_min", "plausible_max",
            ])
            let measurement = try claim(try reg.requiredString("measurement"), reg)
            points.append(try point(reg, measurement: measurement, address: nil, defaultOrder: defaultOrder))
        }
        // A block of registers that holds one value per harmonic order: `measurement` has `{n}` where the order goes.
        for array in try root.sections("register_array") {
            try array.rejectUnknownKeys([
                "measurement", "first_order", "last_order", "stride", "function", "address", "type", "word_order",
                "scale", "unit", "rate", "sunspec_not_implemented", "plausible_min", "plausible_max",
                "fundamental_address",
            ])
            let pattern = try array.requiredString("measurement")
            guard pattern.contains("{n}") else {
                throw array.error(
                    "measurement", "a register array's name has {n} where the order goes (harmonic.voltage.l1.h{n})")
            }
            let first = try array.requiredInt("first_order", in: 1...50)
            let last = try array.requiredInt("last_order", in: first...50)
            let base = try array.requiredInt("address", in: 0...0xFFFF)
            guard let typeName = try array.string("type"), let type = RegisterType(rawValue: typeName) else {
                throw array.error(
                    "type",
                    "missing or unknown (one of: \(RegisterType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let stride = try array.int("stride", in: type.wordCount...125) ?? type.wordCount
            guard base + (last - first) * stride + type.wordCount - 1 <= 0xFFFF else {
                throw array.error("address", "the array's last element would end past register 65535")
            }
            // Harmonics in volts or amperes, made % of the fundamental with the register of order 1.
            let fundamental = try array.int("fundamental_address", in: 0...(0xFFFF - type.wordCount + 1))
            let rawUnit = pattern.hasPrefix("harmonic.voltage.") ? "V" : pattern.hasPrefix("harmonic.current.") ? "A" : nil
            if fundamental != nil {
                guard let rawUnit, try array.string("unit") == rawUnit, first >= 2 else {
                    throw array.error(
                        "fundamental_address",
                        "only a harmonic array from order 2 in volts or amperes (unit = \"V\" or \"A\") is divided by its fundamental")
                }
            }
            for n in first...last {
                let measurement = try claim(pattern.replacingOccurrences(of: "{n}", with: String(n)), array)
                var p = try point(
                    array, measurement: measurement, address: base + (n - first) * stride, defaultOrder: defaultOrder,
                    rawUnit: fundamental == nil ? nil : rawUnit)
                p.fundamentalAddress = fundamental
                points.append(p)
            }
        }
        if discovery == .fixed && points.isEmpty {
            throw root.error(nil, "profile \"\(name)\" maps no [[register]]")
        }
        return MeterProfile(
            name: name, manufacturer: try head.string("manufacturer") ?? "",
            model: try head.string("model") ?? "", document: try head.string("document") ?? "",
            discovery: discovery, points: points, mergeGap: mergeGap)
    }

    /// One register of `reg` (a `[[register]]`, or one element of a `[[register_array]]` at `address`).
    private static func point(
        _ reg: TOMLSection, measurement: Measurement, address fixedAddress: Int?, defaultOrder: WordOrder,
        rawUnit: String? = nil
    ) throws -> RegisterPoint {
        let function = try reg.requiredInt("function", in: 0...255)
        guard let table = RegisterTable(rawValue: UInt8(function)), !table.holdsBits else {
            throw reg.error(
                "function",
                "function code \(function) cannot be polled (use 3 for holding or 4 for input registers)")
        }
        guard let typeName = try reg.string("type") else { throw reg.error("type", "missing (required)") }
        guard let type = RegisterType(rawValue: typeName) else {
            throw reg.error(
                "type",
                "unknown register type \"\(typeName)\" (one of: \(RegisterType.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        let address = try fixedAddress ?? reg.requiredInt("address", in: 0...(0xFFFF - type.wordCount + 1))
        let unit = try reg.string("unit") ?? measurement.unit
        guard unit == measurement.unit || unit == rawUnit else {
            throw reg.error(
                "unit",
                "\"\(unit)\" is not the canonical unit of \(measurement.name) (\"\(measurement.unit)\"); convert with scale"
            )
        }
        let scale = try reg.double("scale", in: -1e12...1e12) ?? 1
        guard scale != 0 else { throw reg.error("scale", "must not be 0") }
        let plausibleMin = try reg.double("plausible_min", in: -1e15...1e15)
        let plausibleMax = try reg.double("plausible_max", in: -1e15...1e15)
        if (plausibleMin == nil) != (plausibleMax == nil) {
            throw reg.error(
                plausibleMin == nil ? "plausible_max" : "plausible_min",
                "give plausible_min and plausible_max together")
        }
        if let low = plausibleMin, let high = plausibleMax, low >= high {
            throw reg.error("plausible_max", "must be above plausible_min (\(low))")
        }
        return RegisterPoint(
            measurement: measurement, table: table, address: address, type: type,
            order: try reg.choice("word_order", wordOrders) ?? defaultOrder,
            scale: scale,
            scaleFactorAddress: fixedAddress == nil ? try reg.int("scale_factor_register", in: 0...0xFFFF) : nil,
            rate: try reg.choice("rate", ["fast": PollRate.fast, "slow": .slow]) ?? .fast,
            honoursNotImplemented: try reg.bool("sunspec_not_implemented") ?? false,
            plausibleMin: plausibleMin, plausibleMax: plausibleMax)
    }

    /// The built-in profiles plus every `*.toml` in `directories` (a user profile may replace a built-in
    /// one of the same name). Any bad file is an error: a meter silently missing its map is worse. `read` sees
    /// each file's path and bytes as they were parsed.
    public static func loadAll(
        directories: [String], read: (String, Data) -> Void = { _, _ in }
    ) throws -> [String: MeterProfile] {
        var profiles: [String: MeterProfile] = [:]
        for (file, text) in BuiltinProfiles.files {
            let p = try parse(text: text, file: "<built-in>/\(file)")
            profiles[p.name] = p
        }
        for dir in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names.sorted() where name.hasSuffix(".toml") {
                let path = (dir as NSString).appendingPathComponent(name)
                guard let data = FileManager.default.contents(atPath: path),
                    let text = String(data: data, encoding: .utf8)
                else {
                    throw ConfigError(file: path, line: nil, key: nil, message: "cannot read the file as UTF-8 text")
                }
                read(path, data)
                let p = try parse(text: text, file: path)
                profiles[p.name] = p
            }
        }
        return profiles
    }

    static let wordOrders: [String: WordOrder] = [
        "high-first": .highFirst, "abcd": .highFirst, "big": .highFirst,
        "low-first": .lowFirst, "cdab": .lowFirst, "word-swapped": .lowFirst,
    ]
}
