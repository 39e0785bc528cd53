// swift-format-ignore-file: the interpolated register lists inside the TOML text keep their own indentation.
extension BuiltinProfiles {
    /// Janitza UMG 512-PRO power quality analyser. Addresses from Janitza's "Power Quality Analyser UMG 512-PRO –
    /// Modbus-address and Formulary", Dok. Nr. 1.054.016.3.l, 06/2025 (janitza-mal-umg512pro-en.pdf, on the
    /// product's downloads page at janitza.com; read from the byte-identical copy in github.com/sm26449/janitza-monitor,
    /// docs/janitza-mal-umg512pro-en.pdf, commit 7fab0ac, sha256 29c9858a…6987). Holding registers (function 3),
    /// float32 high word first, in engineering units; the address in the document is the protocol address.
    /// Harmonic voltages are in volts, orders 1–63 two registers apart per phase (L1 from 391, L2 517, L3 643):
    /// orders 2–50 are read and divided by order 1. Not mapped: the current harmonics (the document's layout for
    /// L2 and L3 was not checked) and the currents.
    static let janitzaUMG512PRO = """
    [profile]
    name = "janitza-umg512pro"
    manufacturer = "Janitza electronics"
    model = "UMG 512-PRO"
    document = "Janitza, UMG 512-PRO Modbus-address and Formulary, Dok. Nr. 1.054.016.3.l, 06/2025"
    word_order = "high-first"

    \(registers(function: 3, type: "float32", at: [
        (19000, "voltage.l1n"), (19002, "voltage.l2n"), (19004, "voltage.l3n"), (19050, "frequency"),
        (19110, "thd.voltage.l1"), (19112, "thd.voltage.l2"), (19114, "thd.voltage.l3"),
        (4005, "unbalance.voltage.u2"),
        (4161, "flicker.pst.l1"), (4163, "flicker.pst.l2"), (4165, "flicker.pst.l3"),
        (4169, "flicker.plt.l1"), (4171, "flicker.plt.l2"), (4173, "flicker.plt.l3"),
    ]))
    \([("l1", 391), ("l2", 517), ("l3", 643)].map { phase, fundamental in
        """
        [[register_array]]
        measurement = "harmonic.voltage.\(phase).h{n}"
        first_order = 2
        last_order = 50
        function = 3
        address = \(fundamental + 2)
        fundamental_address = \(fundamental)
        type = "float32"
        unit = "V"

        """
    }.joined(separator: "\n"))
    """
}
