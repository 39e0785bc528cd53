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

    /// Flicker values per phase (`flicker.pinst.l1`, `flicker.pst.l2`, …) as live values taken at `time`, L1 first.
    static func flickerValues(_ perPhase: [Phase: Double], _ statistic: FlickerStatistic, time: Int64) -> [LiveValue] {
        CanonicalMeasurements.flicker(perPhase, statistic).map {
            LiveValue(measurement: $0.name, value: $0.value, unit: $0.unit, time: time)
        }
    }
}
