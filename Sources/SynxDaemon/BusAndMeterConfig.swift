import SynxDSP
import SynxMeters
import SynxModbus
import SynxReports

/// One bus: the link and its timing.
public struct BusConfig: Sendable, Equatable {
    /// What carries the bus's requests: Modbus/TCP, a serial line, or RTU frames over a TCP serial server.
    public enum Link: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case rtu(SerialSettings)
        /// Modbus/RTU frames carried over a TCP connection (transparent serial servers).
        case rtuOverTCP(host: String, port: Int)
    }

    public var name: String
    public var link: Link
    public var timing: BusTiming
    /// Requests outstanding at once on a Modbus/TCP gateway that takes several (`max_in_flight`, opt-in; 1 sends
    /// one at a time, as every serial link must).
    public var maxInFlight = 1
}

extension BusConfig.Link {
    /// Whether replies carry no transaction id (RTU framing), so only silence tells a late reply from the next.
    var hasNoTransactionIDs: Bool {
        if case .tcp = self { return false } else { return true }
    }
}

/// The wiring of the measured system (IEC 61000-4-30 §4.2 terms).
public enum Wiring: String, Sendable {
    case threePhaseFourWire = "3P4W"
    case threePhaseThreeWire = "3P3W"
    case singlePhase = "1P2W"
}

/// One meter: where it is, what it is, how often to poll it.
public struct MeterConfig: Sendable, Equatable {
    public var name: String
    public var bus: String
    public var unit: UInt8
    public var profile: MeterProfile
    public var pollIntervalMs: Int
    public var slowPollIntervalMs: Int
    /// Where in each poll interval its slots fall: slots are at whole multiples of the interval plus this
    /// (0 unless `[daemon] poll_spread_ms` spreads the meters' starts; see `pollPhase(meter:spread:interval:)`).
    public var pollPhaseMs = 0
    public var nominalVoltage: Double
    public var nominalFrequency: Double
    public var wiring: Wiring
    /// Register polling, or a sample stream through the waveform interface (`profile = "waveform"`),
    /// analysed by the IEC 61000-4-30 engine.
    public var source: Source = .registers
    /// A waveform meter's flickermeter lamp (`flicker_lamp`): from `nominalVoltage` unless configured.
    public var flickerLamp = FlickerLampSelection.automatic
    /// What the meter's compliance reports assume about its supply (`docs/reports.md`).
    public var report = SupplySettings()

    /// Where a meter's values come from.
    public enum Source: Sendable, Equatable { case registers, waveform }
}
