import Foundation

/// A COMTRADE recording in memory: its configuration and, per sample, the sample number, the timestamp field
/// (nil when missing), the scaled analog values (a·x + b, in the file's primary/secondary basis; NaN where the
/// file marks a value missing) and the status bits.
public struct ComtradeRecording: Sendable, Equatable {
    public var configuration: ComtradeConfiguration
    public var sampleNumbers: [Int]
    /// The `.dat` timestamp field in microseconds × timemult; nil where the file leaves it out.
    public var timestamps: [Double?]
    /// analog[channel][sample]
    public var analog: [[Double]]
    /// digital[channel][sample]
    public var digital: [[Bool]]

    /// A recording: its configuration and, per sample, its number, time stamp (µs from the first, or nil when only the
    /// rates give it) and channel values.
    public init(
        configuration: ComtradeConfiguration, sampleNumbers: [Int], timestamps: [Double?],
        analog: [[Double]], digital: [[Bool]]
    ) {
        self.configuration = configuration
        self.sampleNumbers = sampleNumbers
        self.timestamps = timestamps
        self.analog = analog
        self.digital = digital
    }

    public var sampleCount: Int { sampleNumbers.count }

    /// Seconds of each sample after the first: from the sampling-rate sections when the file has them
    /// (IEEE C37.111 §7.4.6), otherwise from the timestamps.
    public func sampleTimes() -> [Double] {
        let rates = configuration.sampleRates.filter { $0.rate > 0 }
        if !rates.isEmpty {
            var times: [Double] = []
            times.reserveCapacity(sampleCount)
            var t = 0.0
            var section = 0
            for k in 0..<sampleCount {
                times.append(t)
                while section < rates.count - 1, k + 1 >= rates[section].lastSample { section += 1 }
                t += 1 / rates[section].rate
            }
            return times
        }
        let first = timestamps.first.flatMap { $0 } ?? 0
        return timestamps.map { (($0 ?? first) - first) * 1e-6 }
    }

    /// The values of analog channel `index` (0-based) converted to primary quantities.
    public func primaryValues(_ index: Int) -> [Double] {
        let factor = configuration.analog[index].toPrimary
        return factor == 1 ? analog[index] : analog[index].map { $0 * factor }
    }
}
