import Foundation

/// A one-line progress bar on standard error, shown only when standard error is a terminal.
struct ProgressBar {
    private let total: Int
    private let enabled: Bool
    private var shown = -1

    init(total: Int, enabled: Bool) {
        self.total = max(1, total)
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    mutating func update(_ done: Int) {
        guard enabled else { return }
        let percent = min(100, done * 100 / total)
        guard percent != shown else { return }
        shown = percent
        let width = 40
        let filled = percent * width / 100
        FileHandle.standardError.write(
            Data(
                "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(percent)%"
                    .utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
