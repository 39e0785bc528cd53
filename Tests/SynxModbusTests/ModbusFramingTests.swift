import SynxModbus
@testable import SynxModbus
import XCTest

final class ModbusFramingTests: XCTestCase {
    func testCRC_matchesTheSerialLineSpecExample() {
        // Modbus over serial line V1.02 §6.2.2 style vector: 01 03 00 00 00 0A → CRC 0xCDC5, sent C5 CD.
        XCTAssertEqual(ModbusCRC.checksum([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A]), 0xCDC5)
        XCTAssertEqual(ModbusCRC.appending(to: [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A]).suffix(2), [0xC5, 0xCD])
    }

    func testReadReply_decodesBigEndianWords() throws {
        let words = try decodeReadReply([0x04, 4, 0x43, 0x66, 0x00, 0x01], table: .input, count: 2) { ModbusError($0, function: "t") }
        XCTAssertEqual(words, [0x4366, 0x0001])
    }

    func testReadReply_exceptionCarriesItsCode() {
        XCTAssertThrowsError(try decodeReadReply([0x83, 0x02], table: .holding, count: 1) { ModbusError($0, function: "t") }) { error in
            XCTAssertEqual((error as? ModbusError)?.kind, .exception(2))
            XCTAssertEqual((error as? ModbusError)?.reason, "exception 2 (illegal data address)")
        }
    }

    func testReadReply_wrongByteCountIsGarbage() {
        XCTAssertThrowsError(try decodeReadReply([0x03, 2, 0, 1], table: .holding, count: 2) { ModbusError($0, function: "t") }) { error in
            guard case .garbage = (error as? ModbusError)?.kind else { return XCTFail("\(error)") }
        }
    }

    func testLibmodbusErrno_mapsToKinds() {
        let base: Int32 = 112_345_678
        XCTAssertEqual(ModbusRTUClient.kind(forErrno: ETIMEDOUT, returned: -1), .timeout)
        XCTAssertEqual(ModbusRTUClient.kind(forErrno: base + 2, returned: -1), .exception(2))
        XCTAssertEqual(ModbusRTUClient.kind(forErrno: base + 12, returned: -1), .crc)  // EMBBADCRC
        guard case .garbage = ModbusRTUClient.kind(forErrno: base + 13, returned: -1) else { return XCTFail() }  // EMBBADDATA
    }

    func testErrorDescription_namesFunctionUnitAndAddress() {
        let e = ModbusError(.timeout, function: "read_input_registers", unit: 3, address: 42)
        XCTAssertEqual(e.description, "read_input_registers unit 3 @42: timeout")
        XCTAssertTrue(e.isRetryable)
        XCTAssertFalse(ModbusError(.exception(2), function: "x").isRetryable)
    }

    func testTCPClient_unreachablePortIsAConnectionError() {
        // Port 1 on loopback: nothing listens, the kernel refuses at once.
        let client = ModbusTCPClient(host: "127.0.0.1", port: 1, timeoutMilliseconds: 500)
        XCTAssertThrowsError(try client.readRegisters(.holding, unit: 1, address: 0, count: 1)) { error in
            guard case .connection(let what) = (error as? ModbusError)?.kind else { return XCTFail("\(error)") }
            XCTAssertTrue(what.contains("refused"), what)
        }
    }
}
