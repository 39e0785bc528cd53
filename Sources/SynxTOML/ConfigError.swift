/// A configuration or profile file that cannot be used, with where and why.
///
/// Printed as `FILE:LINE: KEY: what is wrong`, the form editors and compilers use, so an engineer can jump
/// straight to the line.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    /// An error in `file`, at `line` and `key` when known.
    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let key { s += "\(key): " }
        return s + message
    }
}
