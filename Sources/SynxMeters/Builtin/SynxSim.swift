// swift-format-ignore-file: the interpolated register lists inside the TOML text keep their own indentation.
extension BuiltinProfiles {
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
}
