import XCTest

@testable import SynxDSP

/// IEC 61000-4-30 §4.5–4.6 aggregation and time alignment, and the engine's behaviour on bad input.
final class AggregationAndRobustnessTests: XCTestCase {
    private let tick = 1_800_000_000.0  // a UTC 10-min (and 2-h) boundary

    func testTenMinuteAggregate_closesOnTheUTCTick_andTheNextWindowStartsAtIt() throws {
        var s = SyntheticSignal(sampleRate: 6_400, frequency: 49.83)
        s.t0 = tick - 20
        let out = try s.run(seconds: 40)
        let tenMinute = out.aggregates(.tenMinutes)
        XCTAssertEqual(tenMinute.first?.end, tick, "tagged with the interval end")
        XCTAssertTrue(tenMinute.first!.quality.contains(.incomplete), "the input started mid-interval")
        let basics = out.basics
        let straddling = try XCTUnwrap(basics.first { $0.start < tick && $0.end >= tick })
        XCTAssertEqual(straddling.tenMinuteTag, tick, "the straddling window belongs to the ending interval")
        let next = try XCTUnwrap(basics.first { $0.start >= tick - 1 && $0.tenMinuteTag == tick + 600 })
        XCTAssertEqual(next.start, tick, accuracy: 1e-6, "a new basic window starts exactly at the tick")
        XCTAssertLessThan(next.start, straddling.end, "the two overlap (§4.6)")
        XCTAssertEqual(next.end - next.start, 10 / 49.83, accuracy: 1e-5, "and is still 10 cycles long")
        // Basic windows in the ending interval: 20 s of 10 cycles at 49.83 Hz.
        XCTAssertEqual(tenMinute.first!.count, basics.filter { $0.tenMinuteTag == tick }.count)
        XCTAssertEqual(Double(tenMinute.first!.count), 20 * 49.83 / 10, accuracy: 2)
        // The 150-cycle block restarts at the tick: the one ending with the straddling window is short.
        let blocks = out.aggregates(.cycles150_180)
        let short = try XCTUnwrap(blocks.first { $0.end == straddling.end })
        XCTAssertTrue(short.quality.contains(.incomplete) || short.count == 15)
        XCTAssertTrue(blocks.contains { $0.start == next.start })
        XCTAssertTrue(blocks.filter { $0.end < tick - 1 }.allSatisfy { $0.count == 15 })
    }

    func testAggregates_areTheRMSOfTheirBasicValues() throws {
        var s = SyntheticSignal(sampleRate: 6_400, frequency: 50)
        s.t0 = tick - 10
        s.changes = (0..<3).map { .init(phase: $0, start: 3, duration: 20, factor: 1.04) }
        let out = try s.run(seconds: 15)
        for block in out.aggregates(.cycles150_180) where block.count == 15 {
            let members = out.basics.filter { $0.start >= block.start && $0.end <= block.end && $0.values != nil }
            XCTAssertEqual(members.count, 15)
            let rms = (members.reduce(0) { $0 + pow($1.values!.channels[0].rms, 2) } / 15).squareRoot()
            XCTAssertEqual(block.values!.channels[0].rms, rms, accuracy: 1e-9)
            let p = members.reduce(0) { $0 + ($1.values!.frequency ?? 0) } / 15
            XCTAssertEqual(try XCTUnwrap(block.values!.frequency), p, accuracy: 1e-9)
        }
    }

    func testTwoHourAggregate_combinesTwelveTenMinuteValues() {
        // Twelve 10-min values fed as the engine feeds them (pure accumulator; ten minutes of signal per value
        // would make this test minutes long in a debug build — the benchmark runs the engine over hours).
        var acc = IntervalAccumulator(tier: .twoHours)
        for i in 0..<12 {
            var c = ChannelValues(
                rms: 220 + Double(i),
                harmonics: HarmonicSpectrum(
                    lines: Array(repeating: 0, count: 40),
                    cyclesPerWindow: 10, orderLimit: 1))
            c.underRms = min(c.rms, 230)
            c.overRms = max(c.rms, 230)
            acc.add(
                start: Double(i) * 600, quality: i == 5 ? .flagged : [],
                values: PowerQualityValues(channels: [c], phasePower: []), energy: EnergyRegisters())
        }
        let a = acc.close(end: 7200, declaredVoltage: 230)!
        let expected = ((0..<12).reduce(0.0) { $0 + pow(220 + Double($1), 2) } / 12).squareRoot()
        XCTAssertEqual(a.values!.channels[0].rms, expected, accuracy: 1e-9)
        XCTAssertEqual(a.count, 12)
        XCTAssertTrue(a.quality.contains(.flagged), "one flagged 10-min value flags the 2-h value")
    }

    func testResults_doNotDependOnHowTheInputIsSplitIntoBlocks() throws {
        var s = SyntheticSignal(sampleRate: 6_400, frequency: 50.2)
        s.t0 = tick - 3
        s.harmonics = [.init(order: 5, percent: 5)]
        s.changes = [.init(phase: 0, start: 2.0, duration: 0.1, factor: 0.5)]
        let reference = try s.run(seconds: 6, blockSize: 64_000)
        let engine = try PowerQualityEngine(configuration: s.configuration())
        var out: [EngineOutput] = []
        var k = 0
        var sizes = [1, 7, 333, 4096, 50, 12_345, 2]
        while k < 6 * 6_400 {
            let n = min(sizes[k % sizes.count], 6 * 6_400 - k)
            out += try engine.process(
                SampleBlock(startTime: s.t0 + Double(k) / 6_400, channels: s.samples(from: k, count: n)))
            k += n
            sizes.append(sizes.removeFirst())
        }
        out += engine.finish()
        XCTAssertEqual(out.count, reference.count)
        XCTAssertEqual(out, reference)
        XCTAssertEqual(out.events.count, 1)
    }

    func testGap_invalidatesTheAffectedWindows_andInventsNothing() throws {
        let s = SyntheticSignal(sampleRate: 6_400, frequency: 50)
        let engine = try PowerQualityEngine(configuration: s.configuration())
        var out = try engine.process(SampleBlock(startTime: s.t0, channels: s.samples(from: 0, count: 6_400)))
        // 0.5 s missing.
        out += try engine.process(SampleBlock(startTime: s.t0 + 1.5, channels: s.samples(from: 9_600, count: 12_800)))
        out += engine.finish()
        XCTAssertEqual(out.issues.map(\.kind), [.gap])
        XCTAssertEqual(out.issues.first?.samples, 3_200)
        let invalid = out.basics.filter { $0.quality.contains(.gap) }
        XCTAssertGreaterThanOrEqual(invalid.count, 1)
        XCTAssertTrue(invalid.allSatisfy { $0.values == nil })
        XCTAssertFalse(
            out.basics.contains { $0.values != nil && $0.start < s.t0 + 1.5 && $0.end > s.t0 + 1.0 },
            "no valid value covers the missing half second")
        XCTAssertTrue(out.basics.contains { $0.values != nil && $0.start > s.t0 + 1.5 })
        XCTAssertTrue(out.frequencies.contains { $0.quality.contains(.gap) })
        XCTAssertTrue(out.aggregates(.cycles150_180).contains { $0.invalidCount > 0 })
    }

    func testNonFiniteSamples_areAGap_notACrash() throws {
        let s = SyntheticSignal(sampleRate: 6_400, frequency: 50)
        var samples = s.samples(from: 0, count: 12_800)
        for k in 6_000..<6_010 { samples[1][k] = .nan }
        samples[0][9_000] = .infinity
        let engine = try PowerQualityEngine(configuration: s.configuration())
        let out = try engine.process(SampleBlock(startTime: s.t0, channels: samples)) + engine.finish()
        XCTAssertEqual(out.issues.map(\.kind), [.nonFinite, .nonFinite])
        XCTAssertFalse(
            out.basics.contains { $0.values != nil && $0.start < s.t0 + 6_010 / 6_400 && $0.end > s.t0 + 6_000 / 6_400 }
        )
        for b in out.basics { if let v = b.values { XCTAssertTrue(v.channels.allSatisfy { $0.rms.isFinite }) } }
    }

    func testZeroSignal_isAnInterruption_withUnsynchronisedWindows() throws {
        var s = SyntheticSignal(sampleRate: 6_400, frequency: 50)
        s.rms = [0, 0, 0]
        let out = try s.run(seconds: 3)
        XCTAssertFalse(out.basics.isEmpty)
        XCTAssertTrue(out.basics.allSatisfy { $0.quality.contains(.unsynchronised) })
        XCTAssertTrue(out.events.contains { $0.kind == .interruption && $0.incomplete })
        XCTAssertTrue(out.frequencies.allSatisfy { $0.hertz == nil })
    }

    func testFrequencyOutsideTheTrackingRange_isReported() throws {
        let out = try SyntheticSignal(sampleRate: 6_400, frequency: 38).run(seconds: 3)
        XCTAssertFalse(out.basics.isEmpty)
        XCTAssertTrue(out.basics.allSatisfy { !$0.quality.isDisjoint(with: [.frequencyOutOfRange, .unsynchronised]) })
        XCTAssertTrue(out.frequencies.allSatisfy { $0.hertz == nil })
    }

    func testClipping_isFlaggedOnTheWindow() throws {
        let s = SyntheticSignal(sampleRate: 6_400, frequency: 50)
        var config = s.configuration()
        config.channels[0].fullScale = 300  // below the 325 V peak
        let out = try s.run(seconds: 1, configuration: config)
        XCTAssertTrue(out.basics.filter { $0.values != nil }.allSatisfy { $0.quality.contains(.clipped) })
    }

    func testBadConfiguration_andBadBlocks_areErrors() throws {
        let s = SyntheticSignal(sampleRate: 6_400, frequency: 50)
        var config = s.configuration()
        config.sampleRate = 100
        XCTAssertThrowsError(try PowerQualityEngine(configuration: config))
        config = s.configuration()
        config.channels = [ChannelSpec(name: "I1", kind: .current, phase: .l1)]
        XCTAssertThrowsError(try PowerQualityEngine(configuration: config)) {
            XCTAssertTrue("\($0)".contains("voltage channel"))
        }
        let engine = try PowerQualityEngine(configuration: s.configuration())
        XCTAssertThrowsError(try engine.process(SampleBlock(startTime: s.t0, channels: [[1, 2], [1], [3]])))
        XCTAssertThrowsError(try engine.process(SampleBlock(startTime: s.t0, channels: [[1]])))
    }
}
