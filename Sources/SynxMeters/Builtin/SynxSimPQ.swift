// swift-format-ignore-file: the interpolated register lists inside the TOML text keep their own indentation.
extension BuiltinProfiles {
    /// The simulator's power-quality map: what a PQ-capable meter computes itself, float32 input registers —
    /// magnitudes (line to neutral and line to line), THD, unbalance, its own Pst and Plt, its own dip, swell and
    /// interruption counters, and harmonic arrays (orders 2–50, % of the fundamental,
    /// one block per phase for voltages and currents), so reports can be driven from a polled meter.
    static let synxSimPQ = """
    [profile]
    name = "synx-sim-pq"
    manufacturer = "synx"
    model = "synx-sim power-quality map"
    document = "docs/simulator.md"

    \(registers(function: 4, type: "float32", start: 0, [
        "voltage.l1n", "voltage.l2n", "voltage.l3n", "current.l1", "current.l2", "current.l3", "frequency",
        "thd.voltage.l1", "thd.voltage.l2", "thd.voltage.l3", "thd.current.l1", "thd.current.l2", "thd.current.l3",
        "unbalance.voltage.u2", "flicker.pst.l1", "flicker.pst.l2", "flicker.pst.l3", "flicker.plt.l1",
        "flicker.plt.l2", "flicker.plt.l3", "power.active.total", "voltage.l12", "voltage.l23", "voltage.l31",
        "events.dip.count", "events.swell.count", "events.interruption.count",
    ]))
    \([("voltage", "l1", 100), ("voltage", "l2", 200), ("voltage", "l3", 300), ("current", "l1", 400),
       ("current", "l2", 500), ("current", "l3", 600)].map { kind, phase, address in
        """
        [[register_array]]
        measurement = "harmonic.\(kind).\(phase).h{n}"
        first_order = 2
        last_order = 50
        function = 4
        address = \(address)
        type = "float32"

        """
    }.joined(separator: "\n"))
    """
}
