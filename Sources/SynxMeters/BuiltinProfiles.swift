/// The profiles compiled into synx, in the same TOML format (and through the same loader) as user
/// profiles. Kept as text so the loader, its errors and the docs stay one thing.
public enum BuiltinProfiles {
    public static let files: [(String, String)] = [
        ("synx-sim.toml", synxSim), ("eastron-sdm630.toml", eastronSDM630), ("sunspec.toml", sunspec),
    ]

    /// The simulator's native map: input registers mixing every decoder (float32, int32 word-swapped,
    /// scaled int16/uint16, acc32 energy), so one meter exercises them all.
    static let synxSim = """
    [profile]
    name = "synx-sim"
    manufacturer = "synx"
    model = "synx-sim native map"
    document = "docs/simulator.md"
    merge_gap = 8

    \(registers(function: 4, type: "float32", start: 0, [
        "voltage.l1n", "voltage.l2n", "voltage.l3n", "voltage.l12", "voltage.l23", "voltage.l31",
        "current.l1", "current.l2", "current.l3", "current.n",
        "power.active.l1", "power.active.l2", "power.active.l3", "power.active.total",
        "power.reactive.total", "power.apparent.total", "frequency",
    ]))
    [[register]]
    measurement = "power_factor.total"
    function = 4
    address = 40
    type = "int16"
    scale = 0.001

    [[register]]
    measurement = "thd.voltage.l1"
    function = 4
    address = 41
    type = "uint16"
    scale = 0.01
    unit = "%"

    [[register]]
    measurement = "power.reactive.l1"
    function = 4
    address = 42
    type = "int32"
    word_order = "low-first"

    [[register]]
    measurement = "energy.active.import"
    function = 4
    address = 50
    type = "acc32"
    scale = 0.001
    unit = "kWh"
    rate = "slow"

    [[register]]
    measurement = "energy.reactive.import"
    function = 4
    address = 52
    type = "float64"
    unit = "kvarh"
    rate = "slow"
    """

    /// Eastron SDM630 (Modbus protocol V1.8): input registers, IEEE 754 float32, high word first.
    /// Addresses are the manual's 3xxxx numbers minus 30001.
    static let eastronSDM630 = """
    [profile]
    name = "eastron-sdm630"
    manufacturer = "Eastron"
    model = "SDM630-Modbus"
    document = "https://www.eastroneurope.com/images/uploads/products/protocol/SDM630_MODBUS_Protocol.pdf"
    merge_gap = 20

    \(registers(function: 4, type: "float32", start: 0, [
        "voltage.l1n", "voltage.l2n", "voltage.l3n", "current.l1", "current.l2", "current.l3",
        "power.active.l1", "power.active.l2", "power.active.l3",
        "power.apparent.l1", "power.apparent.l2", "power.apparent.l3",
        "power.reactive.l1", "power.reactive.l2", "power.reactive.l3",
        "power_factor.l1", "power_factor.l2", "power_factor.l3",
    ]))
    \(registers(function: 4, type: "float32", at: [
        (42, "voltage.ln_avg"), (46, "current.avg"), (48, "current.total"), (52, "power.active.total"),
        (56, "power.apparent.total"), (60, "power.reactive.total"), (62, "power_factor.total"), (70, "frequency"),
        (200, "voltage.l12"), (202, "voltage.l23"), (204, "voltage.l31"), (206, "voltage.ll_avg"),
        (224, "current.n"), (234, "thd.voltage.l1"), (236, "thd.voltage.l2"), (238, "thd.voltage.l3"),
        (240, "thd.current.l1"), (242, "thd.current.l2"), (244, "thd.current.l3"),
    ]))
    \(registers(function: 4, type: "float32", at: [
        (72, "energy.active.import"), (74, "energy.active.export"),
        (76, "energy.reactive.import"), (78, "energy.reactive.export"), (80, "energy.apparent.total"),
    ], rate: "slow"))
    """

    /// SunSpec meters (models 201–204 int+scale factor, 211–214 float): the map is discovered on the device.
    static let sunspec = """
    [profile]
    name = "sunspec"
    manufacturer = "SunSpec Alliance"
    model = "SunSpec meter models 201-204, 211-214"
    document = "https://sunspec.org/specifications/ (SunSpec Information Model Specification; model_20x/21x)"
    discovery = "sunspec"
    """

    private static func registers(function: Int, type: String, start: Int, _ names: [String]) -> String {
        registers(function: function, type: type, at: names.enumerated().map { (start + 2 * $0.offset, $0.element) })
    }

    private static func registers(function: Int, type: String, at list: [(Int, String)], rate: String = "fast") -> String {
        list.map { address, name in
            """
            [[register]]
            measurement = "\(name)"
            function = \(function)
            address = \(address)
            type = "\(type)"
            rate = "\(rate)"

            """
        }.joined(separator: "\n")
    }
}
