import Foundation

/// Writes COMTRADE recordings as IEEE C37.111-2013 `.cfg` + `.dat` pairs in any of the four data formats.
/// For the integer formats each analog channel gets the multiplier a and offset b that map its value range onto
/// the format's integer range (so the quantisation step is range / 65534 for BINARY); FLOAT32 stores values
/// exactly as single-precision floats. Missing (NaN) values get the format's missing-value marker.
public enum ComtradeWriter {
    /// Writes `recording` as `cfgPath` and the `.dat` beside it, each through a temporary file and a rename.
    public static func write(_ recording: ComtradeRecording, cfgPath: String, format: ComtradeDataFormat) throws {
        let (cfg, dat) = encode(recording, format: format)
        try replace(cfgPath, with: Data(cfg.utf8))
        try replace(ComtradeReader.companion(of: cfgPath), with: dat)
    }

    private static func replace(_ path: String, with data: Data) throws {
        let temporary = path + ".partial"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw ComtradeError(file: temporary, .file, "cannot write")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ComtradeError(file: path, .file, "cannot write: \(reason)")
        }
    }

    /// The configuration text and data bytes for `recording` in `format`.
    public static func encode(_ recording: ComtradeRecording, format: ComtradeDataFormat) -> (cfg: String, dat: Data) {
        var c = recording.configuration
        c.revision = .r2013
        c.format = format
        let range: Double? =
            switch format {
            case .ascii: 99_998
            case .binary: 32_767
            case .binary32: 2_147_483_647
            case .float32: nil
            }
        for i in c.analog.indices {
            let finite = recording.analog[i].filter(\.isFinite)
            if let range {
                let lo = finite.min() ?? 0
                let hi = finite.max() ?? 0
                c.analog[i].b = (hi + lo) / 2
                c.analog[i].a = hi > lo ? (hi - lo) / (2 * range) : 1
                c.analog[i].min = -range
                c.analog[i].max = range
            } else {
                c.analog[i].a = 1
                c.analog[i].b = 0
                c.analog[i].min = Double(finite.min() ?? 0)
                c.analog[i].max = Double(finite.max() ?? 0)
            }
        }
        let count = recording.sampleCount
        let times = recording.sampleTimes()
        let lastMicros = (times.last ?? 0) * 1e6
        var multiplier = 1.0
        while lastMicros / multiplier >= 4_294_967_294 { multiplier *= 10 }
        c.timeMultiplier = multiplier
        c.sampleCount = count
        // Without rate sections (nrates = 0) the timestamps written below carry the timing, gaps included.
        if let lastRate = c.sampleRates.indices.last { c.sampleRates[lastRate].lastSample = count }

        func raw(_ channel: Int, _ k: Int) -> Double {
            let v = recording.analog[channel][k]
            guard v.isFinite else { return .nan }
            let a = c.analog[channel]
            return range == nil ? v : ((v - a.b) / a.a).rounded()
        }
        let stamps = times.map { UInt32(min(4_294_967_294, ($0 * 1e6 / multiplier).rounded())) }
        var dat = Data()
        switch format {
        case .ascii:
            var text = ""
            for k in 0..<count {
                var fields = ["\(k + 1)", "\(stamps[k])"]
                for i in c.analog.indices {
                    let x = raw(i, k)
                    fields.append(x.isNaN ? "99999" : String(Int(x)))
                }
                for i in c.digital.indices { fields.append(recording.digital[i][k] ? "1" : "0") }
                text += fields.joined(separator: ",") + "\r\n"
            }
            dat = Data(text.utf8)
        default:
            let words = (c.digital.count + 15) / 16
            dat.reserveCapacity(count * (8 + c.analog.count * (format.analogBytes ?? 4) + 2 * words))
            func append<T: FixedWidthInteger>(_ v: T) {
                withUnsafeBytes(of: v.littleEndian) { dat.append(contentsOf: $0) }
            }
            for k in 0..<count {
                append(UInt32(k + 1))
                append(stamps[k])
                for i in c.analog.indices {
                    let x = raw(i, k)
                    switch format {
                    case .binary: append(x.isNaN ? Int16.min : Int16(x))
                    case .binary32: append(x.isNaN ? Int32.min : Int32(x))
                    default: append(Float(x).bitPattern)
                    }
                }
                for w in 0..<words {
                    var word: UInt16 = 0
                    for bit in 0..<16 where w * 16 + bit < c.digital.count && recording.digital[w * 16 + bit][k] {
                        word |= 1 << UInt16(bit)
                    }
                    append(word)
                }
            }
        }
        return (configurationText(c), dat)
    }

    /// The `.cfg` text of a configuration (2013 layout).
    static func configurationText(_ c: ComtradeConfiguration) -> String {
        func num(_ v: Double) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
        }
        var lines = [
            "\(c.stationName),\(c.deviceID),2013",
            "\(c.analog.count + c.digital.count),\(c.analog.count)A,\(c.digital.count)D",
        ]
        for (i, a) in c.analog.enumerated() {
            lines.append(
                [
                    String(i + 1), a.id, a.phase, a.circuit, a.unit, "\(a.a)", "\(a.b)", num(a.skew),
                    num(a.min), num(a.max), num(a.primary), num(a.secondary), a.scaling.rawValue,
                ]
                .joined(separator: ","))
        }
        for (i, d) in c.digital.enumerated() {
            lines.append("\(i + 1),\(d.id),\(d.phase),\(d.circuit),\(d.normalState ? 1 : 0)")
        }
        lines.append(num(c.lineFrequency))
        lines.append(String(c.sampleRates.count))
        lines += c.sampleRates.map { "\(num($0.rate)),\($0.lastSample)" }
        if c.sampleRates.isEmpty { lines.append("0,\(c.sampleCount)") }
        let first = c.firstSample.fields
        let trigger = c.trigger.fields
        lines.append("\(first.date),\(first.time)")
        lines.append("\(trigger.date),\(trigger.time)")
        lines.append(c.format.rawValue)
        lines.append(num(c.timeMultiplier))
        let offset = Int(c.utcOffsetSeconds)
        let sign = offset < 0 ? "-" : (offset > 0 ? "+" : "")
        let minutes = abs(offset) / 60 % 60
        let code = offset == 0 ? "0" : "\(sign)\(abs(offset) / 3600)" + (minutes == 0 ? "" : "h\(minutes)")
        lines.append("\(code),\(code)")
        lines.append("0,0")
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
