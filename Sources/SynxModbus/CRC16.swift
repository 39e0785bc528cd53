/// The CRC-16 of Modbus/RTU frames (Modbus over serial line V1.02 §6.2.2: polynomial 0xA001 reflected,
/// initial 0xFFFF), sent low byte first.
public enum ModbusCRC {
    /// The Modbus CRC-16 of `bytes` (serial line spec §6.2.2: polynomial 0xA001, initial 0xFFFF), low byte first on the
    /// wire.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var crc: UInt16 = 0xFFFF
        for b in bytes {
            crc ^= UInt16(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        }
        return crc
    }

    /// `frame` with its CRC appended.
    public static func appending(to frame: [UInt8]) -> [UInt8] {
        let c = checksum(frame)
        return frame + [UInt8(c & 0xFF), UInt8(c >> 8)]
    }
}
