/// Failures that stop synxd from starting.
enum DaemonError: Error, CustomStringConvertible {
    case startup(String)
    var description: String { if case .startup(let s) = self { return s }; return "" }
}

/// Why a control command failed (a rejected reload: the configuration error with file and line; an export
/// that cannot be made), for the one-line answer.
struct CommandFailure: Error {
    var message: String
}
