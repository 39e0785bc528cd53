/// The compliance reports there are, by the names users give them (`synx-report`, `synxctl report`).
public enum ReportStandard: String, Sendable, CaseIterable {
    /// EN 50160:2010 (`EN50160`).
    case en50160
    /// IEEE 519-2022 (`IEEE519`).
    case ieee519
    /// IEC 61000-2-2's compatibility levels, with NEMA MG 1 on a motor bus (`IEC61000_2_2`).
    case iec61000_2_2 = "iec61000-2-2"
    /// The voltage events against ITIC and SEMI F47 (`EventCurves.eventsReport`).
    case events

    /// The assessment of `input` by this standard, for a meter whose supply is `supply`.
    public func assess(_ input: ReportInput, supply: SupplySettings) -> ComplianceReport {
        switch self {
        case .en50160: EN50160.assess(input, level: supply.voltageLevel, connection: supply.connection)
        case .ieee519: IEEE519.assess(input, isc: supply.shortCircuitCurrent, il: supply.maximumDemandCurrent)
        case .iec61000_2_2: IEC61000_2_2.assess(input, motorBus: supply.motorBus)
        case .events: EventCurves.eventsReport(input)
        }
    }
}

/// A meter's supply as its compliance reports need it: EN 50160's voltage level and network, IEEE 519's
/// short-circuit and maximum demand currents at the point of common coupling (both or neither), and whether the
/// meter sees a motor bus (NEMA MG 1's unbalance derating in the IEC 61000-2-2 report).
public struct SupplySettings: Sendable, Equatable {
    /// EN 50160's low- or medium-voltage limits.
    public var voltageLevel = EN50160.VoltageLevel.lv
    /// EN 50160's interconnected or island power-frequency limits.
    public var connection = EN50160.Connection.interconnected
    /// IEEE 519: the short-circuit current at the point of common coupling, amperes.
    public var shortCircuitCurrent: Double?
    /// IEEE 519: the maximum demand load current there, amperes.
    public var maximumDemandCurrent: Double?
    /// The meter sees a motor bus: the IEC 61000-2-2 report adds NEMA MG 1.
    public var motorBus = false

    /// An LV interconnected supply, no IEEE 519 currents, no motor bus.
    public init() {}
}
