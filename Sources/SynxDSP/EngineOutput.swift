/// Cumulative energy registers of a metering point (IEC 62053 conventions: import = positive active power).
public struct EnergyRegisters: Sendable, Equatable, Codable {
    public var activeImportWh = 0.0
    public var activeExportWh = 0.0
    /// Fundamental reactive energy, Q1 > 0 (inductive) and Q1 < 0 (capacitive).
    public var reactiveInductiveVarh = 0.0
    public var reactiveCapacitiveVarh = 0.0

    enum CodingKeys: String, CodingKey {
        case activeImportWh = "active_import_wh"
        case activeExportWh = "active_export_wh"
        case reactiveInductiveVarh = "reactive_inductive_varh"
        case reactiveCapacitiveVarh = "reactive_capacitive_varh"
    }

    mutating func integrate(_ total: TotalPower, seconds: Double) {
        let hours = seconds / 3600
        if total.activeW >= 0 {
            activeImportWh += total.activeW * hours
        } else {
            activeExportWh -= total.activeW * hours
        }
        let q = total.fundamentalReactiveVar
        if q >= 0 { reactiveInductiveVarh += q * hours } else { reactiveCapacitiveVarh -= q * hours }
    }
}

/// One basic 10/12-cycle value set, IEC 61000-4-30 §4.4: the window spans exactly 10 (50 Hz) or 12 (60 Hz)
/// cycles of the fundamental between [start, end) in UTC seconds. `values` is nil when the window is invalid
/// (missing samples).
public struct BasicWindow: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var quality: ValueQuality
    public var values: PowerQualityValues?
    /// The end of the UTC 10-min interval this window is aggregated into (IEC 61000-4-30 §4.5.3).
    public var tenMinuteTag: Double
    /// Energy registers after this window.
    public var energy: EnergyRegisters
    /// The largest instantaneous flicker sensation Pinst (IEC 61000-4-15 block 4) of each L–N voltage channel
    /// during the window; empty while the flickermeter settles, or with flicker off.
    public var pinstMax: [Phase: Double] = [:]
}

/// The flicker severity of a 10-min interval (Pst, IEC 61000-4-15 Ed.2 §4.7.2) or a 2-h interval (Plt, §4.7.3)
/// on each L–N voltage channel, IEC 61000-4-30 §5.3.
public struct FlickerSeverity: Sendable, Equatable {
    /// Pst (10-min aggregates) or Plt (2-h aggregates) per phase.
    public var severity: [Phase: Double]
    /// The largest Pinst of the interval per phase.
    public var pinstMax: [Phase: Double]
    /// Pinst values (10 min) or Pst values (2 h) the severity was computed from.
    public var count: Int
    /// `flagged` when a dip, swell or interruption overlapped the interval (§4.7); `incomplete` when Pinst did not
    /// cover the whole 10 minutes (the start of the input, a gap, the flickermeter settling after either), or a Plt
    /// had fewer than 12 Pst or an incomplete one.
    public var quality: ValueQuality
}

/// The aggregation tiers of IEC 61000-4-30 §4.5.
public enum AggregationTier: String, Sendable, Codable, CaseIterable {
    /// 150 (50 Hz) or 180 (60 Hz) cycles: 15 consecutive basic values, restarted at each 10-min tick.
    case cycles150_180 = "150/180-cycle"
    /// UTC-aligned 10 minutes, tagged with the interval end.
    case tenMinutes = "10-min"
    /// 12 ten-minute values, aligned to even UTC hours.
    case twoHours = "2-h"
}

/// An aggregate of basic values (or, for 2-h, of 10-min values) by the RMS-of-RMS rule (§4.5).
public struct Aggregate: Sendable, Equatable {
    public var tier: AggregationTier
    /// First constituent's start and the tag time: the interval end (UTC seconds).
    public var start: Double
    public var end: Double
    /// Valid constituents aggregated, and invalid (gap) constituents seen.
    public var count: Int
    public var invalidCount: Int
    public var quality: ValueQuality
    /// nil when every constituent was invalid.
    public var values: PowerQualityValues?
    /// Energy registers at the end of the interval.
    public var energy: EnergyRegisters
    /// Pst (10-min tier) or Plt (2-h tier); nil for the 150/180-cycle tier, with flicker off, or when the
    /// flickermeter gave no value during the interval.
    public var flicker: FlickerSeverity? = nil
}

/// The Class A power frequency, IEC 61000-4-30 §5.1.1: integral cycles wholly inside a UTC-aligned 10-s interval
/// divided by their cumulative duration. nil when no measured cycle lay inside.
public struct FrequencyValue: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var hertz: Double?
    public var cycles: Int
    public var quality: ValueQuality
}

/// Kinds of voltage events, IEC 61000-4-30 §5.4 (dips, swells, interruptions) and §5.11 (RVC).
public enum VoltageEventKind: String, Sendable, Codable, CaseIterable {
    case dip, swell, interruption
    case rapidVoltageChange = "rvc"
}

/// A completed voltage event with its IEC 61000-4-30 characterisation: for dips and interruptions the residual
/// voltage (lowest Urms½ on any channel), for swells the maximum; duration from the Urms½ timing (§5.4.2.1);
/// for RVC ΔUmax and ΔUss (§5.11.3). `extremes` holds each phase's lowest (dip, interruption) or highest
/// (swell) Urms½; `incomplete` marks an event still active when a gap or the end of the input came.
public struct VoltageEvent: Sendable, Equatable {
    public var kind: VoltageEventKind
    public var start: Double
    public var duration: Double
    public var reference: Double
    /// Residual voltage (dip, interruption), maximum (swell) or ΔUmax (RVC), volts.
    public var magnitude: Double
    public var worstPhase: Phase
    public var extremes: [Phase: Double]
    /// ΔUss for RVC, volts.
    public var steadyStateChange: Double?
    public var incomplete: Bool

    public var end: Double { start + duration }
    /// Depth of a dip or interruption, Uref − Ures in percent of Uref.
    public var depthPercent: Double? {
        kind == .dip || kind == .interruption ? (reference - magnitude) / reference * 100 : nil
    }
}

/// What the engine reports, in the order it learns it.
public enum EngineOutput: Sendable, Equatable {
    case basic(BasicWindow)
    case aggregate(Aggregate)
    case frequency(FrequencyValue)
    case event(VoltageEvent)
    /// A condition of the input that invalidated values (gap, non-finite samples, time going backwards).
    case inputIssue(InputIssue)
}

/// A problem with the samples themselves, reported rather than repaired.
public struct InputIssue: Sendable, Equatable {
    /// Missing samples, non-finite samples, or a block earlier than the previous one ended.
    public enum Kind: String, Sendable, Codable {
        case gap
        case nonFinite = "non_finite"
        case timeWentBackwards = "time_backwards"
    }
    public var kind: Kind
    public var time: Double
    /// Samples missing (gap) or affected.
    public var samples: Int
}
