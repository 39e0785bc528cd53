import Foundation
import Glibc
import SynxControl
import SynxSystem

/// The accept loop the control and metrics servers share: it waits on a listening socket and on a wake pipe that
/// `stop` writes to, hands each connection (close-on-exec) to its server, and when accepting fails for want of
/// descriptors or memory — the listening socket then stays readable — reports it and waits 200 ms instead of
/// spinning.
final class ConnectionListener: @unchecked Sendable {
    private let listenFD: Int32
    private var wakePipe: [Int32] = [-1, -1]
    private let finished = DispatchSemaphore(value: 0)

    /// A loop over `listenFD` (bound and listening; the listener closes it when it stops).
    init(listenFD: Int32) throws {
        self.listenFD = listenFD
        guard pipe(&wakePipe) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listenFD)
            throw DaemonError.startup("pipe: \(reason)")
        }
        wakePipe.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
    }

    /// Accepts on a thread named `thread` until `stop`: `accepted` gets each connection, `failed` each errno of an
    /// accept that failed for want of resources.
    func start(
        thread: String, nice: Int32 = 0, failed: @escaping (Int32) -> Void, accepted: @escaping (Int32) -> Void
    ) {
        startThread(named: thread, nice: nice) { [self] in
            loop(failed: failed, accepted: accepted)
            finished.signal()
        }
    }

    /// Ends the loop, waits for its thread, and closes the listening socket and the pipe.
    func stop() {
        var b: UInt8 = 1
        _ = write(wakePipe[1], &b, 1)
        finished.wait()
        close(listenFD)
        close(wakePipe[0])
        close(wakePipe[1])
    }

    private func loop(failed: (Int32) -> Void, accepted: (Int32) -> Void) {
        while true {
            var fds = [
                pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0),
            ]
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let client = accept(listenFD, nil, nil)
            guard client >= 0 else {
                let error = errno
                if [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error) {
                    failed(error)
                    var wake = [pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)]
                    if poll(&wake, 1, 200) > 0 { return }
                }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            accepted(client)
        }
    }
}

/// Deadlines on a connection's reads and writes, as both servers set them.
enum SocketDeadline {
    /// Sets `option` (`SO_RCVTIMEO`, `SO_SNDTIMEO`) of `fd` to `milliseconds`; false if it cannot be set.
    static func set(_ fd: Int32, _ option: Int32, milliseconds: Int64) -> Bool {
        var tv = timeval(tv_sec: Int(milliseconds / 1000), tv_usec: Int(milliseconds % 1000) * 1000)
        return setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0
    }

    /// Sends all of `data` on `fd` within `seconds`; false if the peer did not take it in time.
    static func send(_ fd: Int32, _ data: Data, withinSeconds seconds: Int64) -> Bool {
        let deadline = monotonicMilliseconds() + seconds * 1000
        return SocketIO.sendAll(fd, data) {
            let left = deadline - monotonicMilliseconds()
            return left > 0 && set(fd, SO_SNDTIMEO, milliseconds: left)
        } == nil
    }
}
