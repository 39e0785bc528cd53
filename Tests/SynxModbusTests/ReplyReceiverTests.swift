import XCTest

@testable import SynxModbus

/// The receive side of a connection: only the reply to the request in flight is ever taken as its reply.
final class ReplyReceiverTests: XCTestCase {
    private func mbapReply(transaction: UInt16, unit: UInt8 = 1, words: [UInt16]) -> [UInt8] {
        let pdu: [UInt8] = [3, UInt8(2 * words.count)] + words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        return [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, 0, UInt8(pdu.count + 1), unit] + pdu
    }

    private func rtuReply(unit: UInt8, words: [UInt16]) -> [UInt8] {
        ModbusCRC.appending(
            to: [unit, 3, UInt8(2 * words.count)] + words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })
    }

    func testFramesWithOtherTransactionIDs_areDroppedAndCounted_theMatchingOneIsTheReply() {
        var r = ReplyReceiver(framing: .mbap)
        for id in 1...20 { r.append(mbapReply(transaction: UInt16(id), words: [998])) }
        r.append(mbapReply(transaction: 0x4242, words: [230]))
        let e = ReplyReceiver.Expected(transaction: 0x4242, unit: 1, table: .holding, count: 1)
        XCTAssertEqual(r.next(expecting: e), .reply(.success([230])))
        XCTAssertEqual(r.strayFrames, 20)
        XCTAssertNil(r.next(expecting: e))
    }

    func testSeveralRequestsInFlight_repliesInAnyOrder_eachGoesToItsRequest() {
        var r = ReplyReceiver(framing: .mbap)
        let expected = [
            ReplyReceiver.Expected(transaction: 0x1111, unit: 1, table: .holding, count: 1),
            ReplyReceiver.Expected(transaction: 0x2222, unit: 2, table: .holding, count: 2),
            ReplyReceiver.Expected(transaction: 0x3333, unit: 3, table: .holding, count: 1),
        ]
        r.append(mbapReply(transaction: 0x3333, unit: 3, words: [3]))
        r.append(mbapReply(transaction: 0x7777, unit: 1, words: [998]))  // nobody's
        r.append(mbapReply(transaction: 0x1111, unit: 1, words: [1]))
        r.append(mbapReply(transaction: 0x2222, unit: 1, words: [5, 6]))  // the right id from the wrong unit
        let first = r.next(expectingAny: expected)
        XCTAssertEqual(first?.index, 2)
        XCTAssertEqual(first?.event, .reply(.success([3])))
        let second = r.next(expectingAny: expected)
        XCTAssertEqual(second?.index, 0, "the stray frame between was dropped")
        XCTAssertEqual(second?.event, .reply(.success([1])))
        let third = r.next(expectingAny: expected)
        XCTAssertEqual(third?.index, 1)
        XCTAssertEqual(third?.event, .reply(.failure(.garbage("reply from unit 1"))))
        XCTAssertEqual(r.strayFrames, 1)
        XCTAssertNil(r.next(expectingAny: expected))
    }

    func testWhatArrivedBeforeTheRequest_isDiscarded() {
        var r = ReplyReceiver(framing: .mbap)
        r.append(mbapReply(transaction: 7, words: [998]))
        r.discardPending()
        XCTAssertEqual(r.pendingBytes, 0)
        XCTAssertEqual(r.strayFrames, 1)
        XCTAssertNil(r.next(expecting: .init(transaction: 7, unit: 1, table: .holding, count: 1)))
    }

    func testAFloodOfUnsolicitedFrames_isConsumedWhole_andLeavesNothingBehind() {
        // 11 MB of frames in one piece: consumed by moving an index, this is quick; by shifting the buffer for
        // every frame (as the reactor once did) it would move about 6e13 bytes and never finish.
        var r = ReplyReceiver(framing: .mbap)
        let frame = mbapReply(transaction: 0xBEEF, words: [1])
        var flood = [UInt8]()
        flood.reserveCapacity(frame.count * 1_000_000)
        for _ in 0..<1_000_000 { flood += frame }
        r.append(flood)
        XCTAssertNil(r.next(expecting: nil))
        XCTAssertEqual(r.strayFrames, 1_000_000)
        XCTAssertEqual(r.pendingBytes, 0)
    }

    func testSplitReply_waitsForTheRest() {
        var r = ReplyReceiver(framing: .mbap)
        let whole = mbapReply(transaction: 9, words: [1, 2])
        let e = ReplyReceiver.Expected(transaction: 9, unit: 1, table: .holding, count: 2)
        r.append(whole.prefix(5))
        XCTAssertNil(r.next(expecting: e))
        r.append(whole.dropFirst(5))
        XCTAssertEqual(r.next(expecting: e), .reply(.success([1, 2])))
    }

    func testRTU_anotherUnitsLateReply_isStray_andTheRightUnitsReplyIsTaken() {
        var r = ReplyReceiver(framing: .rtu)
        r.append(rtuReply(unit: 2, words: [999]))
        r.append(rtuReply(unit: 1, words: [230]))
        XCTAssertEqual(
            r.next(expecting: .init(transaction: 0, unit: 1, table: .holding, count: 1)), .reply(.success([230])))
        XCTAssertEqual(r.strayFrames, 1)
    }

    func testRTU_bytesWithNoRequestInFlight_areDropped() {
        var r = ReplyReceiver(framing: .rtu)
        r.append([1, 2, 3, 4, 5])
        XCTAssertNil(r.next(expecting: nil))
        XCTAssertEqual(r.pendingBytes, 0)
        XCTAssertEqual(r.strayFrames, 1)
    }

    func testBadHeader_putsTheStreamOutOfStep() {
        var r = ReplyReceiver(framing: .mbap)
        r.append([0, 1, 0x12, 0x34, 0, 6, 1, 3, 2, 0, 0, 0])
        guard case .outOfStep(.garbage) = r.next(expecting: .init(transaction: 1, unit: 1, table: .holding, count: 1))
        else {
            return XCTFail()
        }
    }

    func testExceptionCodesOutside1to11_areInvalidExceptions() {
        XCTAssertEqual(decodeReadReply([0x83, 0], table: .holding, count: 1), .failure(.invalidException(0)))
        XCTAssertEqual(decodeReadReply([0x83, 12], table: .holding, count: 1), .failure(.invalidException(12)))
        XCTAssertEqual(decodeReadReply([0x83, 2], table: .holding, count: 1), .failure(.exception(2)))
        XCTAssertEqual(
            ModbusError(.invalidException(0), function: "read_registers").reason, "invalid exception reply (code 0)")
        XCTAssertFalse(ModbusError(.invalidException(0), function: "f").needsReconnect)
    }
}
