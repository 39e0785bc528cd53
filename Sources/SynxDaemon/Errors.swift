import SynxControl

/// Failures that stop synxd from starting.
enum DaemonError: Error, CustomStringConvertible {
    case startup(String)
    var description: String {
        if case .startup(let s) = self { return s }
        return ""
    }
}

/// Why a control command failed, for the one-line answer: what the request asked cannot be done
/// (`invalidRequest`: a configuration with errors, a meter without samples, an event that is not stored), the
/// data is gone (`dataStale`), or synxd could not read or write what it needed (`internal`: the store, the
/// configuration file, the export directory).
struct CommandFailure: Error {
    var status: ResponseStatus
    var message: String
}
