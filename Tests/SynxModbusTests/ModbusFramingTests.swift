import SynxSystem
import XCTest

@testable import SynxModbus

final class ModbusFramingTests: XCTestCase {
    func testCRC_matchesTheSerialLineSpecExample() {
        // Modbus over serial line V1.02 §6.2.2 style vector: 01 03 00 00 00 0A → CRC 0xCDC5, sent C5 CD.
        XCTAssertEqual(ModbusCRC.checksum([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A]), 0xCDC5)
        XCTAssertEqual(ModbusCRC.appending(to: [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A]).suffix(2), [0xC5, 0xCD])
    }

    func testReadReply_decodesBigEndianWords() {
        XCTAssertEqual(
            decodeReadReply([0x04, 4, 0x43, 0x66, 0x00, 0x01], table: .input, count: 2), .success([0x4366, 0x0001]))
    }

    func testReadReply_exceptionCarriesItsCode() {
        XCTAssertEqual(decodeReadReply([0x83, 0x02], table: .holding, count: 1), .failure(.exception(2)))
        XCTAssertEqual(ModbusError(.exception(2), function: "x").reason, "exception 2 (illegal data address)")
    }

    /// Modbus application protocol §6.1's example: coils 20–38 (19 bits) read as CD 6B 05, the first bit in the
    /// least significant bit of the first byte.
    func testBitReply_decodesTheSpecExample_firstBitInTheLowestBit() {
        let bits = try? decodeReadReply([0x01, 0x03, 0xCD, 0x6B, 0x05], table: .coils, count: 19).get()
        XCTAssertEqual(bits, [1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1])
        XCTAssertEqual(try? decodeReadReply([0x02, 0x01, 0x80], table: .discreteInputs, count: 8).get(), [0, 0, 0, 0, 0, 0, 0, 1])
        if case .failure(.garbage) = decodeReadReply([0x01, 0x02, 0xCD, 0x6B], table: .coils, count: 19) {} else {
            XCTFail("a byte short for 19 bits is garbage")
        }
        XCTAssertEqual(decodeReadReply([0x82, 0x02], table: .discreteInputs, count: 1), .failure(.exception(2)))
        XCTAssertEqual(
            ModbusFraming.rtu.parseReply([0x07, 0x81, 0x02, 0x00, 0x00][...], table: .coils), .invalid(.crc),
            "an exception frame of function 1 is 5 bytes")
    }

    func testReadReply_wrongByteCountIsGarbage() {
        guard case .failure(.garbage) = decodeReadReply([0x03, 2, 0, 1], table: .holding, count: 2) else {
            return XCTFail()
        }
    }

    func testMBAPRequest_andReplyParsing() {
        XCTAssertEqual(
            ModbusFraming.mbap.readRequest(transaction: 0x0102, unit: 7, table: .input, address: 0x30, count: 2),
            [0x01, 0x02, 0, 0, 0, 6, 7, 4, 0x00, 0x30, 0, 2])
        let reply: [UInt8] = [0x01, 0x02, 0, 0, 0, 7, 7, 4, 4, 0x43, 0x66, 0, 0]
        XCTAssertEqual(ModbusFraming.mbap.parseReply(reply[..<9], table: .input), .incomplete)
        XCTAssertEqual(
            ModbusFraming.mbap.parseReply((reply + [0xAA])[...], table: .input),
            .frame(length: 13, transaction: 0x0102, unit: 7, pdu: [4, 4, 0x43, 0x66, 0, 0]))
        guard
            case .invalid(.garbage) = ModbusFraming.mbap.parseReply(
                [0x01, 0x02, 0x12, 0x34, 0, 7, 7][...], table: .input)
        else { return XCTFail() }
    }

    func testRTUReply_checksItsCRC() {
        let frame = ModbusCRC.appending(to: [5, 3, 2, 0x12, 0x34])
        XCTAssertEqual(
            ModbusFraming.rtu.parseReply(frame[...], table: .holding),
            .frame(length: 7, transaction: 0, unit: 5, pdu: [3, 2, 0x12, 0x34]))
        var bad = frame
        bad[6] ^= 0xFF
        XCTAssertEqual(ModbusFraming.rtu.parseReply(bad[...], table: .holding), .invalid(.crc))
        let exception = ModbusCRC.appending(to: [5, 0x83, 2])
        XCTAssertEqual(
            ModbusFraming.rtu.parseReply(exception[...], table: .holding),
            .frame(length: 5, transaction: 0, unit: 5, pdu: [0x83, 2]))
    }

    func testLibmodbusErrno_mapsToKinds() {
        let base: Int32 = 112_345_678
        XCTAssertEqual(LibmodbusClient.kind(forErrno: ETIMEDOUT, returned: -1), .timeout)
        XCTAssertEqual(LibmodbusClient.kind(forErrno: base + 2, returned: -1), .exception(2))
        XCTAssertEqual(LibmodbusClient.kind(forErrno: base + 12, returned: -1), .crc)  // EMBBADCRC
        guard case .garbage = LibmodbusClient.kind(forErrno: base + 13, returned: -1) else { return XCTFail() }  // EMBBADDATA
    }

    func testErrorDescription_namesFunctionUnitAndAddress() {
        let e = ModbusError(.timeout, function: "read_input_registers", unit: 3, address: 42)
        XCTAssertEqual(e.description, "read_input_registers unit 3 @42: timeout")
        XCTAssertTrue(e.isRetryable)
        XCTAssertFalse(ModbusError(.exception(2), function: "x").isRetryable)
    }

    func testReactor_unreachablePortIsAConnectionError_andTimersRun() throws {
        let reactor = try ModbusTCPReactor()
        // Port 1 on loopback: nothing listens, the kernel refuses at once.
        let id = reactor.addConnection(
            host: "127.0.0.1", port: 1, timing: BusTiming(timeoutMilliseconds: 500, retries: 2, frameGapMilliseconds: 0)
        )
        let done = expectation(description: "completion")
        let timer = expectation(description: "timer")
        var outcome: Result<[UInt16], ModbusError>?
        reactor.post {
            reactor.submit(id, .holding, unit: 1, address: 0, count: 1) {
                outcome = $0
                done.fulfill()
            }
            reactor.schedule(atWallClock: wallClockNow() + 20) { timer.fulfill() }
        }
        let thread = Thread { reactor.run() }
        thread.start()
        wait(for: [done, timer], timeout: 5)
        reactor.stop()
        guard case .failure(let e) = outcome, case .connection(let what) = e.kind else {
            return XCTFail("\(String(describing: outcome))")
        }
        XCTAssertTrue(what.contains("refused"), what)
        XCTAssertEqual(e.function, "connect")
    }

    func testReactor_readPastTheRegisterSpace_failsWithoutBeingSent() throws {
        let reactor = try ModbusTCPReactor()
        let id = reactor.addConnection(
            host: "127.0.0.1", port: 1, timing: BusTiming(timeoutMilliseconds: 500, retries: 0, frameGapMilliseconds: 0)
        )
        let done = expectation(description: "completion")
        var outcome: Result<[UInt16], ModbusError>?
        reactor.post {
            reactor.submit(id, .holding, unit: 1, address: 65537, count: 105) {
                outcome = $0
                done.fulfill()
            }
        }
        let thread = Thread { reactor.run() }
        thread.start()
        wait(for: [done], timeout: 5)
        reactor.stop()
        guard case .failure(let e) = outcome, case .garbage(let what) = e.kind else {
            return XCTFail("\(String(describing: outcome))")
        }
        XCTAssertTrue(what.contains("outside the register space"), what)
    }

    func testTimerHeap_popsInTimeOrder() {
        var heap = TimerHeap<Int>()
        for (i, t) in [50, 10, 40, 10, 30].enumerated() { heap.insert(i, at: Int64(t)) }
        var order: [Int] = []
        while let x = heap.popDue(100) { order.append(x) }
        XCTAssertEqual(order, [1, 3, 4, 2, 0])
        XCTAssertNil(heap.popDue(100))
    }
}
