import SynxControl
import SynxDSP

/// The one table from the engine's results to canonical measurement names and units: what a waveform meter
/// shows in `live` and stores as its 150/180-cycle series.
extension WaveformMeter {
    /// The canonical measurements (docs/measurements.md) of a value set of an engine with `channels`.
    static func liveValues(_ v: PowerQualityValues, channels: [ChannelSpec], time: Int64) -> [LiveValue] {
        var out: [LiveValue] = []
        for (spec, c) in zip(channels, v.channels) {
            let names = WaveformMeter.measurements(of: spec)
            out.append(LiveValue(measurement: names.rms.name, value: c.rms, unit: names.rms.unit, time: time))
            if let thd = names.thd {
                out.append(LiveValue(measurement: thd.name, value: c.harmonics.thdsPercent, unit: thd.unit, time: time))
            }
        }
        if let f = v.frequency { out.append(LiveValue(measurement: "frequency", value: f, unit: "Hz", time: time)) }
        if let t = v.totalPower {
            out.append(LiveValue(measurement: "power.active.total", value: t.activeW, unit: "W", time: time))
            out.append(
                LiveValue(measurement: "power.reactive.total", value: t.fundamentalReactiveVar, unit: "var", time: time)
            )
            out.append(LiveValue(measurement: "power_factor.total", value: t.powerFactor, unit: "", time: time))
        }
        return out
    }

    /// The canonical measurements of a channel's RMS value and (phases only) its THD: `voltage.l1n`,
    /// `thd.voltage.l1`, `current.n`, `voltage.ne` (neutral to earth)… Every channel an engine can have maps to
    /// names in the catalog, with their units (`WaveformMeasurementTests` checks each one), so no value is dropped or
    /// stored under a name nobody can query.
    static func measurements(
        of spec: ChannelSpec
    ) -> (rms: (name: String, unit: String), thd: (name: String, unit: String)?) {
        let p = spec.phase.rawValue
        switch (spec.kind, spec.phase) {
        case (.voltage, .n): return (("voltage.ne", "V"), nil)
        case (.voltage, _): return (("voltage.\(p)n", "V"), ("thd.voltage.\(p)", "%"))
        case (.current, .n): return (("current.n", "A"), nil)
        case (.current, _): return (("current.\(p)", "A"), ("thd.current.\(p)", "%"))
        }
    }
}
