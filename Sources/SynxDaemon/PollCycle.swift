import SynxMeters
import SynxModbus

/// One poll of one meter as a sequence of reads: SunSpec discovery first if the meter's map is not known
/// yet, then the blocks of its read plan. The bus thread (RTU) and the TCP reactor drive the same cycle:
/// `nextRead`, perform it, `complete`, until `nextRead` is nil.
final class PollCycle {
    struct Read {
        var table: RegisterTable
        var address: Int
        var count: Int
    }

    let meter: MeterSchedule
    /// Wall-clock ms at which the poll started, and of the slot it serves.
    let start: Int64
    let slot: Int64
    /// The schedule's anchoring when the poll began (`MeterSchedule.reanchor`).
    let anchor: Int
    let includesSlow: Bool
    /// Each read's response timeout and retries: the bus's, or a probe's (shorter, none) for an isolated meter.
    let timeoutMilliseconds: Int
    let retries: Int
    private(set) var image = RegisterImage()
    private(set) var failures: [ModbusError] = []
    private(set) var requests = 0
    private var discovery: SunSpec.Discovery?
    private var blocks: [ReadPlan.Block] = []
    private var stopped = false

    /// A cycle; with `linkDown` it fails at once with that error, sending nothing.
    init(
        meter: MeterSchedule, start: Int64, slot: Int64, anchor: Int, includesSlow: Bool, timeoutMilliseconds: Int,
        retries: Int,
        linkDown: ModbusError?
    ) {
        self.meter = meter
        self.start = start
        self.slot = slot
        self.anchor = anchor
        self.includesSlow = includesSlow
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retries = retries
        if let linkDown {
            failures = [linkDown]
            stopped = true
        } else if meter.plans == nil {
            discovery = SunSpec.Discovery()
        } else {
            planBlocks()
        }
    }

    var nextRead: Read? {
        if stopped { return nil }
        if let d = discovery { return d.nextRead.map { Read(table: .holding, address: $0.address, count: $0.count) } }
        return blocks.first.map { Read(table: $0.table, address: $0.address, count: $0.count) }
    }

    func complete(_ result: Result<[UInt16], ModbusError>) {
        requests += 1
        if var d = discovery {
            d.feed(result.mapError { $0 as Error })
            discovery = d
            guard let outcome = d.result else { return }
            discovery = nil
            switch outcome {
            case .success(let model):
                meter.setProfile(SunSpec.profile(for: model))
                planBlocks()
            case .failure(let error as ModbusError):
                fail(error)
            case .failure(let error):
                fail(
                    ModbusError(.garbage("SunSpec discovery: \(error)"), function: "discover", unit: meter.config.unit))
            }
            return
        }
        let block = blocks.removeFirst()
        switch result {
        case .success(let words):
            image.store(words, table: block.table, address: block.address)
        case .failure(let error):
            failures.append(error)
            // An exception concerns that block only; anything else means the meter or link is gone, so
            // another timeout on its other blocks would only delay its neighbours.
            switch error.kind {
            case .exception, .invalidException: break
            default: stopped = true
            }
        }
    }

    private func fail(_ error: ModbusError) {
        failures.append(error)
        stopped = true
    }

    private func planBlocks() {
        guard let plans = meter.plans else { return }
        blocks = plans.fast.blocks + (includesSlow ? plans.slow.blocks : [])
    }
}
