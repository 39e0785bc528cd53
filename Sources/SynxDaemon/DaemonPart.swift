import Logging
import SynxStore

/// One long-running part of synxd — the store writer, the recorder, the control server, the pollers, the
/// supervisor — built once, started once and stopped once. The contract is swift-service-lifecycle's `Service`
/// carried over to synxd's thread-per-part design: `start` returns once the part runs (its threads started, its
/// socket listening) or throws if it cannot; `stop` returns once the part has finished the work in hand (queued
/// rows committed, finished polls recorded) and its threads have ended.
protocol DaemonPart: AnyObject {
    /// The part's name in the log.
    var partName: String { get }
    /// Starts the part's threads; throws if it cannot run.
    func start() throws
    /// Finishes the work in hand and ends the part's threads.
    func stop()
}

/// Parts started in the order given and stopped in the reverse order, so each part starts after, and stops
/// before, the parts it hands work to (the pollers before the recorder before the store writer). A part that
/// cannot start stops those already started and its error is rethrown.
final class DaemonParts {
    private let parts: [DaemonPart]
    private var started: [DaemonPart] = []
    private let logger: Logger

    init(_ parts: [DaemonPart], logger: Logger) {
        self.parts = parts
        self.logger = logger
    }

    /// Starts every part in order.
    func start() throws {
        for part in parts {
            do {
                try part.start()
            } catch {
                logger.error("cannot start", metadata: ["part": "\(part.partName)", "error": "\(error)"])
                stop()
                throw error
            }
            started.append(part)
            logger.debug("started", metadata: ["part": "\(part.partName)"])
        }
    }

    /// Stops the started parts in reverse order.
    func stop() {
        while let part = started.popLast() {
            part.stop()
            logger.debug("stopped", metadata: ["part": "\(part.partName)"])
        }
    }
}

extension StoreWriter: DaemonPart {
    var partName: String { "store writer" }
}
