import ArgumentParser

/// synx-bench — benchmarks that print each figure beside a baseline measured in the same run.
struct SynxBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synx-bench",
        abstract: "synx benchmarks (run with: swift run -c release synx-bench …).",
        subcommands: [
            PollBenchmark.self, FleetBenchmark.self, StoreBenchmark.self, EngineBenchmark.self, WaveformBenchmark.self,
            BaselineClient.self,
        ])
}

SynxBench.main()
