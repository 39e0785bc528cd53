import XCTest

@testable import SynxMeters

/// Every field of the capability block is checked against its documented range before use.
final class WaveformInterfaceTests: XCTestCase {
    private let good = WaveformInterface(
        channels: [
            .init(kind: .voltage, phase: 1, scale: 0.02), .init(kind: .voltage, phase: 2, scale: 0.02),
            .init(kind: .voltage, phase: 3, scale: 0.02), .init(kind: .current, phase: 1, scale: 0.001),
        ],
        samplesPerBlock: 20, sampleRate: 6400, nominalFrequency: 50, fifoDepth: 256,
        epochMicroseconds: 1_700_000_000_000_000)

    private func rejection(_ change: (inout [UInt16]) -> Void) -> String? {
        var r = good.capability(newest: 5)
        change(&r)
        do {
            _ = try WaveformInterface(capability: r)
            return nil
        } catch { return "\(error)" }
    }

    func testGoodBlock_roundTrips() throws {
        XCTAssertEqual(try WaveformInterface(capability: good.capability(newest: 5)), good)
    }

    func testLies_areRejectedWithTheField() {
        let cases: [(String, (inout [UInt16]) -> Void)] = [
            (
                "sample rate 0 S/s",
                {
                    $0[4] = 0
                    $0[5] = 0
                }
            ),
            (
                "sample rate 4294967295 S/s",
                {
                    $0[4] = 0xFFFF
                    $0[5] = 0xFFFF
                }
            ),
            (
                "channel 1 has scale nan",
                {
                    $0[22] = 0x7FC0
                    $0[23] = 0
                }
            ),
            (
                "channel 1 has scale inf",
                {
                    $0[22] = 0x7F80
                    $0[23] = 0
                }
            ),
            (
                "channel 1 has scale 0.0",
                {
                    $0[22] = 0
                    $0[23] = 0
                }
            ),
            ("channels 1 and 2 measure the same voltage of phase 1", { $0[25] = 1 }),
            (
                "no phase voltage channel",
                {
                    for c in 0..<3 {
                        $0[20 + 4 * c] = 1
                        $0[21 + 4 * c] = UInt16(c + 2)
                    }
                }
            ),
            ("no synx waveform interface here", { $0[0] = 0 }),
            ("interface version 2", { $0[1] = 2 }),
            ("0 channels", { $0[2] = 0 }),
            ("9 channels", { $0[2] = 9 }),
            ("does not fit one read", { $0[3] = 0 }),
            ("does not fit one read", { $0[3] = 200 }),
            ("FIFO depth 1 does not fit", { $0[7] = 1 }),
            ("FIFO depth 65535 does not fit", { $0[7] = 65535 }),
            ("channel 1 has kind 0 / phase 5", { $0[21] = 5 }),
            ("channel 1 has kind 7", { $0[20] = 7 }),
            ("nominal frequency 55 Hz", { $0[6] = 55 }),
        ]
        for (expected, change) in cases {
            let why = rejection(change)
            XCTAssertTrue(why?.contains(expected) == true, "expected «\(expected)», got «\(why ?? "accepted")»")
        }
    }

    func testClock_farFromTheHost_isRejected_withoutTrapping() throws {
        let host = Double(good.epochMicroseconds) / 1e6 + 100
        XCTAssertNoThrow(try good.checkClock(newest: 5, hostSeconds: host))
        for epoch: UInt64 in [.max, 1 << 63, 253_402_300_799_000_000, 0] {
            var w = good
            w.epochMicroseconds = epoch
            XCTAssertThrowsError(try w.checkClock(newest: 5, hostSeconds: host)) {
                XCTAssertTrue("\($0)".contains("from the host's clock"), "\($0)")
            }
        }
    }

    func testSlot_ofAnotherBlock_isNotDecoded() {
        var slot = [UInt16](repeating: 0, count: good.blockLength)
        slot[1] = 7
        slot[2] = UInt16(bitPattern: -100)
        XCTAssertNil(good.samples(ofSlot: slot, sequence: 8))
        XCTAssertNil(good.samples(ofSlot: Array(slot.dropLast()), sequence: 7))
        let channels = good.samples(ofSlot: slot, sequence: 7)
        XCTAssertEqual(channels?.count, 4)
        XCTAssertEqual(channels?[0][0] ?? 0, -2, accuracy: 1e-6)
    }
}
