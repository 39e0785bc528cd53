import Glibc
import SynxSystem

/// Settings every bus has: how long to wait, how often to retry, and the silence between requests.
public struct BusTiming: Equatable, Sendable {
    public var timeoutMilliseconds: Int
    /// How many times a timed-out or corrupted request is sent again (exceptions are never retried).
    public var retries: Int
    /// Silence kept between the end of one transaction and the next request (some meters need ≥ 100 ms).
    public var frameGapMilliseconds: Int

    /// Timing with every field as given.
    public init(timeoutMilliseconds: Int, retries: Int, frameGapMilliseconds: Int) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retries = retries
        self.frameGapMilliseconds = frameGapMilliseconds
    }
}

/// One request at a time on one link, with the configured retries and inter-frame gap.
///
/// A bus is owned by one thread: it is not safe to share.
public final class ModbusBus {
    public let transport: ModbusTransport
    public let timing: BusTiming
    private var lastTransactionEnd: Int64 = 0

    /// A bus over `transport` with `timing`.
    public init(transport: ModbusTransport, timing: BusTiming) {
        self.transport = transport
        self.timing = timing
    }

    /// Reads registers, retrying what may succeed on a second try: the bus's retries unless given (a probe of a
    /// failing meter uses none).
    public func read(
        _ table: RegisterTable, unit: UInt8, address: Int, count: Int, retries: Int? = nil
    ) throws -> [UInt16] {
        var attempt = 0
        while true {
            keepFrameGap()
            defer { lastTransactionEnd = monotonicMilliseconds() }
            do {
                return try transport.readRegisters(
                    table, unit: unit, address: address, count: count,
                    timeoutMilliseconds: timing.timeoutMilliseconds)
            } catch let error as ModbusError where error.isRetryable && attempt < (retries ?? timing.retries) {
                attempt += 1
            }
        }
    }

    private func keepFrameGap() {
        guard timing.frameGapMilliseconds > 0, lastTransactionEnd > 0 else { return }
        let wait = lastTransactionEnd + Int64(timing.frameGapMilliseconds) - monotonicMilliseconds()
        if wait > 0 { usleep(UInt32(wait * 1000)) }
    }
}
