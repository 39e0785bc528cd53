import SynxControl
import SynxDSP

extension WaveformMeter {
    /// The canonical measurements of a value set of an engine with `channels` (`CanonicalMeasurements`, the table
    /// synx-analyze shares), as live values taken at `time`.
    static func liveValues(_ v: PowerQualityValues, channels: [ChannelSpec], time: Int64) -> [LiveValue] {
        CanonicalMeasurements.values(of: v, channels: channels).map {
            LiveValue(measurement: $0.name, value: $0.value, unit: $0.unit, time: time)
        }
    }

    /// Flicker values per phase (`flicker.pinst.l1`, `flicker.pst.l2`, …: `statistic` is pinst, pst or plt) as live
    /// values taken at `time`, L1 first.
    static func flickerValues(_ perPhase: [Phase: Double], statistic: String, time: Int64) -> [LiveValue] {
        perPhase.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            LiveValue(measurement: "flicker.\(statistic).\($0.key.rawValue)", value: $0.value, unit: "", time: time)
        }
    }
}
