import Foundation

/// Reads COMTRADE recordings (IEEE C37.111-1991/-1999/-2013): the `.cfg` file and its `.dat` file in any of
/// the four data formats. Every malformed field is an error naming the file and the line (configuration and
/// ASCII data) or the byte offset (binary data).
public enum ComtradeReader {
    /// The largest line frequency accepted, Hz (a 400 Hz aircraft supply fits; 1e308 does not).
    public static let maxLineFrequency = 1000.0
    /// The largest sample rate accepted, S/s.
    public static let maxSampleRate = 10_000_000.0
    /// The most samples a recording may declare: 1e8 (at 10 kS/s almost three hours). A larger count is
    /// refused before anything is allocated for it.
    public static let maxSamples = 100_000_000

    /// Reads `cfgPath` and the `.dat` file beside it (same name; the extension's case follows the `.cfg`'s).
    public static func read(cfgPath: String) throws -> ComtradeRecording {
        let cfgText = try text(of: cfgPath)
        let configuration = try parseConfiguration(cfgText, file: cfgPath)
        let datPath = companion(of: cfgPath)
        guard let data = FileManager.default.contents(atPath: datPath) else {
            throw ComtradeError(file: datPath, .file, "cannot read the data file")
        }
        return try parseData(data, configuration: configuration, file: datPath)
    }

    static func companion(of cfgPath: String) -> String {
        let base = (cfgPath as NSString).deletingPathExtension
        let ext = (cfgPath as NSString).pathExtension
        return base + (ext == ext.uppercased() && !ext.isEmpty ? ".DAT" : ".dat")
    }

    private static func text(of path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ComtradeError(file: path, .file, "cannot read the file")
        }
        return String(data: data, encoding: .utf8) ?? String(decoding: data, as: UTF8.self)
    }

    // MARK: - Configuration

    /// Parses the text of a `.cfg` file.
    public static func parseConfiguration(_ text: String, file: String) throws -> ComtradeConfiguration {
        // "\r\n" is one Character in Swift, and a newline like "\n".
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty || last == "\u{1A}" {
            lines.removeLast()
        }
        var n = 0
        func next(_ what: String) throws -> (fields: [String], line: Int) {
            guard n < lines.count else {
                throw ComtradeError(file: file, .line(n + 1), "file ends where \(what) was expected")
            }
            n += 1
            return (
                lines[n - 1].split(separator: ",", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces) }, n
            )
        }
        func fail(_ line: Int, _ message: String) -> ComtradeError { ComtradeError(file: file, .line(line), message) }
        func number(_ s: String, _ what: String, _ line: Int) throws -> Double {
            guard let v = Double(s), v.isFinite else { throw fail(line, "\(what) '\(s)' is not a number") }
            return v
        }
        func integer(_ s: String, _ what: String, _ line: Int) throws -> Int {
            guard let v = Int(s) else { throw fail(line, "\(what) '\(s)' is not an integer") }
            return v
        }

        let header = try next("the station line")
        guard header.fields.count >= 2 else {
            throw fail(header.line, "expected station_name,rec_dev_id[,rev_year]")
        }
        let revision: ComtradeRevision
        if header.fields.count >= 3, !header.fields[2].isEmpty {
            guard let r = ComtradeRevision(rawValue: header.fields[2]) else {
                throw fail(header.line, "rev_year '\(header.fields[2])' is not 1991, 1999 or 2013")
            }
            revision = r
        } else {
            revision = .r1991
        }

        let counts = try next("the channel counts")
        guard counts.fields.count >= 3, counts.fields[1].uppercased().hasSuffix("A"),
            counts.fields[2].uppercased().hasSuffix("D")
        else {
            throw fail(counts.line, "expected TT,##A,##D (e.g. 6,3A,3D)")
        }
        let total = try integer(counts.fields[0], "total channel count", counts.line)
        let analogCount = try integer(String(counts.fields[1].dropLast()), "analog channel count", counts.line)
        let digitalCount = try integer(String(counts.fields[2].dropLast()), "digital channel count", counts.line)
        guard total == analogCount + digitalCount, analogCount >= 0, digitalCount >= 0 else {
            throw fail(counts.line, "total \(total) is not \(analogCount) analog + \(digitalCount) digital")
        }

        var analog: [ComtradeAnalogChannel] = []
        for i in 0..<analogCount {
            let (f, line) = try next("analog channel \(i + 1)")
            let needed = revision == .r1991 ? 10 : 13
            guard f.count >= needed else {
                throw fail(
                    line,
                    "analog channel line has \(f.count) fields, \(needed) expected "
                        + "(An,ch_id,ph,ccbm,uu,a,b,skew,min,max\(revision == .r1991 ? "" : ",primary,secondary,PS"))")
            }
            var channel = ComtradeAnalogChannel(
                index: try integer(f[0], "channel index", line), id: f[1], phase: f[2], circuit: f[3], unit: f[4],
                a: try number(f[5], "multiplier a", line), b: try number(f[6], "offset b", line),
                skew: f[7].isEmpty ? 0 : try number(f[7], "skew", line),
                min: try number(f[8], "min", line), max: try number(f[9], "max", line))
            if revision != .r1991 {
                channel.primary = try number(f[10], "primary ratio", line)
                channel.secondary = try number(f[11], "secondary ratio", line)
                guard let s = ComtradeAnalogChannel.Scaling(rawValue: f[12].uppercased()) else {
                    throw fail(line, "PS '\(f[12])' is neither P nor S")
                }
                channel.scaling = s
            }
            analog.append(channel)
        }
        var digital: [ComtradeDigitalChannel] = []
        for i in 0..<digitalCount {
            let (f, line) = try next("digital channel \(i + 1)")
            guard f.count >= (revision == .r1991 ? 3 : 5) else {
                throw fail(line, "digital channel line has \(f.count) fields, expected Dn,ch_id,ph,ccbm,y")
            }
            let y = f.count >= 5 ? f[4] : f[2]
            guard y == "0" || y == "1" else { throw fail(line, "normal state '\(y)' is neither 0 nor 1") }
            digital.append(
                ComtradeDigitalChannel(
                    index: try integer(f[0], "channel index", line), id: f[1],
                    phase: f.count >= 5 ? f[2] : "", circuit: f.count >= 5 ? f[3] : "",
                    normalState: y == "1"))
        }

        let lf = try next("the line frequency")
        let lineFrequency = try number(lf.fields[0], "line frequency", lf.line)
        guard (0...ComtradeReader.maxLineFrequency).contains(lineFrequency) else {
            throw fail(
                lf.line,
                "line frequency \(lf.fields[0]) Hz is out of range (0 … \(Int(ComtradeReader.maxLineFrequency)))")
        }
        let nr = try next("nrates")
        let nrates = try integer(nr.fields[0], "nrates", nr.line)
        guard nrates >= 0, nrates < 1000 else { throw fail(nr.line, "nrates \(nrates) is out of range") }
        var rates: [ComtradeSampleRate] = []
        for _ in 0..<max(nrates, 1) {
            let (f, line) = try next("samp,endsamp")
            guard f.count >= 2 else { throw fail(line, "expected samp,endsamp") }
            let rate = try number(f[0], "sample rate", line)
            let end = try integer(f[1], "last sample number", line)
            guard rate >= 0, end >= (rates.last?.lastSample ?? 0) else {
                throw fail(line, "sample rate must be ≥ 0 and endsamp must not decrease")
            }
            guard rate <= ComtradeReader.maxSampleRate, end <= ComtradeReader.maxSamples else {
                throw fail(
                    line,
                    "sample rate \(f[0]) or endsamp \(f[1]) is beyond what synx reads "
                        + "(\(Int(ComtradeReader.maxSampleRate)) S/s, \(ComtradeReader.maxSamples) samples)")
            }
            rates.append(ComtradeSampleRate(rate: rate, lastSample: end))
        }
        func stamp(_ what: String) throws -> ComtradeTimestamp {
            let (f, line) = try next(what)
            guard f.count >= 2, let t = ComtradeTimestamp.parse(date: f[0], time: f[1], revision: revision) else {
                throw fail(line, "\(what) must be \(revision == .r1991 ? "mm/dd/yy" : "dd/mm/yyyy"),hh:mm:ss.ssssss")
            }
            return t
        }
        let first = try stamp("the first sample's time")
        let trigger = try stamp("the trigger time")
        var format = ComtradeDataFormat.ascii
        var timeMultiplier = 1.0
        var utcOffset = 0.0
        if n < lines.count {
            let (f, line) = try next("the data file type")
            guard let ft = ComtradeDataFormat(rawValue: f[0].uppercased()) else {
                throw fail(line, "file type '\(f[0])' is not ASCII, BINARY, BINARY32 or FLOAT32")
            }
            guard revision == .r2013 || ft == .ascii || ft == .binary else {
                throw fail(line, "\(ft.rawValue) needs rev_year 2013")
            }
            format = ft
        }
        if n < lines.count, revision != .r1991 {
            let (f, line) = try next("timemult")
            timeMultiplier = try number(f[0], "timemult", line)
        }
        if n < lines.count, revision == .r2013 {
            let (f, line) = try next("time_code,local_code")
            guard let offset = parseTimeCode(f[0]) else {
                throw fail(line, "time_code '\(f[0])' is not an offset like -5h30, +1 or 0")
            }
            utcOffset = offset
        }
        let count = rates.last?.lastSample ?? 0
        return ComtradeConfiguration(
            stationName: header.fields[0], deviceID: header.fields[1], revision: revision,
            analog: analog, digital: digital, lineFrequency: lineFrequency,
            sampleRates: nrates == 0 ? [] : rates, firstSample: first, trigger: trigger,
            format: format, timeMultiplier: timeMultiplier, utcOffsetSeconds: utcOffset,
            sampleCount: count)
    }

    /// IEEE C37.111-2013 §7.4.12 time_code: "+5h30", "-5", "0"; "x" means not applicable (treated as 0).
    static func parseTimeCode(_ s: String) -> Double? {
        if s.isEmpty || s.lowercased() == "x" { return 0 }
        var body = Substring(s)
        var sign = 1.0
        if body.first == "-" {
            sign = -1
            body = body.dropFirst()
        } else if body.first == "+" {
            body = body.dropFirst()
        }
        let parts = body.lowercased().split(separator: "h", omittingEmptySubsequences: false)
        guard let hours = Int(parts[0]), parts.count <= 2 else { return nil }
        let minutes = parts.count == 2 ? (parts[1].isEmpty ? 0 : Int(parts[1])) : 0
        guard let minutes, (0..<60).contains(minutes), (0...24).contains(hours) else { return nil }
        return sign * Double(hours * 3600 + minutes * 60)
    }

    // MARK: - Data

    /// Parses the bytes of a `.dat` file described by `configuration`.
    public static func parseData(
        _ data: Data, configuration c: ComtradeConfiguration, file: String
    ) throws
        -> ComtradeRecording
    {
        switch c.format {
        case .ascii: try parseASCII(data, c, file: file)
        default: try parseBinary(data, c, file: file)
        }
    }

    private static func parseASCII(_ data: Data, _ c: ComtradeConfiguration, file: String) throws -> ComtradeRecording {
        let text = String(decoding: data, as: UTF8.self)
        let a = c.analog.count
        let d = c.digital.count
        var numbers: [Int] = []
        var stamps: [Double?] = []
        var analog = Array(repeating: [Double](), count: a)
        var digital = Array(repeating: [Bool](), count: d)
        let missing = c.revision == .r1991 ? "" : "99999"
        var lineNumber = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line == "\u{1A}" { continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            func fail(_ m: String) -> ComtradeError { ComtradeError(file: file, .line(lineNumber), m) }
            guard f.count == 2 + a + d else {
                throw fail("\(f.count) fields, expected \(2 + a + d) (n,timestamp,\(a) analog,\(d) digital)")
            }
            guard let sample = Int(f[0].trimmingCharacters(in: .whitespaces)) else {
                throw fail("sample number '\(f[0])' is not an integer")
            }
            numbers.append(sample)
            let ts = f[1].trimmingCharacters(in: .whitespaces)
            if ts.isEmpty {
                stamps.append(nil)
            } else {
                guard let v = Double(ts) else { throw fail("timestamp '\(ts)' is not a number") }
                stamps.append(v * c.timeMultiplier)
            }
            for i in 0..<a {
                let s = f[2 + i].trimmingCharacters(in: .whitespaces)
                if s == missing || s.isEmpty {
                    analog[i].append(.nan)
                    continue
                }
                guard let x = Double(s) else { throw fail("analog channel \(i + 1) value '\(s)' is not a number") }
                analog[i].append(c.analog[i].a * x + c.analog[i].b)
            }
            for i in 0..<d {
                let s = f[2 + a + i].trimmingCharacters(in: .whitespaces)
                guard s == "0" || s == "1" else {
                    throw fail("digital channel \(i + 1) value '\(s)' is neither 0 nor 1")
                }
                digital[i].append(s == "1")
            }
        }
        try checkCount(numbers.count, c, file: file)
        return ComtradeRecording(
            configuration: c, sampleNumbers: numbers, timestamps: stamps, analog: analog,
            digital: digital)
    }

    private static func parseBinary(_ data: Data, _ c: ComtradeConfiguration, file: String) throws -> ComtradeRecording
    {
        let a = c.analog.count
        let d = c.digital.count
        let width = c.format.analogBytes!
        let record = 8 + a * width + 2 * ((d + 15) / 16)
        guard data.count % record == 0 else {
            throw ComtradeError(
                file: file, .byteOffset(data.count - data.count % record),
                "truncated record: \(data.count) bytes is not a whole number of \(record)-byte records")
        }
        let count = data.count / record
        try checkCount(count, c, file: file)
        var numbers = [Int](repeating: 0, count: count)
        var stamps = [Double?](repeating: nil, count: count)
        var analog = Array(repeating: [Double](repeating: 0, count: count), count: a)
        var digital = Array(repeating: [Bool](repeating: false, count: count), count: d)
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            func u32(_ o: Int) -> UInt32 {
                UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self))
            }
            for k in 0..<count {
                let base = k * record
                numbers[k] = Int(u32(base))
                let ts = u32(base + 4)
                stamps[k] = ts == 0xFFFF_FFFF ? nil : Double(ts) * c.timeMultiplier
                for i in 0..<a {
                    let o = base + 8 + i * width
                    let x: Double
                    switch c.format {
                    case .binary:
                        let v = Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: Int16.self))
                        x = v == Int16.min ? .nan : Double(v)
                    case .binary32:
                        let v = Int32(bitPattern: u32(o))
                        x = v == Int32.min ? .nan : Double(v)
                    default:
                        x = Double(Float(bitPattern: u32(o)))
                    }
                    analog[i][k] = c.analog[i].a * x + c.analog[i].b
                }
                let words = base + 8 + a * width
                for i in 0..<d {
                    let w = UInt16(
                        littleEndian: bytes.loadUnaligned(fromByteOffset: words + 2 * (i / 16), as: UInt16.self))
                    digital[i][k] = (w >> UInt16(i % 16)) & 1 == 1
                }
            }
        }
        return ComtradeRecording(
            configuration: c, sampleNumbers: numbers, timestamps: stamps, analog: analog,
            digital: digital)
    }

    private static func checkCount(_ found: Int, _ c: ComtradeConfiguration, file: String) throws {
        guard c.sampleCount == 0 || found == c.sampleCount else {
            throw ComtradeError(
                file: file, .file,
                "holds \(found) samples but the configuration declares \(c.sampleCount) (last endsamp)")
        }
    }
}
