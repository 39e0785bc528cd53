import ArgumentParser
import Foundation
import SynxTOML
import SynxVersion

/// synx-sim — a Modbus/TCP and Modbus/RTU meter simulator driven by a scenario file.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synx-sim",
        abstract: "Simulate power meters over real Modbus/TCP and Modbus/RTU.",
        discussion: """
            Every unit of the scenario answers on every listener. Prints one line per listener \
            ("tcp HOST:PORT", "rtu DEVICE") and then "ready", and runs until killed.
            """,
        version: synxVersion)

    @Option(name: .long, help: "Scenario file (see simulators/).")
    var scenario: String

    @Option(name: .long, help: "Listen for Modbus/TCP on HOST:PORT (port 0 picks a free port). Repeatable.")
    var tcp: [String] = []

    @Option(name: .long, help: "Serve Modbus/RTU on a serial device, e.g. one end of a socat pty pair. Repeatable.")
    var rtu: [String] = []

    @Option(name: .long, help: "Write the values served, as JSON, to this file after every update.")
    var state: String?

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        try TCPServer.raiseDescriptorLimit()
        let scenarioValue: Scenario
        do { scenarioValue = try Scenario.load(path: scenario) } catch let error as ConfigError {
            FileHandle.standardError.write(Data("synx-sim: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if tcp.isEmpty && rtu.isEmpty { throw ValidationError("give at least one --tcp or --rtu") }
        let sim = try Simulator(scenario: scenarioValue, statePath: state)
        var listeners: [TCPListener] = []
        for spec in tcp {
            guard let colon = spec.lastIndex(of: ":"), let port = Int(spec[spec.index(after: colon)...]) else {
                throw ValidationError("--tcp wants HOST:PORT, got \(spec)")
            }
            let listener = try TCPListener(host: String(spec[..<colon]), port: port)
            listeners.append(listener)
            print("tcp \(spec[..<colon]):\(listener.port)")
        }
        if !listeners.isEmpty { try TCPServer(simulator: sim, listeners: listeners).start() }
        for device in rtu {
            let listener = try RTUListener(simulator: sim, device: device)
            listener.start()
            print("rtu \(device)")
        }
        sim.startUpdating()
        for (id, unit) in sim.waveforms.sorted(by: { $0.key < $1.key }) {
            print("waveform \(id) epoch_us \(unit.interface.epochMicroseconds)")  // the block-0 time its samples are stamped from
        }
        print("ready")
        fflush(stdout)
        while true { pause() }
    }
}

SimCommand.main()
