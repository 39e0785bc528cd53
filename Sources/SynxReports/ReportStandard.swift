/// The compliance reports there are, by the names users give them (`synx-report`, `synxctl report`).
public enum ReportStandard: String, Sendable, CaseIterable {
    case en50160
    case ieee519
    case iec61000_2_2 = "iec61000-2-2"
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
    public var voltageLevel = EN50160.VoltageLevel.lv
    public var connection = EN50160.Connection.interconnected
    /// I_SC and I_L, amperes.
    public var shortCircuitCurrent: Double?
    public var maximumDemandCurrent: Double?
    public var motorBus = false

    /// An LV interconnected supply, no IEEE 519 currents, no motor bus.
    public init() {}
}
