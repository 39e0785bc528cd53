import ArgumentParser
import Foundation
import SynxComtrade
import SynxDSP
import SynxTables
import SynxVersion

/// synx-analyze: runs the synx power-quality engine (IEC 61000-4-30 Class A, IEC 61000-4-7) over a COMTRADE
/// recording and prints every result as tables or as JSON (docs/analyzer.md).
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synx-analyze",
        abstract: "Analyse a COMTRADE recording with the synx IEC 61000-4-30 Class A engine.",
        discussion: """
            Voltage and current channels are found from their units (V/kV, A/kA) and phase fields unless given with \
            --voltage/--current (ids or 1-based indexes, in L1, L2, L3, N order). Values are taken on the primary side \
            unless --secondary. Exit status: 0 done, 65 malformed recording, 64 bad options.
            """,
        version: synxVersion)

    @Argument(help: "The recording's .cfg file (the .dat beside it is read too).")
    var recording: String

    @Option(help: "Declared input voltage Udin, line-to-neutral volts.")
    var udin: Double = 230

    @Option(help: "Nominal frequency, 50 or 60 Hz (default: the recording's line frequency).")
    var frequency: Int?

    @Option(help: "Voltage channels (ids or indexes, comma separated).")
    var voltage: String?

    @Option(help: "Current channels (ids or indexes, comma separated).")
    var current: String?

    @Flag(help: "Analyse secondary values instead of primary ones.")
    var secondary = false

    @Option(help: "Dip threshold, % of the reference.") var dip = 90.0
    @Option(help: "Swell threshold, % of the reference.") var swell = 110.0
    @Option(help: "Interruption threshold, % of the reference.") var interruption = 5.0
    @Option(help: "Dip/swell/interruption hysteresis, % of the reference.") var hysteresis = 2.0
    @Option(help: "RVC threshold, % of Udin.") var rvc = 3.3
    @Option(help: "RVC hysteresis, % of Udin.") var rvcHysteresis = 1.65
    @Option(help: "Event reference: declared (Udin) or sliding.") var reference: VoltageReference = .declared
    @Option(help: "Flickermeter lamp: auto (120 V below a Udin of 180 V, else 230 V), 230v, 120v or off.")
    var flicker: FlickerLampSelection = .automatic

    @Option(help: "Output: table or json.") var format: Format = .table
    @Option(help: "Table sections: events,flicker,frequency,aggregates,basic,harmonics (comma separated) or all.")
    var show = "all"
    @Option(help: "Harmonic orders listed in the table.") var orders = 25
    @Flag(help: "No progress bar (it is shown only on a terminal anyway).") var noProgress = false

    func run() throws {
        let rec: ComtradeRecording
        do {
            rec = try ComtradeReader.read(cfgPath: recording)
        } catch let e as ComtradeError {
            FileHandle.standardError.write(Data("synx-analyze: \(e)\n".utf8))
            throw ExitCode(65)
        }
        let c = rec.configuration
        let mapping: ChannelMapping
        do {
            mapping = try ChannelMapping(
                configuration: c, voltages: voltage?.split(separator: ",").map(String.init),
                currents: current?.split(separator: ",").map(String.init))
        } catch let e as ChannelMapping.Failure {
            throw ValidationError(e.description)
        }
        let nominalHz = frequency ?? Int(c.lineFrequency.rounded())
        guard let nominal = NominalFrequency(rawValue: nominalHz) else {
            throw ValidationError("nominal frequency \(nominalHz) Hz: give --frequency 50 or 60")
        }
        let times = rec.sampleTimes()
        let rates = Set(c.sampleRates.filter { $0.rate > 0 }.map(\.rate))
        guard rates.count <= 1 else {
            throw ValidationError(
                "the recording has sections at \(rates.sorted().map { "\($0)" }.joined(separator: ", ")) S/s; the engine needs one sample rate"
            )
        }
        let fs = rates.first ?? Self.estimatedRate(times)
        var config = EngineConfiguration(
            sampleRate: fs, nominalFrequency: nominal, declaredVoltage: udin,
            channels: mapping.inputs.map(\.spec))
        config.thresholds.dipPercent = dip
        config.thresholds.swellPercent = swell
        config.thresholds.interruptionPercent = interruption
        config.thresholds.hysteresisPercent = hysteresis
        config.thresholds.rvcPercent = rvc
        config.thresholds.rvcHysteresisPercent = rvcHysteresis
        config.reference = reference
        config.flicker = flicker
        let engine: PowerQualityEngine
        do { engine = try PowerQualityEngine(configuration: config) } catch { throw ValidationError("\(error)") }

        let columns = mapping.inputs.map { input in
            (secondary ? rec.analog[input.recordingIndex] : rec.primaryValues(input.recordingIndex)).map {
                $0 * input.factor
            }
        }
        var analysis = Analysis()
        var progress = ProgressBar(total: rec.sampleCount, enabled: !noProgress)
        let start = c.startTimeUTC
        let blockLength = max(1, Int(fs / 5))
        var k = 0
        while k < rec.sampleCount {
            // A block ends early where the sample times jump (a gap in the recording).
            var end = min(rec.sampleCount, k + blockLength)
            if let jump = (k + 1..<end).first(where: { abs(times[$0] - times[$0 - 1] - 1 / fs) > 0.5 / fs }) {
                end = jump
            }
            let block = SampleBlock(startTime: start + times[k], channels: columns.map { Array($0[k..<end]) })
            analysis.add(try engine.process(block))
            k = end
            progress.update(k)
        }
        analysis.add(engine.finish())
        progress.finish()

        let meta = Analysis.Meta(
            file: recording, configuration: c, mapping: mapping, engine: config,
            orderLimit: engine.harmonicOrderLimit)
        if format == .json {
            FileHandle.standardOutput.write(try analysis.json(meta))
        } else {
            let sections = Set(show.split(separator: ",").map(String.init))
            FileHandle.standardOutput.write(
                Data(
                    analysis.tables(
                        meta, sections: sections.contains("all") ? nil : sections,
                        orders: orders
                    ).utf8))
        }
    }

    /// The sample rate implied by timestamps when the file gives none (nrates = 0): samples per second over all
    /// of the file's gap-free steps. Timestamps rounded to the time unit (156 and 157 µs at 6.4 kS/s) average out
    /// over the file, where one step (the median) would say 6410.3 S/s; steps over 1.5 × the typical one are gaps
    /// and are left out.
    static func estimatedRate(_ times: [Double]) -> Double {
        let steps = zip(times.dropFirst(), times).map { $0 - $1 }
        let positive = steps.filter { $0 > 0 }.sorted()
        guard !positive.isEmpty else { return 0 }
        let typical = positive[positive.count / 2]
        var span = 0.0
        var count = 0
        for s in steps where s > 0 && s < 1.5 * typical {
            span += s
            count += 1
        }
        return span > 0 ? Double(count) / span : 0
    }
}

extension Analyze {
    /// What `--format` accepts: the tables, or the JSON document (docs/analyzer.md).
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json }
}

extension VoltageReference: ExpressibleByArgument {}
extension FlickerLampSelection: ExpressibleByArgument {}

Analyze.main()
