/// The profiles compiled into synx, in the same TOML format (and through the same loader) as user
/// profiles. Kept as text so the loader, its errors and the docs stay one thing; one file per meter model
/// (`Builtin/`), each citing the manufacturer's document its addresses come from.
public enum BuiltinProfiles {
    public static let files: [(String, String)] = [
        ("synx-sim.toml", synxSim), ("synx-sim-pq.toml", synxSimPQ), ("eastron-sdm630.toml", eastronSDM630),
        ("sunspec.toml", sunspec), ("janitza-umg512pro.toml", janitzaUMG512PRO),
    ]

    /// `[[register]]` tables of `type` values at consecutive two-register addresses from `start`, one per name.
    static func registers(function: Int, type: String, start: Int, _ names: [String]) -> String {
        registers(function: function, type: type, at: names.enumerated().map { (start + 2 * $0.offset, $0.element) })
    }

    /// `[[register]]` tables of `type` values at the given addresses.
    static func registers(function: Int, type: String, at list: [(Int, String)], rate: String = "fast") -> String {
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
