import Foundation
import Glibc

/// JSON coding of protocol lines, shared by both ends so they agree byte for byte.
public enum Framing {
    /// `value` as one JSON line: keys sorted, `\n`-terminated.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = try encoder.encode(value)
        data.append(0x0A)
        return data
    }

    /// A `type` decoded from one line (without its `\n`).
    public static func decode<T: Decodable>(_ type: T.Type, from line: Data) throws -> T {
        try JSONDecoder().decode(type, from: line)
    }
}

/// The control socket's reads and writes, for both ends (synxctl's client and synxd's server): interrupted
/// system calls are retried, never taken for failures.
public enum SocketIO {
    /// Writes all of `data` to `fd` (MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE). `beforeEachWrite` runs
    /// before every write and may refuse it (a deadline passed). Returns nil once all is written, else the errno of
    /// the failed write (0 when `beforeEachWrite` refused).
    public static func sendAll(_ fd: Int32, _ data: Data, beforeEachWrite: () -> Bool = { true }) -> Int32? {
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                guard beforeEachWrite() else { return 0 }
                let n = send(fd, buf.baseAddress! + off, buf.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                off += n
            }
            return nil
        }
    }

    /// One read of at most `buffer.count` bytes into `buffer`: the count read, 0 at the end of the stream, or -1
    /// with `errno` set (never EINTR).
    public static func receive(_ fd: Int32, into buffer: inout [UInt8]) -> Int {
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            return n
        }
    }
}
