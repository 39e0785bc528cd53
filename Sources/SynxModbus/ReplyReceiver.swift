/// The receive side of one Modbus byte stream (a Modbus/TCP or RTU-over-TCP connection): bytes go in as they
/// arrive, and out comes the reply to a request in flight (one on RTU framing; on MBAP as many as the gateway
/// takes, told apart by transaction id) — or nothing, while the bytes are frames no
/// request waits for, which are dropped and counted. Pure (no I/O), so arbitrary byte streams can be fuzzed
/// against it.
///
/// Bytes are consumed by moving an index, not by shifting the buffer, so a peer that floods well-formed frames
/// costs time in proportion to what it sends, not to its square.
public struct ReplyReceiver: Sendable {
    /// The request a reply must match: transaction id (MBAP only), unit, function (from the table) and count.
    public struct Expected: Equatable, Sendable {
        public var transaction: UInt16
        public var unit: UInt8
        public var table: RegisterTable
        public var count: Int
        /// A reply awaited to transaction `transaction` of `unit`: `count` registers of `table`.
        public init(transaction: UInt16, unit: UInt8, table: RegisterTable, count: Int) {
            self.transaction = transaction
            self.unit = unit
            self.table = table
            self.count = count
        }
    }

    /// What the buffered bytes amount to.
    public enum Event: Equatable, Sendable {
        /// The reply to the request in flight: its registers, or why it is no usable reply.
        case reply(Result<[UInt16], ModbusError.Kind>)
        /// Bytes that cannot be a frame: the stream is out of step and must be reopened.
        case outOfStep(ModbusError.Kind)
    }

    /// MBAP (transaction ids) or RTU (none: frames are told apart by unit and CRC).
    public let framing: ModbusFraming
    private var buffer: [UInt8] = []
    private var start = 0
    /// Frames (or, on RTU framing, bursts of bytes) dropped because no request waited for them or they did not
    /// match the one in flight.
    public private(set) var strayFrames = 0
    /// Bytes of those dropped frames.
    public private(set) var strayBytes = 0

    /// An empty receiver for a stream of `framing`.
    public init(framing: ModbusFraming) { self.framing = framing }

    /// Bytes received and not yet consumed.
    public var pendingBytes: Int { buffer.count - start }

    /// Adds received bytes.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start * 2 >= buffer.count {
            buffer.removeFirst(start)  // amortised O(1) per byte: done once the consumed part is the larger half
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Drops whatever is buffered (before a request is sent, nothing received yet can be its reply); counts it
    /// as one stray frame if there was any.
    public mutating func discardPending() {
        guard pendingBytes > 0 else { return }
        drop(pendingBytes, asOneFrame: true)
    }

    /// The next event the buffered bytes make, given the request in flight (nil: none); nil when more bytes are
    /// needed. Call until it returns nil.
    public mutating func next(expecting expected: Expected?) -> Event? {
        next(expectingAny: expected.map { [$0] } ?? [])?.event
    }

    /// The next event the buffered bytes make, given the requests in flight (several only on MBAP framing, where
    /// transaction ids tell their replies apart): the event and, for a reply, which of `expected` it answers;
    /// nil when more bytes are needed. Call until it returns nil.
    public mutating func next(expectingAny expected: [Expected]) -> (index: Int?, event: Event)? {
        while pendingBytes > 0 {
            let view = buffer[start...]
            guard !expected.isEmpty else {
                // No request in flight: RTU bytes cannot be delimited without one, so all of them go; an MBAP frame
                // can, and is dropped whole.
                if framing == .rtu {
                    drop(pendingBytes, asOneFrame: true)
                    return nil
                }
                switch framing.parseReply(view, table: .holding) {
                case .incomplete: return nil
                case .invalid(let kind): return (nil, .outOfStep(kind))
                case .frame(let length, _, _, _):
                    drop(length, asOneFrame: true)
                    continue
                }
            }
            // The request this frame answers, if any: by transaction id on MBAP (its first two bytes).
            var index = 0
            if framing == .mbap, pendingBytes >= 2 {
                let transaction = UInt16(buffer[start]) << 8 | UInt16(buffer[start + 1])
                index = expected.firstIndex { $0.transaction == transaction } ?? 0
            }
            let e = expected[index]
            switch framing.parseReply(view, table: e.table) {
            case .incomplete:
                return nil
            case .invalid(.crc):
                discardPending()
                return (index, .reply(.failure(.crc)))
            case .invalid(let kind):
                return (nil, .outOfStep(kind))
            case .frame(let length, let transaction, let unit, let pdu):
                if framing == .mbap && transaction != e.transaction {
                    drop(length, asOneFrame: true)  // a late reply to an expired request, or a forged one
                    continue
                }
                if framing == .rtu && unit != e.unit {
                    drop(length, asOneFrame: true)  // another unit's late reply on a shared line
                    continue
                }
                start += length
                guard unit == e.unit else { return (index, .reply(.failure(.garbage("reply from unit \(unit)")))) }
                return (index, .reply(decodeReadReply(pdu, table: e.table, count: e.count)))
            }
        }
        return nil
    }

    private mutating func drop(_ count: Int, asOneFrame: Bool) {
        start += count
        strayBytes += count
        if asOneFrame { strayFrames += 1 }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
    }
}
