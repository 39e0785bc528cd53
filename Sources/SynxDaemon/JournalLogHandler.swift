import CSystemd
import Foundation
import Glibc
import Logging

/// A swift-log handler writing native journal entries with sd_journal_sendv(3): MESSAGE, PRIORITY,
/// SYSLOG_IDENTIFIER=synxd, CODE_FILE/CODE_LINE/CODE_FUNC, and every metadata key as a field — the known ones
/// under their synx names (`meter` → SYNX_METER, `message_id` → MESSAGE_ID, …), the others as SYNX_<KEY>.
/// Entries with a MESSAGE_ID are explained by the catalog (`systemd/synx.catalog`, `journalctl -x`).
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let identifier: String

    /// A handler that writes entries with SYSLOG_IDENTIFIER `identifier`.
    public init(identifier: String = "synxd") { self.identifier = identifier }

    /// Whether standard error is the journal (systemd sets JOURNAL_STREAM to its device:inode), so native
    /// entries should be written instead of text lines.
    public static var standardErrorIsJournal: Bool {
        guard let stream = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] else { return false }
        var st = stat()
        guard fstat(STDERR_FILENO, &st) == 0 else { return false }
        return stream == "\(st.st_dev):\(st.st_ino)"
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one entry to the journal: the message, its priority, source location and metadata as fields.
    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        var fields = [
            "MESSAGE=\(message)", "PRIORITY=\(Self.priority(level))", "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(file)", "CODE_LINE=\(line)", "CODE_FUNC=\(function)",
        ]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) {
            fields.append("\(Self.fieldName(key))=\(value)")
        }
        Self.send(fields)
    }

    /// Sends one entry made of `FIELD=value` strings.
    static func send(_ fields: [String]) {
        let strings = fields.map { strdup($0)! }
        defer { strings.forEach { free($0) } }
        var vectors = strings.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0)) }
        _ = sd_journal_sendv(&vectors, Int32(vectors.count))
    }

    /// syslog(3) priorities.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Journal field names are upper-case letters, digits and underscores, not starting with one.
    static func fieldName(_ key: String) -> String {
        if key == "message_id" { return "MESSAGE_ID" }
        let name = String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        return "SYNX_" + name
    }
}
