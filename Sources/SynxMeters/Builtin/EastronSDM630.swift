// swift-format-ignore-file: the interpolated register lists inside the TOML text keep their own indentation.
extension BuiltinProfiles {
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
}
