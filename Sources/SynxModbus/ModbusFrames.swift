/// Building requests and parsing replies of the read functions 1 to 4, for the two framings synx speaks
/// on a byte stream: MBAP (Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1) and RTU
/// (Modbus over serial line V1.02 §2.5.1). Pure functions over byte buffers, so they are tested alone.
public enum ModbusFraming: Sendable {
    case mbap, rtu

    /// The request frame reading `count` registers at `address` of `unit`.
    public func readRequest(transaction: UInt16, unit: UInt8, table: RegisterTable, address: Int, count: Int) -> [UInt8]
    {
        let pdu: [UInt8] = [
            table.rawValue, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF),
        ]
        switch self {
        case .mbap: return [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, 0, 6, unit] + pdu
        case .rtu: return ModbusCRC.appending(to: [unit] + pdu)
        }
    }
}

/// What the start of a receive buffer holds.
public enum ReplyParse: Equatable {
    /// Not a whole frame yet.
    case incomplete
    /// A whole frame of `length` bytes: its transaction id (MBAP; 0 for RTU), unit and PDU.
    case frame(length: Int, transaction: UInt16, unit: UInt8, pdu: [UInt8])
    /// Bytes that cannot be a reply; the stream is out of step.
    case invalid(ModbusError.Kind)
}

extension ModbusFraming {
    /// Parses the reply at the start of `buffer`. RTU frames carry no length of their own, so the expected
    /// request (`table`) tells an exception frame from a data frame.
    public func parseReply(_ buffer: ArraySlice<UInt8>, table: RegisterTable) -> ReplyParse {
        let b = buffer
        let s = b.startIndex
        switch self {
        case .mbap:
            guard b.count >= 7 else { return .incomplete }
            let protocolID = UInt16(b[s + 2]) << 8 | UInt16(b[s + 3])
            let length = Int(b[s + 4]) << 8 | Int(b[s + 5])
            guard protocolID == 0, (2...254).contains(length) else {
                return .invalid(.garbage("bad MBAP header (protocol \(protocolID), length \(length))"))
            }
            guard b.count >= 6 + length else { return .incomplete }
            return .frame(
                length: 6 + length, transaction: UInt16(b[s]) << 8 | UInt16(b[s + 1]), unit: b[s + 6],
                pdu: Array(b[(s + 7)..<(s + 6 + length)]))
        case .rtu:
            guard b.count >= 3 else { return .incomplete }
            let length = b[s + 1] == table.rawValue | 0x80 ? 5 : 5 + Int(b[s + 2])
            guard b.count >= length else { return .incomplete }
            let frame = b[s..<(s + length)]
            let crc = UInt16(frame[s + length - 2]) | UInt16(frame[s + length - 1]) << 8
            guard crc == ModbusCRC.checksum(frame.dropLast(2)) else { return .invalid(.crc) }
            return .frame(length: length, transaction: 0, unit: b[s], pdu: Array(frame[(s + 1)..<(s + length - 2)]))
        }
    }
}

/// Decodes the PDU of a reply to function 1, 2, 3 or 4 (Modbus application protocol §6.1–§6.4, §7); bits come
/// back as registers of 0 or 1, the first bit of the request first.
public func decodeReadReply(_ pdu: [UInt8], table: RegisterTable, count: Int) -> Result<[UInt16], ModbusError.Kind> {
    guard let function = pdu.first else { return .failure(.garbage("empty PDU")) }
    if function == table.rawValue | 0x80 {
        guard pdu.count == 2 else { return .failure(.garbage("exception reply of \(pdu.count) bytes")) }
        return .failure(ModbusError.isValidException(pdu[1]) ? .exception(pdu[1]) : .invalidException(pdu[1]))
    }
    guard function == table.rawValue else { return .failure(.garbage("function \(function) in reply")) }
    if table.holdsBits {
        // §6.1: N = count / 8 rounded up bytes, the first bit in the least significant bit of the first byte.
        let bytes = (count + 7) / 8
        guard pdu.count >= 2, Int(pdu[1]) == bytes, pdu.count == 2 + bytes else {
            return .failure(.garbage("byte count \(pdu.count >= 2 ? Int(pdu[1]) : -1) for \(count) bits"))
        }
        return .success((0..<count).map { UInt16(pdu[2 + $0 / 8] >> UInt8($0 % 8) & 1) })
    }
    guard pdu.count >= 2, Int(pdu[1]) == 2 * count, pdu.count == 2 + 2 * count else {
        return .failure(.garbage("byte count \(pdu.count >= 2 ? Int(pdu[1]) : -1) for \(count) registers"))
    }
    return .success((0..<count).map { UInt16(pdu[2 + 2 * $0]) << 8 | UInt16(pdu[3 + 2 * $0]) })
}
