// One fuzz input against the reactor's receive path. Compiled into the test target (which replays every kept
// input in Tests/Fuzz/reply-receiver) and, with the sources it needs, into the libFuzzer binary that
// scripts/fuzz builds.
@testable import SynxModbus

/// Feeds `input` to a `ReplyReceiver` as a pending request and a byte stream cut into chunks; checks that
/// nothing traps, that every reply has the registers asked for, and that all input is consumed or pending.
/// Layout: byte 0 framing (even: MBAP, odd: RTU) and table (bits 1–2: holding, input, coils, discrete inputs);
/// 1–2 transaction; 3 unit; 4 count; then chunks, each a length byte and that many bytes.
func fuzzReplyReceiver(_ input: [UInt8]) {
    guard input.count >= 5 else { return }
    let framing: ModbusFraming = input[0] & 1 == 0 ? .mbap : .rtu
    let table: RegisterTable = [.holding, .input, .coils, .discreteInputs][Int(input[0] >> 1 & 3)]
    let count = Int(input[4] % 125) + 1
    let expected = ReplyReceiver.Expected(
        transaction: UInt16(input[1]) << 8 | UInt16(input[2]), unit: input[3], table: table, count: count)
    var receiver = ReplyReceiver(framing: framing)
    var i = 5
    var fed = 0
    var inFlight = true
    while i < input.count {
        let length = min(Int(input[i]), input.count - i - 1)
        receiver.append(input[(i + 1)..<(i + 1 + length)])
        fed += length
        i += 1 + length
        while let event = receiver.next(expecting: inFlight ? expected : nil) {
            switch event {
            case .reply(.success(let words)):
                precondition(words.count == count, "a reply of \(words.count) registers for \(count)")
                precondition(!table.holdsBits || words.allSatisfy { $0 <= 1 }, "a bit read as more than 0 or 1")
                inFlight = false
            case .reply(.failure):
                inFlight = false
            case .outOfStep:
                receiver.discardPending()
                inFlight = true
            }
        }
        if !inFlight && input[i - 1] & 1 == 0 {
            receiver.discardPending()
            inFlight = true
        }  // the next request
        precondition(receiver.pendingBytes >= 0 && receiver.pendingBytes <= fed)
        precondition(
            receiver.pendingBytes <= 260 + 255, "\(receiver.pendingBytes) bytes pending: a frame is at most 260")
    }
}
