/// One Urms½ value per phase voltage channel: the RMS over one cycle starting at a half-cycle boundary,
/// refreshed every half cycle (IEC 61000-4-30 §5.4.1 Class A). `start` and `end` are UTC seconds.
struct HalfCycleRMS {
    var start: Double
    var end: Double
    var values: [Double]
}

/// Polyphase dip, swell and interruption detection on Urms½, IEC 61000-4-30 §5.4.2–5.5.2:
/// a dip starts when any channel falls below the dip threshold and ends when every channel is at or above
/// threshold + hysteresis; a swell mirrors it above the swell threshold; an interruption starts when every
/// channel is below the interruption threshold and ends when any channel is at or above threshold + hysteresis.
///
/// Timing: each Urms½ value is placed at the start of its one-cycle window, both for the value that starts an
/// event and for the one that ends it, so the duration is the time between them. (Taking the start of the first
/// window but the end of the last would add a whole cycle to every duration; see docs/engine.md.)
struct VoltageEventDetector {
    private struct Active {
        var start: Double
        var reference: Double
        var extremes: [Double]
    }

    let phases: [Phase]
    let thresholds: EventThresholds
    private var dip: Active?
    private var swell: Active?
    private var interruption: Active?

    init(phases: [Phase], thresholds: EventThresholds) {
        self.phases = phases
        self.thresholds = thresholds
    }

    var isDipOrSwellActive: Bool { dip != nil || swell != nil }
    var isActive: Bool { dip != nil || swell != nil || interruption != nil }

    /// Feeds one Urms½ value set; returns the events it completes.
    mutating func update(_ u: HalfCycleRMS, reference: Double) -> [VoltageEvent] {
        let t = thresholds
        let dipLevel = reference * t.dipPercent / 100
        let swellLevel = reference * t.swellPercent / 100
        let interruptionLevel = reference * t.interruptionPercent / 100
        let hysteresis = reference * t.hysteresisPercent / 100
        var done: [VoltageEvent] = []

        if var d = dip {
            for i in u.values.indices { d.extremes[i] = min(d.extremes[i], u.values[i]) }
            dip = d
            if u.values.allSatisfy({ $0 >= dipLevel + hysteresis }) {
                done.append(finish(.dip, d, at: u.start))
                dip = nil
            }
        } else if u.values.contains(where: { $0 < dipLevel }) {
            dip = Active(start: u.start, reference: reference, extremes: u.values)
        }

        if var s = swell {
            for i in u.values.indices { s.extremes[i] = max(s.extremes[i], u.values[i]) }
            swell = s
            if u.values.allSatisfy({ $0 <= swellLevel - hysteresis }) {
                done.append(finish(.swell, s, at: u.start))
                swell = nil
            }
        } else if u.values.contains(where: { $0 > swellLevel }) {
            swell = Active(start: u.start, reference: reference, extremes: u.values)
        }

        if var r = interruption {
            for i in u.values.indices { r.extremes[i] = min(r.extremes[i], u.values[i]) }
            interruption = r
            if u.values.contains(where: { $0 >= interruptionLevel + hysteresis }) {
                done.append(finish(.interruption, r, at: u.start))
                interruption = nil
            }
        } else if u.values.allSatisfy({ $0 < interruptionLevel }) {
            interruption = Active(start: u.start, reference: reference, extremes: u.values)
        }
        return done
    }

    /// Ends every active event at `time`, marked incomplete (a gap or the end of the input).
    mutating func abort(at time: Double) -> [VoltageEvent] {
        var done: [VoltageEvent] = []
        if let d = dip { done.append(finish(.dip, d, at: time, incomplete: true)) }
        if let s = swell { done.append(finish(.swell, s, at: time, incomplete: true)) }
        if let r = interruption { done.append(finish(.interruption, r, at: time, incomplete: true)) }
        dip = nil
        swell = nil
        interruption = nil
        return done
    }

    /// Start times of the events in progress (for flagging basic windows that overlap them).
    var activeStarts: [Double] { [dip, swell, interruption].compactMap { $0?.start } }

    private func finish(
        _ kind: VoltageEventKind, _ a: Active, at end: Double, incomplete: Bool = false
    )
        -> VoltageEvent
    {
        let worst =
            kind == .swell
            ? a.extremes.indices.max { a.extremes[$0] < a.extremes[$1] }!
            : a.extremes.indices.min { a.extremes[$0] < a.extremes[$1] }!
        return VoltageEvent(
            kind: kind, start: a.start, duration: max(0, end - a.start), reference: a.reference,
            magnitude: a.extremes[worst], worstPhase: phases[worst],
            extremes: Dictionary(uniqueKeysWithValues: zip(phases, a.extremes)),
            steadyStateChange: nil, incomplete: incomplete)
    }
}
