import SynxModbus

// One fuzz input against SunSpec discovery and the reads of the profile it builds, over a register image a
// device makes up. Compiled into the test target (which replays every kept input in Tests/Fuzz/sunspec) and
// into the libFuzzer binary that scripts/fuzz builds.
@testable import SynxMeters

/// Layout: byte 0 picks the base the device's registers start at (40000, 0, 50000 or 65500) and, in its high
/// bits, whether reads past the image fail (exception) or time out; the rest are big-endian registers from
/// there on. Discovery must end within its bound of reads, every address it asks for or returns must lie in the
/// 16-bit register space, and each point of the profile it builds must decode to a value, `notImplemented`,
/// `invalid` or `unread`, never trap.
func fuzzSunSpecDiscovery(_ input: [UInt8]) {
    guard let control = input.first else { return }
    let base = [40000, 0, 50000, 65500][Int(control & 3)]
    let words = stride(from: 1, to: input.count - 1, by: 2).map { UInt16(input[$0]) << 8 | UInt16(input[$0 + 1]) }
    func read(_ address: Int, _ count: Int) -> Result<[UInt16], Error> {
        precondition(address >= 0 && count >= 1 && address + count - 1 <= 0xFFFF, "read outside the register space")
        let first = address - base
        guard first >= 0, first + count <= words.count else {
            return .failure(
                ModbusError(
                    control & 4 == 0 ? .exception(2) : .timeout, function: "read holding registers", address: address))
        }
        return .success(Array(words[first..<first + count]))
    }
    var discovery = SunSpec.Discovery()
    var reads = 0
    while let next = discovery.nextRead {
        reads += 1
        precondition(reads <= SunSpec.baseAddresses.count + 65, "discovery did not end")
        discovery.feed(read(next.address, next.count))
    }
    guard case .success(let model) = discovery.result else { return }
    precondition(model.dataAddress >= 0 && model.dataAddress + model.length - 1 <= 0xFFFF)
    let profile = SunSpec.profile(for: model)
    let plan = ReadPlan(points: profile.points, mergeGap: profile.mergeGap)
    var image = RegisterImage()
    for block in plan.blocks {
        if case .success(let values) = read(block.address, block.count) {
            image.store(values, table: block.table, address: block.address)
        }
    }
    let limits = Plausibility(nominalVoltage: 230)
    for point in profile.points {
        if case .value(let v) = image.reading(of: point, plausible: limits.range(of: point)) {
            precondition(v.isFinite)
        }
    }
}
